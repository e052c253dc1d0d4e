"""The CPU demo at several seeds, scored on 256 held-out problems: the table and plot in docs/grpo-on-cpu.md.

Each seed runs ``minireason demo --seed S --n_eval N`` (the base model, pure RL, SFT, SFT then GRPO).
Every seed is scored on the same held-out problems, so stages compare problem by problem:

- each stage's accuracy and format rate, per seed and as mean ± standard deviation over seeds;
- the paired differences "pure RL - base" and "SFT + GRPO - SFT", with 95% bootstrap intervals over
  problems (each problem carrying all its seeds);
- each GRPO arm's training reward, mean of its first five steps against its last five;
- both arms' reward curves, every seed, in one plot.

    python benchmarks/demo_seeds.py                                  # 3 seeds x 256 problems, ~50 min on 2 cores
    python benchmarks/demo_seeds.py --seeds 0 1 --n-eval 128 --docs none
    python benchmarks/demo_seeds.py --model tiny --max_steps 2 ...   # any recipe option is passed on
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

from minireason.demo import BASE, STAGES, moving_average, run_demo
from minireason.reports.evals import correctness
from minireason.reports.markdown import command_line, fill_section, markdown_table
from minireason.stats import mean_std, paired_bootstrap

ARMS = ("pure RL", "SFT then GRPO")  # the demo's two GRPO reward curves


def summarise(runs: dict[int, Path]) -> dict:
    reports = {seed: json.loads((run / "report.json").read_text()) for seed, run in runs.items()}
    stages = {}
    for stage in STAGES:
        accuracy = [reports[seed]["stages"][stage]["accuracy"] for seed in runs]
        formats = [reports[seed]["stages"][stage]["format_rate"] for seed in runs]
        stages[stage] = {"accuracy": accuracy, "accuracy_mean_std": mean_std(accuracy), "format_rate": formats,
                         "format_mean_std": mean_std(formats),
                         "ci95": [reports[seed]["stages"][stage]["ci95"] for seed in runs]}
    paired = {}
    for after, before in (("pure RL", BASE), ("SFT + GRPO", "SFT")):
        paired[f"{after} - {before}"] = paired_bootstrap([correctness(reports[seed], before) for seed in runs],
                                                         [correctness(reports[seed], after) for seed in runs])
    rewards = {}
    for arm in ARMS:
        curves = [[reward for _, reward in reports[seed]["reward_curves"][arm]] for seed in runs]
        rewards[arm] = [{"first5": sum(c[:5]) / len(c[:5]), "last5": sum(c[-5:]) / len(c[-5:])} for c in curves]
    return {"stages": stages, "paired": paired, "rewards": rewards,
            "curves": {arm: {seed: reports[seed]["reward_curves"][arm] for seed in runs} for arm in ARMS},
            "n": reports[next(iter(runs))]["held_out_problems"]}


def plot(curves: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    for (arm, by_seed), colour in zip(curves.items(), ("tab:blue", "tab:orange")):
        for i, (_seed, curve) in enumerate(by_seed.items()):
            steps, rewards = zip(*curve)
            axes.plot(steps, moving_average(rewards, 5), color=colour, alpha=0.8,
                      label=f"{arm} (5-step mean, one line per seed)" if i == 0 else None)
            axes.plot(steps, rewards, "o", color=colour, alpha=0.2, markersize=2)
    axes.set(xlabel="GRPO step", ylabel="mean reward", title="GRPO training reward, SmolLM2-135M, 2 CPU cores")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def markdown(summary: dict, seeds: list[int], command: str, minutes: float, image: str) -> str:
    pct = lambda x: f"{x:.1%}"  # noqa: E731
    lines = [f"Measured {datetime.date.today()} on this machine in {minutes:.0f} min with `{command}`; "
             f"{summary['n']} held-out problems, the same for every seed and stage, greedy decoding.", ""]
    rows = []
    for stage, row in summary["stages"].items():
        (mean, std), (fmean, fstd) = row["accuracy_mean_std"], row["format_mean_std"]
        per_seed = ", ".join(f"{pct(a)} ({pct(lo)}-{pct(hi)})" for a, (lo, hi) in zip(row["accuracy"], row["ci95"]))
        rows.append([stage, f"{pct(mean)} ± {pct(std)}", per_seed, f"{pct(fmean)} ± {pct(fstd)}"])
    lines.append(markdown_table(["stage", "accuracy, mean ± std", "per seed (95% Wilson interval)",
                                 "format rate, mean ± std"], rows, numeric=[False, True, False, True]))
    rows = [[name, f"{diff['mean']:+.1%}", f"{diff['low']:+.1%} to {diff['high']:+.1%}",
             ", ".join(f"{d:+.1%}" for d in diff["per_run"])] for name, diff in summary["paired"].items()]
    lines += ["", markdown_table(["paired difference (same problems, all seeds)", "mean", "95% CI", "per seed"], rows,
                                 numeric=[False, True, False, False])]
    rows = [[arm, ", ".join(f"{r['first5']:.2f} → {r['last5']:.2f}" for r in per_seed)]
            for arm, per_seed in summary["rewards"].items()]
    lines += ["", markdown_table(["GRPO arm", "training reward, first 5 steps → last 5, per seed"], rows)]
    lines += ["", f"![GRPO reward curves, every seed]({image})", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-eval", dest="n_eval", type=int, default=256, help="held-out problems per stage")
    parser.add_argument("--out", default="outputs/demo-seeds")
    parser.add_argument("--docs", default="docs/grpo-on-cpu.md",
                        help="the page whose marked section gets the table and plot ('none': print only)")
    args, overrides = parser.parse_known_args(argv)

    started = time.perf_counter()
    runs = {}
    for seed in args.seeds:
        runs[seed] = Path(args.out) / f"seed{seed}"
        run_demo(runs[seed], ["--seed", str(seed), "--n_eval", str(args.n_eval), *overrides])
    summary = summarise(runs)
    minutes = (time.perf_counter() - started) / 60
    command = command_line("benchmarks/demo_seeds.py", argv)
    image = Path(args.out) / "reward_curves.png"
    if args.docs != "none":
        image = Path(args.docs).parent / "img" / "grpo-on-cpu.png"
    plot(summary["curves"], image)
    text = markdown(summary, args.seeds, command, minutes,
                    str(image.relative_to(Path(args.docs).parent)) if args.docs != "none" else str(image))
    print(text)
    (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=2))
    if args.docs != "none":
        fill_section(args.docs, "demo_seeds", text)
        print(f"wrote {args.docs} and {image}")
    return summary


if __name__ == "__main__":
    main()
