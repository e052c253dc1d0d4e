"""The CPU demo: the R1 story end to end on the embedded SmolLM2-135M, in about 15 minutes.

base model → evaluate → cold-start SFT → GRPO → evaluate, on held-out 2-digit additions,
with a before/after table, a reward curve (PNG), W&B logging (offline without a key) and
a JSON report. ``--pure-rl`` adds the R1-Zero arm: GRPO from the base model, no cold start.
"""

from __future__ import annotations

import json
from pathlib import Path

from minireason.recipes import load_recipe, run
from minireason.recipes.common import evaluate_base

DEMO_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "smollm2-135m" / "sft-then-grpo" / "cpu.yaml"


def _row(name: str, summary: dict) -> str:
    return (f"{name:<22}{summary['accuracy']:>10.1%}{summary['format_rate']:>10.1%}"
            f"{summary['mean_tokens']:>10.1f}")


def plot_rewards(curves: dict[str, list], path: Path) -> None:
    from matplotlib.figure import Figure  # no pyplot: a notebook's or a desktop's backend is left alone

    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    for label, curve in curves.items():
        if curve:
            steps, rewards = zip(*curve)
            axes.plot(steps, rewards, marker="o", label=label)
    axes.set(xlabel="GRPO step", ylabel="mean reward (accuracy + format)", title="GRPO reward, SmolLM2-135M on CPU")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def run_demo(out: str | Path, overrides: list[str] = (), pure_rl: bool = False) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sft_stage, grpo_stage = load_recipe(DEMO_RECIPE, ["--output_dir", str(out), *overrides])

    # 1. The base model on the held-out problems every stage evaluates on.
    print(f"\n[1/3] base model on {sft_stage.n_eval} held-out problems")
    base = evaluate_base(sft_stage)

    # 2. Cold-start SFT, then GRPO from its adapter (R1's recipe).
    print("\n[2/3] cold-start SFT, then GRPO")
    sft_summary, grpo_summary = run([sft_stage, grpo_stage])
    stages = {"base": base.summary(), "after SFT": _eval(sft_summary), "after SFT + GRPO": _eval(grpo_summary)}
    curves = {"SFT then GRPO": grpo_summary["reward_curve"]}

    # 3. Optionally, R1-Zero: GRPO straight from the base model.
    if pure_rl:
        print("\n[3/3] pure RL: GRPO from the base model, no cold start")
        (pure,) = load_recipe(DEMO_RECIPE, ["--output_dir", str(out), *overrides])[1:]
        pure.adapter, pure.output_dir = None, str(out / "pure-rl")
        pure_summary = run([pure])[0]
        stages["pure RL (GRPO only)"] = _eval(pure_summary)
        curves["pure RL"] = pure_summary["reward_curve"]

    plot_rewards(curves, out / "reward_curve.png")
    report = {"model": sft_stage.model, "task": {"name": sft_stage.task, **sft_stage.task_params},
              "held_out_problems": len(base.samples), "stages": stages, "reward_curves": curves,
              "base_samples": base.samples[:8]}
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))

    print(f"\n{'stage':<22}{'accuracy':>10}{'format':>10}{'tokens':>10}")
    for name, summary in stages.items():
        print(_row(name, summary))
    print(f"\nreport: {out / 'report.json'}\nreward curve: {out / 'reward_curve.png'}")
    return report


def _eval(summary: dict) -> dict:
    return {key.removeprefix("eval_"): value for key, value in summary.items() if key.startswith("eval_")}
