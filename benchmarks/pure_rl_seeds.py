"""Pure RL (R1-Zero) over many seeds: a recipe judged on its mean and its worst seed, never its best.

Trains the pure-RL recipe once per seed, each scored greedily on the same held-out problems, with a held-out
learning curve measured along the way (``--curve_every``; it does not move the run). The base model is scored
once, on the recipe's own prompt. It prints, and writes into the marked section of a docs page:

- per seed: accuracy (95% Wilson interval), format rate, training minutes, and the step at which the format
  and the accuracy took off on the curve;
- over seeds: mean, standard deviation, a Student-t interval, the worst seed, and the targets met or missed;
- "pure RL - base" paired on the same problems (bootstrap over problems, each carrying all seeds);
- the learning curve's mean and range over seeds, as a plot.

    python benchmarks/pure_rl_seeds.py                                  # seeds 0-9 x 256 problems, ~70 min on 2 cores
    python benchmarks/pure_rl_seeds.py --seeds 0 1 --docs none --max_steps 10   # recipe options are passed on
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

from minireason.evaluation import sample_figures
from minireason.recipes import load_recipe, run
from minireason.recipes.data import evaluate_base
from minireason.reports.markdown import command_line, fill_section, markdown_table
from minireason.reports.samples import load_samples
from minireason.stats import mean_std, paired_bootstrap, seed_interval

RECIPE = "smollm2-135m/grpo-arithmetic/cpu"
SECTION = "claim 1, pure RL over seeds"
# Issue 21's bar for pure RL on 2 cores: accuracy >= 30% at 9 seeds of 10, a mean >= 40%, format >= 95% at
# every seed, and training <= 7 minutes a seed.
ACCURACY_FLOOR, SEEDS_OVER_FLOOR, MEAN_TARGET, FORMAT_FLOOR, MINUTES_CAP = 0.30, 0.9, 0.40, 0.95, 7.0
# The curve "takes off" at its first point this far above the base model (accuracy) or at this rate (format).
ACCURACY_LIFT, FORMAT_TAKEOFF = 0.10, 0.90


def takeoff(curve: list[list], column: int, level: float) -> int | None:
    """The first step of ``curve`` (``[step, accuracy, format_rate]`` rows) whose ``column`` reaches ``level``.

    >>> takeoff([[0, 0.1, 0.5], [5, 0.15, 0.95], [10, 0.3, 1.0]], 1, 0.2), takeoff([[0, 0.1, 0.5]], 2, 0.9)
    (10, None)
    """
    return next((row[0] for row in curve if row[column] >= level), None)


def training_minutes(output_dir: Path) -> float:
    """The trainer's own runtime less the held-out curve's evaluations (which a plain run does not pay)."""
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    runtime = next(entry["train_runtime"] for entry in reversed(history) if "train_runtime" in entry)
    return (runtime - sum(entry.get("curve/seconds", 0) for entry in history)) / 60


def base_samples(cfg, out: Path) -> list[dict]:
    """The base model's scored samples on the recipe's prompt, evaluated once and kept under ``out``."""
    path = out / "base" / "eval_samples.jsonl"
    if not path.exists():
        evaluate_base(cfg).save_samples(path)
    return load_samples(path)


def summarise(base: list[dict], runs: dict[int, dict]) -> dict:
    """The figures over seeds; ``runs[seed]`` holds ``samples``, ``curve`` and ``minutes``."""
    base_figures = sample_figures(base)
    per_seed = {}
    for seed, result in runs.items():
        figures = sample_figures(result["samples"])
        curve = result["curve"]
        per_seed[seed] = {**{key: figures[key] for key in ("accuracy", "ci95", "format_rate")},
                          "minutes": result["minutes"], "curve": curve,
                          "format_takeoff": takeoff(curve, 2, FORMAT_TAKEOFF),
                          "accuracy_takeoff": takeoff(curve, 1, curve[0][1] + ACCURACY_LIFT) if curve else None}
    accuracy = [row["accuracy"] for row in per_seed.values()]
    formats = [row["format_rate"] for row in per_seed.values()]
    minutes = [row["minutes"] for row in per_seed.values()]
    over_floor = sum(a >= ACCURACY_FLOOR for a in accuracy)
    mean = mean_std(accuracy)[0]
    targets = [
        [f"accuracy >= {ACCURACY_FLOOR:.0%} at >= {SEEDS_OVER_FLOOR:.0%} of seeds", f"{over_floor} of {len(accuracy)}",
         over_floor >= SEEDS_OVER_FLOOR * len(accuracy)],
        [f"mean accuracy >= {MEAN_TARGET:.0%}", f"{mean:.1%}", mean >= MEAN_TARGET],
        [f"format >= {FORMAT_FLOOR:.0%} at every seed", f"worst {min(formats):.1%}", min(formats) >= FORMAT_FLOOR],
        [f"training <= {MINUTES_CAP:.0f} min a seed", f"worst {max(minutes):.1f} min", max(minutes) <= MINUTES_CAP],
    ]
    return {"base": {key: base_figures[key] for key in ("accuracy", "format_rate", "n")},
            "per_seed": per_seed, "accuracy_mean_std": mean_std(accuracy), "format_mean_std": mean_std(formats),
            "accuracy_over_seeds": seed_interval(accuracy, (0.0, 1.0)), "worst": min(accuracy),
            "paired": paired_bootstrap([[s["correct"] for s in base]] * len(runs),
                                       [[s["correct"] for s in runs[seed]["samples"]] for seed in runs]),
            "targets": targets}


def plot(summary: dict, path: Path) -> None:
    """Held-out accuracy and format rate along training: every seed thin, the mean over seeds thick."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    curves = [row["curve"] for row in summary["per_seed"].values()]
    for column, label, colour in ((1, "accuracy", "tab:blue"), (2, "format rate", "tab:orange")):
        for curve in curves:
            axes.plot([p[0] for p in curve], [p[column] for p in curve], color=colour, alpha=0.25, linewidth=1)
        steps = sorted({p[0] for curve in curves for p in curve})
        means = [sum(p[column] for c in curves for p in c if p[0] == s) / sum(p[0] == s for c in curves for p in c)
                 for s in steps]
        axes.plot(steps, means, color=colour, linewidth=2.5, label=f"{label}, mean of {len(curves)} seeds")
    axes.set(xlabel="GRPO step", ylabel="held-out rate (greedy)", ylim=(0, 1.02),
             title="Pure RL, SmolLM2-135M on 2-digit additions, 2 CPU cores")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def markdown(summary: dict, header: str, image: str) -> str:
    pct = lambda x: f"{x:.1%}"  # noqa: E731
    step = lambda s: "-" if s is None else str(s)  # noqa: E731
    rows = [[seed, pct(r["accuracy"]), f"{pct(r['ci95'][0])} - {pct(r['ci95'][1])}", pct(r["format_rate"]),
             f"{r['minutes']:.1f}", step(r["format_takeoff"]), step(r["accuracy_takeoff"])]
            for seed, r in summary["per_seed"].items()]
    (mean, std), (fmean, fstd) = summary["accuracy_mean_std"], summary["format_mean_std"]
    over, minutes = summary["accuracy_over_seeds"], [r["minutes"] for r in summary["per_seed"].values()]
    rows.append(["mean ± std", f"{pct(mean)} ± {pct(std)}", f"{pct(over['low'])} - {pct(over['high'])} (t, seeds)",
                 f"{pct(fmean)} ± {pct(fstd)}", f"{sum(minutes) / len(minutes):.1f}", "", ""])
    base, paired = summary["base"], summary["paired"]
    lines = [header, "",
             markdown_table(["seed", "accuracy", "95% CI", "format", "training min", "format takes off",
                             "accuracy takes off"], rows, numeric=[False, True, False, True, True, True, True]), "",
             f"Base model on the same prompt and problems: accuracy {pct(base['accuracy'])}, format "
             f"{pct(base['format_rate'])}. Pure RL - base, paired over problems and seeds: {paired['mean']:+.1%} "
             f"(95% CI {paired['low']:+.1%} to {paired['high']:+.1%}). Worst seed: {pct(summary['worst'])}.", "",
             f"Take-off: the first curve point with format >= {FORMAT_TAKEOFF:.0%}, and with accuracy "
             f"{ACCURACY_LIFT * 100:.0f} points above the base model's on the curve's problems ('-': never).", "",
             markdown_table(["target", "measured", "met"],
                            [[name, value, "yes" if met else "**no**"] for name, value, met in summary["targets"]]),
             "", f"![held-out accuracy and format rate along training, every seed]({image})"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default=RECIPE)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--n-eval", dest="n_eval", type=int, default=256, help="held-out problems per seed")
    parser.add_argument("--curve-every", dest="curve_every", type=int, default=10,
                        help="steps between curve points (each costs ~30 s on 2 cores: 64 problems, adapter unmerged)")
    parser.add_argument("--out", default="outputs/pure-rl-seeds")
    parser.add_argument("--docs", default="docs/claims.md",
                        help=f"the page whose section '{SECTION}' gets the table and plot ('none': print only)")
    args, overrides = parser.parse_known_args(argv)

    started, out, runs = time.perf_counter(), Path(args.out), {}
    for seed in args.seeds:
        flags = ["--seed", str(seed), "--n_eval", str(args.n_eval), "--curve_every", str(args.curve_every),
                 "--report_to", "none", "--output_dir", str(out / f"seed{seed}"), *overrides]
        (cfg,) = load_recipe(args.recipe, flags)
        summary = run([cfg])[0]
        runs[seed] = {"samples": load_samples(out / f"seed{seed}" / "eval_samples.jsonl"),
                      "curve": summary["held_out_curve"], "minutes": training_minutes(out / f"seed{seed}")}
    summary = summarise(base_samples(cfg, out), runs)
    command = command_line("benchmarks/pure_rl_seeds.py", argv)
    header = (f"Measured {datetime.date.today()} with `{command}` ({(time.perf_counter() - started) / 60:.0f} min "
              f"this invocation; finished seeds under {args.out} are reused): `{args.recipe}` at seeds "
              f"{args.seeds}, each scored greedily on the same {args.n_eval} held-out problems.")
    image = out / "curves.png" if args.docs == "none" else Path(args.docs).parent / "img" / "pure-rl-seeds.png"
    plot(summary, image)
    text = markdown(summary, header, str(image if args.docs == "none" else image.relative_to(Path(args.docs).parent)))
    print(text)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if args.docs != "none":
        fill_section(args.docs, SECTION, text)
        print(f"wrote {args.docs} and {image}")
    return summary


if __name__ == "__main__":
    main()
