"""The CPU demo: R1-Zero and R1 side by side on the embedded SmolLM2-135M, in about 8 minutes on 2 cores.

The models answer the same held-out 2-digit additions:

1. the base model, on pure RL's prompt (one solved example of the format, then the question);
2. pure RL (R1-Zero): GRPO from the base model with rule-based rewards, no worked traces;
3. the base model again, on the R1 arm's prompt (the question alone), when that prompt differs;
4. a cold-start SFT on worked traces;
5. GRPO continuing from that SFT adapter (R1);
6. with ``zero``: R1-Zero from the instruction alone, pure RL on the SFT arm's prompt (no solved example), with a
   held-out curve that shows where the format and the accuracy take off.

Each arm is compared with the base model on its own prompt: a one-shot prompt alone already lifts the base
model, so pure RL is credited only with what it adds to that. It prints accuracy and format rate with 95%
Wilson intervals and the paired differences that each GRPO stage made, draws both GRPO reward curves on one
plot, logs each stage to W&B (offline without a key), and writes ``report.json``. The stages are the recipes
``smollm2-135m/grpo-arithmetic/cpu``, ``smollm2-135m/sft-then-grpo/cpu`` and, with ``zero``,
``smollm2-135m/grpo-arithmetic-zero/cpu``; recipe options given as flags apply to all.
"""

from __future__ import annotations

import json
from pathlib import Path

from minireason.console import quiet_libraries
from minireason.evaluation import first_samples
from minireason.recipes import load_recipe, run
from minireason.recipes.data import evaluate_base
from minireason.reports.evals import load_run, save_run
from minireason.stats import paired_bootstrap

PURE_RL_RECIPE = "smollm2-135m/grpo-arithmetic/cpu"
R1_RECIPE = "smollm2-135m/sft-then-grpo/cpu"
ZERO_RECIPE = "smollm2-135m/grpo-arithmetic-zero/cpu"
STAGES = ("base (pure RL prompt)", "pure RL", "base (SFT prompt)", "SFT", "SFT + GRPO")
BASE, R1_BASE = STAGES[0], STAGES[2]
ZERO = "R1-Zero (instruction)"  # the optional sixth stage, scored against R1_BASE: the same prompt
ZERO_CURVE_EVERY = 15  # held-out points along the R1-Zero arm (64 problems, 4-7 s each on 2 cores): the take-off plot
# What must match for the stages to be compared problem by problem (each arm keeps its own prompt).
_SHARED = ("model", "task", "task_params", "n_eval", "eval_seed")


def demo_stages(out: str | Path, overrides: list[str] = (), zero: bool = False) -> tuple:
    """``(pure_rl, sft, sft_then_grpo, r1_zero)`` configs, with ``overrides`` applied to all; ``r1_zero`` is None
    unless ``zero``."""
    out = Path(out)
    (pure,) = load_recipe(PURE_RL_RECIPE, ["--output_dir", str(out / "pure-rl"), *overrides])
    sft, grpo = load_recipe(R1_RECIPE, ["--output_dir", str(out / "sft-then-grpo"), *overrides])
    r1_zero = None
    if zero:
        (r1_zero,) = load_recipe(ZERO_RECIPE, ["--output_dir", str(out / "r1-zero"), "--curve_every",
                                               str(ZERO_CURVE_EVERY), *overrides])
        if r1_zero.prompt_style != sft.prompt_style:
            raise ValueError(f"R1-Zero is scored against the base model on the SFT arm's prompt ({sft.prompt_style}), "
                             f"but its prompt is {r1_zero.prompt_style}")
    for field in _SHARED:
        values = {json.dumps(getattr(stage, field), sort_keys=True) for stage in (pure, sft, grpo, r1_zero) if stage}
        if len(values) > 1:
            raise ValueError(f"the demo's stages must share {field} to be compared, got {sorted(values)}")
    return pure, sft, grpo, r1_zero


def plot_rewards(curves: dict[str, list], path: Path, window: int = 5) -> None:
    """Each arm's mean reward per GRPO step (dots) and its moving average over ``window`` steps (line)."""
    from matplotlib.figure import Figure  # no pyplot: a notebook's or a desktop's backend is left alone

    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    for (label, curve), colour in zip(curves.items(), ("tab:blue", "tab:orange", "tab:red")):
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


def moving_average(values: list[float], window: int) -> list[float]:
    """The mean of each value and up to ``window - 1`` before it.

    >>> moving_average([1, 2, 3, 4], 2)
    [1.0, 1.5, 2.5, 3.5]
    """
    return [sum(values[max(0, i - window + 1) : i + 1]) / (i + 1 - max(0, i - window + 1)) for i in range(len(values))]


