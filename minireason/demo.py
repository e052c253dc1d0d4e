"""The CPU demo: R1-Zero and R1 side by side on the embedded SmolLM2-135M, in about 18 minutes on 2 cores.

Four models answer the same held-out 2-digit additions, from the same prompt:

1. the base model;
2. pure RL (R1-Zero): GRPO from the base model with rule-based rewards, no worked traces;
3. a cold-start SFT on worked traces;
4. GRPO continuing from that SFT adapter (R1).

It prints accuracy and format rate with 95% Wilson intervals and the paired difference that GRPO
made after SFT, draws both GRPO reward curves on one plot, logs each stage to W&B (offline without
a key), and writes ``report.json``. The stages are the recipes ``smollm2-135m/grpo-arithmetic/cpu``
and ``smollm2-135m/sft-then-grpo/cpu``; recipe options given as flags apply to both.
"""

from __future__ import annotations

import json
from pathlib import Path

from minireason.evaluation import load_samples, sample_figures
from minireason.recipes import load_recipe, run
from minireason.recipes.data import evaluate_base
from minireason.stats import paired_bootstrap

PURE_RL_RECIPE = "smollm2-135m/grpo-arithmetic/cpu"
R1_RECIPE = "smollm2-135m/sft-then-grpo/cpu"
STAGES = ("base", "pure RL", "SFT", "SFT + GRPO")
# What must match for the four stages to be compared problem by problem.
_SHARED = ("model", "task", "task_params", "prompt_style", "n_eval", "eval_seed")


def demo_stages(out: str | Path, overrides: list[str] = ()) -> tuple:
    """``(pure_rl, sft, sft_then_grpo)`` configs, with ``overrides`` applied to all three."""
    out = Path(out)
    (pure,) = load_recipe(PURE_RL_RECIPE, ["--output_dir", str(out / "pure-rl"), *overrides])
    sft, grpo = load_recipe(R1_RECIPE, ["--output_dir", str(out / "sft-then-grpo"), *overrides])
    for field in _SHARED:
        values = {json.dumps(getattr(stage, field), sort_keys=True) for stage in (pure, sft, grpo)}
        if len(values) > 1:
            raise ValueError(f"the demo's stages must share {field} to be compared, got {sorted(values)}")
    return pure, sft, grpo


def plot_rewards(curves: dict[str, list], path: Path, window: int = 5) -> None:
    """Each arm's mean reward per GRPO step (dots) and its moving average over ``window`` steps (line)."""
    from matplotlib.figure import Figure  # no pyplot: a notebook's or a desktop's backend is left alone

    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    for (label, curve), colour in zip(curves.items(), ("tab:blue", "tab:orange", "tab:green")):
        if not curve:
            continue
        steps, rewards = zip(*curve)
        axes.plot(steps, rewards, "o", color=colour, alpha=0.35, markersize=3)
        axes.plot(steps, moving_average(rewards, window), color=colour, label=f"{label} ({window}-step mean)")
    axes.set(xlabel="GRPO step", ylabel="mean reward (accuracy + 0.1 format + 0.1 partial format)",
             title="GRPO reward, SmolLM2-135M on 2-digit additions, CPU")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def moving_average(values, window: int) -> list[float]:
    """The mean of each value and up to ``window - 1`` before it.

    >>> moving_average([1, 2, 3, 4], 2)
    [1.0, 1.5, 2.5, 3.5]
    """
    return [sum(values[max(0, i - window + 1) : i + 1]) / (i + 1 - max(0, i - window + 1)) for i in range(len(values))]


def run_demo(out: str | Path, overrides: list[str] = ()) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pure, sft, grpo = demo_stages(out, overrides)

    print(f"\n[1/4] the base model on {pure.n_eval} held-out problems")
    base = evaluate_base(pure)
    sample_files = {"base": out / "base" / "eval_samples.jsonl"}
    base.save_samples(sample_files["base"])
    samples = {"base": base.samples}
    print("\n[2/4] pure RL: GRPO from the base model, no cold start (R1-Zero)")
    pure_summary = run([pure])[0]
    print("\n[3/4] cold-start SFT on worked traces")
    run([sft])
    print("\n[4/4] GRPO from the SFT adapter (R1)")
    grpo_summary = run([grpo])[0]
    for name, stage in zip(STAGES[1:], (pure, sft, grpo)):
        sample_files[name] = Path(stage.output_dir) / "eval_samples.jsonl"
        samples[name] = load_samples(sample_files[name])

    stages = {name: sample_figures(samples[name]) for name in STAGES}
    gain = paired_bootstrap([[s["correct"] for s in samples["SFT"]]], [[s["correct"] for s in samples["SFT + GRPO"]]])
    curves = {"pure RL": pure_summary["reward_curve"], "SFT then GRPO": grpo_summary["reward_curve"]}
    plot_rewards(curves, out / "reward_curve.png")
    report = {"model": pure.model, "task": {"name": pure.task, **pure.task_params}, "seed": pure.seed,
              "held_out_problems": pure.n_eval, "stages": stages,
              "grpo_gain_over_sft": {"mean": gain["mean"], "ci95": [gain["low"], gain["high"]]},
              "reward_curves": curves, "samples": {name: rows[:5] for name, rows in samples.items()},
              "sample_files": {name: str(path) for name, path in sample_files.items()}}
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))

    print(f"\n{'stage':<14}{'accuracy':>10}{'95% CI':>18}{'format':>9}{'tokens':>8}")
    for name, figures in stages.items():
        low, high = figures["ci95"]
        print(f"{name:<14}{figures['accuracy']:>10.1%}{f'{low:.1%} - {high:.1%}':>18}"
              f"{figures['format_rate']:>9.1%}{figures['mean_tokens']:>8.1f}")
    print(f"\nGRPO after SFT, paired on the same problems: {gain['mean']:+.1%} "
          f"(95% CI {gain['low']:+.1%} to {gain['high']:+.1%})")
    print(f"pure RL on a 135M model depends on the seed (this run: {pure.seed}); "
          "python benchmarks/demo_seeds.py runs several: docs/grpo-on-cpu.md")
    print(f"report: {out / 'report.json'}\nreward curves: {out / 'reward_curve.png'}")
    return report
