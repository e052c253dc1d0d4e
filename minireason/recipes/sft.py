"""Supervised fine-tuning with LoRA/QLoRA: R1's cold start, or distilled / journey data.

Reads top to bottom: config → model → data → trainer → train (resuming) → save → eval.
The loss covers the assistant's completion only (TRL's prompt-completion format).

    minireason train recipes/smollm2-135m/sft/cpu.yaml
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from datasets import Dataset, load_dataset
from trl import SFTConfig, SFTTrainer

from minireason.evaluation import evaluate
from minireason.models import load_tokenizer
from minireason.recipes.common import (
    RecipeArgs, log_summary, prompt_of, resumable_checkpoint, task_data, track_cost,
)
from minireason.tasks.base import THINK_OPEN


@dataclasses.dataclass
class SFTRecipe(RecipeArgs, SFTConfig):
    """Every SFTConfig option, plus the model, task and data choices below."""

    method: str = dataclasses.field(default="sft", metadata={"help": "grpo, sft or sft-then-grpo."})
    dataset_path: str | None = dataclasses.field(
        default=None, metadata={"help": "JSONL/parquet with prompt+completion (or messages) columns; "
                                        "if unset, the task's own reference solutions are the data."})
    # LoRA on a small data set: 1e-4 to 2e-4 is the usual range (QLoRA used 2e-4).
    learning_rate: float = dataclasses.field(default=2e-4, metadata={"help": "AdamW learning rate."})
    num_train_epochs: float = dataclasses.field(default=1.0, metadata={"help": "Passes over the data."})
    max_length: int | None = dataclasses.field(default=512, metadata={"help": "Tokens per example (longer are cut)."})
    logging_steps: float = dataclasses.field(default=5, metadata={"help": "Log every N steps."})
    save_steps: float = dataclasses.field(default=50, metadata={"help": "Checkpoint every N steps (resume point)."})
    save_total_limit: int | None = dataclasses.field(default=2, metadata={"help": "Checkpoints kept."})

    def __post_init__(self):
        self._prepare()
        super().__post_init__()


def sft_example(task, row: dict, style: str) -> dict:
    """A prompt-completion pair from a task row and its reference solution."""
    completion = task.reference_completion(row)
    if style == "chat":
        completion = [{"role": "assistant", "content": completion}]
    else:
        completion = completion.removeprefix(THINK_OPEN)  # the base prompt already ends in <think>
    return {"prompt": prompt_of(row, style), "completion": completion}


def build_trainer(cfg: SFTRecipe) -> tuple[SFTTrainer, list[dict]]:
    # 1. Model.
    model, peft_config, quantization = cfg.policy()
    tokenizer = load_tokenizer(cfg.model)
    tokenizer.padding_side = "right"  # training pads on the right; generation (eval) pads on the left

    # 2. Data: a user file, or the task's reference solutions.
    task, train_rows, eval_rows = task_data(cfg)
    if cfg.dataset_path:
        builder = "parquet" if cfg.dataset_path.endswith(".parquet") else "json"
        dataset = load_dataset(builder, data_files=cfg.dataset_path, split="train")
    else:
        dataset = Dataset.from_list([sft_example(task, row, cfg.prompt_style) for row in train_rows])

    # 3. Trainer.
    trainer = SFTTrainer(
        model=model, args=cfg, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config,
        quantization_config=quantization,
    )
    track_cost(trainer, cfg.gpu_hour_cost)
    return trainer, eval_rows


def train(cfg: SFTRecipe) -> dict:
    trainer, eval_rows = build_trainer(cfg)

    # 4. Train, resuming from the last complete checkpoint if a previous run was killed.
    trainer.train(resume_from_checkpoint=resumable_checkpoint(cfg.output_dir))

    # 5. Save the adapter.
    final = Path(cfg.output_dir) / "final"
    trainer.save_model(str(final))

    # 6. Evaluate on held-out problems.
    summary = {"method": "sft", "steps": trainer.state.global_step, "final": str(final)}
    if eval_rows:
        trainer.processing_class.padding_side = "left"
        result = evaluate(trainer.model, trainer.processing_class, eval_rows,
                          max_new_tokens=cfg.eval_max_new_tokens, chat=cfg.prompt_style == "chat")
        summary.update({f"eval_{k}": v for k, v in result.summary().items()})
    log_summary(cfg, summary)
    return summary