def run_demo(out: str | Path, overrides: list[str] = (), zero: bool = False) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pure, sft, grpo, r1_zero = demo_stages(out, overrides, zero)
    if not pure.verbose:  # one progress line a stage from here on, the base model's evaluation included
        quiet_libraries()
    total = 6 if zero else 5
    step = iter(range(1, total + 1))

    print(f"\n[{next(step)}/{total}] the base model on {pure.n_eval} held-out problems, on pure RL's prompt "
          f"({pure.prompt_style})")
    evals = {BASE: out / "base"}
    save_run(evaluate_base(pure), evals[BASE], BASE, {"model": pure.model, "prompt_style": pure.prompt_style})
    print(f"\n[{next(step)}/{total}] pure RL: GRPO from the base model, no cold start (R1-Zero)")
    pure_summary = run([pure])[0]
    if sft.prompt_style == pure.prompt_style:
        evals[R1_BASE] = evals[BASE]
    else:
        print(f"\n[{next(step)}/{total}] the base model on the R1 arm's prompt ({sft.prompt_style})")
        evals[R1_BASE] = out / "base-r1-prompt"
        save_run(evaluate_base(sft), evals[R1_BASE], R1_BASE, {"model": sft.model, "prompt_style": sft.prompt_style})
    if r1_zero:
        print(f"\n[{next(step)}/{total}] R1-Zero from the instruction alone: pure RL on the same prompt, no solved "
              "example")
        zero_summary = run([r1_zero])[0]
    print(f"\n[{next(step)}/{total}] cold-start SFT on worked traces")
    run([sft])
    print(f"\n[{next(step)}/{total}] GRPO from the SFT adapter (R1)")
    grpo_summary = run([grpo])[0]
    arms = {"pure RL": pure, "SFT": sft, "SFT + GRPO": grpo, **({ZERO: r1_zero} if r1_zero else {})}
    for name, stage in arms.items():
        evals[name] = Path(stage.output_dir) / "eval"

    prompts = {**dict(zip(STAGES, (pure, pure, sft, sft, grpo))), **({ZERO: r1_zero} if r1_zero else {})}
    runs = {name: load_run(folder) for name, folder in evals.items()}
    samples = {name: first_samples(runs[name]["problems"]) for name in prompts}
    stages = {name: runs[name]["metrics"] for name in prompts}
    pairs = (("pure RL", BASE), ("SFT + GRPO", "SFT"), *([(ZERO, R1_BASE)] if r1_zero else []))
    gains = {f"{after} - {before}": paired_bootstrap([[s["correct"] for s in samples[before]]],
                                                     [[s["correct"] for s in samples[after]]])
             for after, before in pairs}
    curves = {"pure RL": pure_summary["reward_curve"], "SFT then GRPO": grpo_summary["reward_curve"]}
    report_extra = {}
    if r1_zero:
        curves[ZERO] = zero_summary["reward_curve"]
        report_extra = {"r1_zero": zero_takeoff(zero_summary["held_out_curve"], r1_zero.seed, out / "r1_zero_curve.png")}
    plot_rewards(curves, out / "reward_curve.png")
    report = {"model": pure.model, "task": {"name": pure.task, **pure.task_params}, "seed": pure.seed,
              "held_out_problems": pure.n_eval, "stages": stages,
              "prompt_styles": {name: stage.prompt_style for name, stage in prompts.items()},
              "paired_gains": {name: {"mean": g["mean"], "ci95": [g["low"], g["high"]]} for name, g in gains.items()},
              "reward_curves": curves, **report_extra, "samples": {name: rows[:5] for name, rows in samples.items()},
              "evals": {name: str(folder) for name, folder in evals.items()}}
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))

    print(f"\n{'stage':<23}{'prompt':<14}{'accuracy':>9}{'95% CI':>18}{'format':>9}{'tokens':>8}")
    for name, metrics in stages.items():
        low, high = metrics["ci95"]["pass@1"]
        print(f"{name:<23}{prompts[name].prompt_style:<14}{metrics['pass@1']:>9.1%}{f'{low:.1%} - {high:.1%}':>18}"
              f"{metrics['format_rate']:>9.1%}{metrics['mean_tokens']:>8.1f}")
    print()
    for name, gain in gains.items():
        print(f"{name}, paired on the same problems: {gain['mean']:+.1%} "
              f"(95% CI {gain['low']:+.1%} to {gain['high']:+.1%})")
    if r1_zero:
        takeoff_at = lambda step: "never" if step is None else f"step {step}"  # noqa: E731
        print(f"R1-Zero's held-out curve: the format took off at {takeoff_at(report['r1_zero']['format_takeoff'])}, "
              f"the accuracy at {takeoff_at(report['r1_zero']['accuracy_takeoff'])} ({out / 'r1_zero_curve.png'})")
    print(f"this run's seed: {pure.seed}; pure RL over 10 seeds, with its worst: docs/claims.md "
          "(python benchmarks/pure_rl_seeds.py)")
    print(f"report: {out / 'report.json'}\nreward curves: {out / 'reward_curve.png'}")
    return report


def zero_takeoff(curve: list[list], seed: int, path: Path) -> dict:
    """The R1-Zero arm's held-out curve, the steps where its format and its accuracy took off, and their plot."""
    from minireason.reports.curves import plot_pure_rl_curves, seed_takeoff

    row = seed_takeoff(curve)
    plot_pure_rl_curves({"per_seed": {seed: row}}, path, f"R1-Zero from the instruction, seed {seed}")
    return row
