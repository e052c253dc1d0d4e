"""A trained run's record, read back: its log history, its compute (seconds, tokens) and pace, plots of what it
logged; and the step meters the benchmarks attach to a trainer."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from transformers import TrainerCallback

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from transformers import Trainer, TrainerControl, TrainerState, TrainingArguments


def training_log(output_dir: str | Path) -> list[dict]:
    """The Trainer's log history of a finished run (``output_dir/trainer_state.json``)."""
    path = Path(output_dir) / "trainer_state.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no trainer_state.json; has this run finished?")
    return json.loads(path.read_text())["log_history"]


def timing(output_dir: str | Path, planned_steps: int | None = None) -> dict:
    """Steps, seconds per step, and what ``planned_steps`` would take at that pace on this machine."""
    log = training_log(output_dir)
    final = next(entry for entry in reversed(log) if "train_runtime" in entry)
    steps = final["step"]
    report = {"steps": steps, "seconds": round(final["train_runtime"], 1),
              "seconds_per_step": round(final["train_runtime"] / max(steps, 1), 2)}
    if planned_steps:
        report["planned_steps"] = planned_steps
        report["planned_minutes"] = round(report["seconds_per_step"] * planned_steps / 60, 1)
    return report


def plot_history(runs: dict[str, str | Path], keys: list[str], path: str | Path | None = None):
    """One panel per logged metric (``reward``, ``loss``, ``rewards/accuracy_reward/mean`` …),
    one line per run; saved to ``path`` when given. Returns the figure."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.5), squeeze=False)
    for axis, key in zip(axes[0], keys):
        for label, output_dir in runs.items():
            points = [(entry["step"], entry[key]) for entry in training_log(output_dir) if key in entry]
            if points:
                axis.plot(*zip(*points), marker="o", label=label)
        axis.set(xlabel="step", title=key)
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend()
        else:  # e.g. a run shorter than logging_steps
            axis.text(0.5, 0.5, "not logged", ha="center", va="center", transform=axis.transAxes)
    figure.tight_layout()
    if path:
        figure.savefig(path, dpi=120)
    return figure


class StepMeter(TrainerCallback):
    """Wall time per optimizer step, and the time and tokens spent in rollouts within it."""

    def __init__(self, trainer):
        self.steps: list[dict] = []
        self._rollout_seconds, self._tokens, self._started = 0.0, 0, 0.0
        generate = trainer._generate_single_turn

        def timed_generate(*args, **kwargs):
            started = time.perf_counter()
            completion_ids, logprobs = generate(*args, **kwargs)
            self._rollout_seconds += time.perf_counter() - started
            self._tokens += sum(len(ids) for ids in completion_ids)
            return completion_ids, logprobs

        trainer._generate_single_turn = timed_generate

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._rollout_seconds, self._tokens, self._started = 0.0, 0, time.perf_counter()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self.steps.append({"seconds": time.perf_counter() - self._started, "rollout_seconds": self._rollout_seconds,
                           "tokens": self._tokens, "completions": args.generation_batch_size})

    def summary(self) -> dict:
        steady = self.steps[1:] or self.steps
        seconds = sum(s["seconds"] for s in steady)
        rollout = sum(s["rollout_seconds"] for s in steady)
        tokens = sum(s["tokens"] for s in steady)
        return {"s_per_step": seconds / len(steady), "completions_per_step": steady[0]["completions"],
                "tokens_per_step": tokens / len(steady), "generation_tok_s": tokens / max(rollout, 1e-9),
                "train_tok_s": tokens / max(seconds - rollout, 1e-9), "throughput_tok_s": tokens / seconds}


class SFTStepMeter(TrainerCallback):
    """Wall time per optimizer step of an SFT trainer, and its tokens (the batch's, padding included)."""

    def __init__(self):
        self.steps: list[tuple[float, int]] = []
        self._started = 0.0

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self._started = time.perf_counter()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self.steps.append((time.perf_counter() - self._started, state.num_input_tokens_seen))

    def summary(self) -> dict:
        seconds = sum(s for s, _ in self.steps) / len(self.steps)
        tokens = self.steps[-1][1] / len(self.steps)
        return {"s_per_step": seconds, "train_tok_s": tokens / seconds}


def training_compute(output_dir: str | Path) -> dict:
    """A finished run's compute, from its own log: wall seconds of training and tokens seen."""
    history = training_log(output_dir)
    tokens = max((entry["num_tokens"] for entry in history if "num_tokens" in entry), default=0)
    runtime = next((entry["train_runtime"] for entry in reversed(history) if "train_runtime" in entry), 0.0)
    return {"seconds": runtime, "tokens": tokens}


def step_meter(trainer: Trainer) -> StepMeter | SFTStepMeter:
    """A meter attached to ``trainer``: ``StepMeter`` for GRPO (seconds a step, rollout time and tokens), else
    ``SFTStepMeter``. Read it with ``.summary()`` after training."""
    meter = StepMeter(trainer) if hasattr(trainer, "_generate_single_turn") else SFTStepMeter()
    trainer.add_callback(meter)
    return meter


def mean_curve(curves: list[list[list]]) -> list[list[float]]:
    """``[step, accuracy]`` averaged over seeds at the steps every seed measured."""
    steps = sorted(set.intersection(*({point[0] for point in curve} for curve in curves)))
    return [[step, sum(point[1] for curve in curves for point in curve if point[0] == step) / len(curves)]
            for step in steps]


def plot_learning_curves(curves: dict, path: Path) -> None:
    """Held-out accuracy by optimiser step, one line per arm (``curves``: arm → ``[step, accuracy]`` points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for name, curve in curves.items():
        axis.plot([p[0] for p in curve], [p[1] for p in curve], marker="o", label=name)
    axis.set(xlabel="optimiser step", ylabel="held-out accuracy (mean over seeds)", title="Claim 3: learning curves")
    axis.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
