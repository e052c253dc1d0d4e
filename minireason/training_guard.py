"""Stop a run whose numbers have gone wrong, instead of letting its step counter advance over nothing.

Under fp16 mixed precision (a T4), the loss scaler skips an optimizer step whose gradients overflowed and halves
its scale; the Trainer still counts the step, and logs no error. A few skips at the start are the scaler finding
its scale. Many in a row mean the model no longer fits fp16's range, and every later step is skipped too, silently.
A loss that is not a number is worse: under bf16 or fp32 there is no scaler, so it would reach the weights.
``GuardedTraining`` stops both with an error that says what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from transformers import TrainerCallback

from minireason.hardware import FP16_OVERFLOW_FIX

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from transformers import Trainer, TrainerControl, TrainerState, TrainingArguments

# torch's GradScaler starts at 2**16 and halves at each skip: 8 skips in a row take it to 2**8, which only
# gradients past ~256 in fp16 (itself past 65,504 at that scale) keep overflowing. A scaler finding its footing at
# the start skips a handful, then grows back.
MAX_SKIPPED_STEPS = 8


class NonFiniteTraining(FloatingPointError):
    """The loss was not a number, or the fp16 loss scaler skipped ``MAX_SKIPPED_STEPS`` steps in a row."""


class SkippedSteps(TrainerCallback):
    """Counts the optimizer steps the loss scaler skipped in a row, and stops the run at ``MAX_SKIPPED_STEPS``.

    A skip is read off the scale, which the scaler halves on an overflow and only then: accelerate's own
    ``optimizer_step_was_skipped`` says False whenever the optimizer's ``step`` was called, and ``GradScaler.step``
    calls a fused optimizer's ``step`` (transformers' default AdamW on torch 2.8+) on an overflow too, for the
    kernel to skip the update itself (torch/amp/grad_scaler.py, ``_step_supports_amp_scaling``).
    """

    def __init__(self, trainer: Trainer):
        self.trainer, self.in_a_row, self.scale = trainer, 0, None

    def _scale(self) -> float | None:
        scaler = self.trainer.accelerator.scaler
        return scaler.get_scale() if scaler is not None else None

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        self.scale = self._scale()  # a resumed run's: the scaler's state is loaded before training begins

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        scale, before = self._scale(), self.scale
        if scale is None:  # no loss scaling (bf16, fp32): nothing is skipped
            return
        self.scale = scale
        self.in_a_row = self.in_a_row + 1 if before is not None and scale < before else 0
        if self.in_a_row >= MAX_SKIPPED_STEPS:
            raise NonFiniteTraining(
                f"step {state.global_step}: the fp16 loss scaler skipped the last {self.in_a_row} optimizer steps "
                f"(their gradients overflowed; scale now {scale:g}), so nothing has trained since. "
                f"{advice(args)}")


class GuardedTraining:
    """A trainer mix-in (put it before TRL's trainer class): ``NonFiniteTraining`` on a loss that is not finite,
    and ``SkippedSteps`` on every run."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_callback(SkippedSteps(self))

    def training_step(self, model: torch.nn.Module, inputs: dict,
                      num_items_in_batch: torch.Tensor | int | None = None) -> torch.Tensor:
        loss = super().training_step(model, inputs, num_items_in_batch)
        if not torch.isfinite(loss).all():  # the Trainer reads the loss here too (logging_nan_inf_filter)
            raise NonFiniteTraining(f"step {self.state.global_step + 1}: the loss is {loss.item()}, not a number. "
                                    f"{advice(self.args)}")
        return loss


def advice(args: TrainingArguments) -> str:
    """What a run that met numbers it cannot hold should do next.

    >>> from types import SimpleNamespace
    >>> advice(SimpleNamespace(precision="fp16", output_dir="out"))[:60]
    'In fp16 this is an overflow: train in bf16 on a card that ha'
    """
    precision = getattr(args, "precision", None) or ("fp16" if args.fp16 else "bf16" if args.bf16 else "fp32")
    if precision == "fp16":
        fix = f"In fp16 this is an overflow: {FP16_OVERFLOW_FIX}."
    else:
        fix = f"In {precision} it is not an overflow of the format: lower the learning rate, or look at the data."
    return (f"{fix} Checkpoints in {args.output_dir} are untouched; a run with another precision is another run: "
            "give it another --output_dir.")
