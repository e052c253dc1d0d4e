"""What a training stage prints: one progress line, a few completions now and then, and nothing else.

A workshop watching ``make demo`` wants the story, not the logs: which step, what the reward and accuracy are doing,
how long is left, and now and then what the model actually writes. TRL prints a metrics dict after every step and
a table of completions squeezed into 80 columns, transformers and datasets their warnings and progress bars, and
W&B a banner and a summary per run: ``quiet_libraries`` silences them and ``StageConsole`` prints the line.
``--verbose true`` keeps every library's own output instead. W&B receives the same figures either way.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import TYPE_CHECKING, TextIO

from transformers import TrainerCallback

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from transformers import Trainer, TrainerControl, TrainerState, TrainingArguments

# What the line shows, from a log's keys: GRPO's rewards, or SFT's loss and token accuracy. An annealed format
# reward's mean is its pay; its unannealed mean, later in this dict, wins: the share of completions well formed.
FIGURES = {"reward": "reward", "rewards/accuracy_reward/mean": "accuracy", "rewards/format_reward/mean": "format",
           "rewards/format_reward/unannealed": "format", "loss": "loss", "mean_token_accuracy": "token accuracy"}
SAMPLE_PRINTS = 3  # times a stage shows what its model writes: a third of the way, two thirds, at the end


def quiet_libraries() -> None:
    """Silence what TRL, transformers, datasets, the hub and W&B print on their own (their warnings and errors
    still print). Called when a quiet stage starts, never when a config is built."""
    import datasets
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    os.environ["WANDB_SILENT"] = "true"  # no banner, no run summary on the console; the run itself is unchanged
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def duration(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour.

    >>> duration(75), duration(3725)
    ('1:15', '1:02:05')
    """
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class StageConsole(TrainerCallback):
    """One line per stage, rewritten in place on a terminal (and printed every tenth of the run elsewhere, as in
    a notebook or a log file): step, the stage's figures, seconds a step, time left. ``SAMPLE_PRINTS`` times a
    stage, a GRPO stage prints ``samples`` of its latest completions as plain text with their rewards."""

    def __init__(self, trainer: Trainer, label: str, samples: int = 2, stream: TextIO | None = None):
        self.trainer, self.label, self.samples = trainer, label, samples
        self.stream = stream or sys.stdout
        self.in_place = self.stream.isatty()
        self.figures: dict[str, float] = {}
        self.started, self.first_step, self.shown_step = 0.0, 0, 0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self.started, self.first_step, self.shown_step = time.perf_counter(), state.global_step, state.global_step

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs: dict | None = None,
               **kwargs):
        """Each step's log (GRPO logs every step; SFT every ``logging_steps``) rewrites the line."""
        figures = {name: (logs or {})[key] for key, name in FIGURES.items()
                   if isinstance((logs or {}).get(key), (int, float))}
        if not state.is_world_process_zero or not figures or state.global_step == self.shown_step:
            return  # another process's, or the end of training's summary (runtime, mean loss)
        self.figures.update(figures)
        if "reward" in self.figures:
            self.figures.pop("loss", None)  # GRPO's loss is ~0 by construction: the rewards tell the story
        self.shown_step = state.global_step
        line, last = self.line(state.global_step, state.max_steps), state.global_step >= state.max_steps
        if self.in_place:
            self.stream.write("\r" + line.ljust(100) + ("\n" if last else ""))
        elif last or state.global_step % max(state.max_steps // 10, 1) == 0:
            self.stream.write(line + "\n")
        every = max(state.max_steps // SAMPLE_PRINTS, 1)
        if self.samples and (state.global_step % every == 0 or last):
            shown = self.completions()
            if shown:
                self.stream.write(("\n" if self.in_place and not last else "") + shown)
        self.stream.flush()

    def line(self, step: int, max_steps: int) -> str:
        """The progress line at ``step``.

        >>> console = StageConsole(None, "pure RL", stream=open(os.devnull, "w"))
        >>> console.figures = {"reward": 0.712, "accuracy": 0.625, "format": 1.0}
        >>> console.started = time.perf_counter() - 40  # 4 steps in 40 s
        >>> console.line(4, 30)
        '  pure RL  step 4/30  reward 0.71  accuracy 0.62  format 1.00  10.0 s/step  4:20 left'
        """
        done = max(step - self.first_step, 1)
        per_step = (time.perf_counter() - self.started) / done
        figures = "".join(f"  {name} {value:.2f}" for name, value in self.figures.items())
        return (f"  {self.label}  step {step}/{max_steps}{figures}  {per_step:.1f} s/step  "
                f"{duration(per_step * (max_steps - step))} left")

    def completions(self) -> str:
        """The latest ``samples`` completions as plain text, each with its rewards, or "" when there are none (SFT)."""
        logs = getattr(self.trainer, "_logs", None)  # what TRL keeps for its own completion tables
        if not logs or not logs.get("completion"):
            return ""
        completions = list(logs["completion"])[-self.samples:]
        rewards = {name.removesuffix("_reward"): list(values)[-self.samples:]
                   for name, values in logs["rewards"].items()}
        lines = []
        for index, completion in enumerate(completions):
            text = completion if isinstance(completion, str) else completion[-1].get("content", "")
            scores = "  ".join(f"{name} {values[index]:.2f}" for name, values in rewards.items())
            lines.append(f"    » {' '.join(text.split())[:110]}\n      {scores}")
        return "\n".join(lines) + "\n"


@contextlib.contextmanager
def no_completion_tables():
    """TRL prints a table of completions at every log when ``log_completions`` is on, in the same breath as it
    logs them to W&B: within this block it logs them and prints nothing."""
    from unittest import mock

    with mock.patch("trl.trainer.grpo_trainer.print_prompt_completions_sample", lambda *args, **kwargs: None):
        yield
