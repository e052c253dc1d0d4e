"""R1-Zero / TinyZero: GRPO with rule-based rewards, LoRA and optional 4-bit, on one device.

Reads top to bottom: config → model → data → rewards → trainer → train (resuming) → save → eval.

    minireason train recipes/smollm2-135m/grpo-countdown/cpu.yaml --max_steps 20
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from datasets import Dataset
from trl import GRPOConfig

from minireason.evaluation import evaluate
from minireason.grpo_trainer import FastGRPOTrainer
from minireason.models import load_tokenizer
from minireason.recipes.common import (
    RecipeArgs, finished_summary, log_summary, prompt_of, resumable_checkpoint, task_data, track_cost,
)
from minireason.rewards import REWARDS, get_reward
from minireason.tasks.base import ANSWER_CLOSE


@dataclasses.dataclass
class GRPORecipe(RecipeArgs, GRPOConfig):
    """Every GRPOConfig option, plus the model, task and reward choices below."""

    reward_funcs: list[str] = dataclasses.field(
        default_factory=lambda: ["accuracy", "format"],
        metadata={"help": "Names from minireason.rewards.REWARDS, weighted by reward_weights."})
    # GRPO needs spread within a group to learn: 8 completions a prompt is TinyZero's and
    # R1's small-scale setting; TRL's batch counts completions, so 8 = one prompt per step.
    num_generations: int = dataclasses.field(default=8, metadata={"help": "Completions per prompt (the group)."})
    per_device_train_batch_size: int = dataclasses.field(
        default=8, metadata={"help": "Completions per device step; a multiple of num_generations."})
    # Rollouts are sampled without dropout; dropout in the loss's forward would only add noise to the
    # gradient of a policy that never sampled anything.
    lora_dropout: float = dataclasses.field(default=0.0, metadata={"help": "Dropout on the LoRA input."})
    # TRL's 1e-6 suits full fine-tuning; LoRA adapters need a far larger step.
    learning_rate: float = dataclasses.field(default=1e-5, metadata={"help": "AdamW learning rate."})
    max_completion_length: int = dataclasses.field(default=256, metadata={"help": "Tokens per completion."})
    log_completions: bool = dataclasses.field(
        default=True, metadata={"help": "Log a table of sample completions (to W&B when it is on)."})
    num_completions_to_print: int | None = dataclasses.field(
        default=2, metadata={"help": "Sample completions printed to the terminal at each log."})
    logging_steps: float = dataclasses.field(default=1, metadata={"help": "Log every N steps."})
    save_steps: float = dataclasses.field(
        default=25, metadata={"help": "Checkpoint every N steps: a killed run resumes from the last one."})
    save_total_limit: int | None = dataclasses.field(default=2, metadata={"help": "Checkpoints kept."})
    # The three switches below change the cost of a step, not what it computes (minireason.grpo_trainer).
    fast_rollouts: bool = dataclasses.field(default=True, metadata={
        "help": "Sample rollouts with the LoRA adapter merged and inverse-CDF sampling (plain temperature sampling "
                "without vLLM only; otherwise TRL's own generate)."})
    stop_at_answer: bool = dataclasses.field(default=True, metadata={
        "help": "End each rollout at </answer>, as vLLM's stop strings do; the text after it is never sampled. "
                "Applies with fast_rollouts."})
    share_prompt_prefix: bool = dataclasses.field(default=True, metadata={
        "help": "Run each distinct prompt once in the loss and share its cache with the group's completions "
                "(off under gradient checkpointing)."})

    def __post_init__(self):
        self._prepare()
        super().__post_init__()
        unknown = [name for name in self.reward_funcs if name not in REWARDS]
        if unknown:
            raise ValueError(f"unknown reward(s) {unknown}; available: {', '.join(REWARDS)}")


def build_trainer(cfg: GRPORecipe) -> tuple[GRPOTrainer, list[dict]]:
    """The TRL trainer for a recipe, and the held-out rows to evaluate on afterwards."""
    # 1. Model: a path for TRL to load (with 4-bit and LoRA), or a PeftModel when
    #    continuing from an adapter (the SFT→GRPO route).
    model, peft_config, quantization = cfg.policy()
    tokenizer = load_tokenizer(cfg.model)

    # 2. Data: generated problems; every row carries its task, so `accuracy` finds the verifier.
    _, train_rows, eval_rows = task_data(cfg)
    dataset = Dataset.from_list([{**row, "prompt": prompt_of(row, cfg.prompt_style)} for row in train_rows])

    # 3. Rewards: the chosen ones, plus `reflection` at weight 0 (logged, not optimised).
    reward_funcs = [get_reward(name) for name in cfg.reward_funcs] + [REWARDS["reflection"]]
    weights = list(cfg.reward_weights) if cfg.reward_weights else [1.0] * len(cfg.reward_funcs)
    if len(weights) == len(cfg.reward_funcs):
        cfg.reward_weights = weights + [0.0]

    # 4. Trainer.
    trainer = FastGRPOTrainer(
        model=model, reward_funcs=reward_funcs, args=cfg, train_dataset=dataset, processing_class=tokenizer,
        peft_config=peft_config, quantization_config=quantization, fast_rollouts=cfg.fast_rollouts,
        stop_strings=(ANSWER_CLOSE,) if cfg.stop_at_answer else (), share_prompt_prefix=cfg.share_prompt_prefix,
    )
    track_cost(trainer, cfg.gpu_hour_cost)
    return trainer, eval_rows


def train(cfg: GRPORecipe) -> dict:
    """Train, save the adapter to ``output_dir/final``, evaluate on held-out problems."""
    if (done := finished_summary(cfg)) is not None:
        return done
    trainer, eval_rows = build_trainer(cfg)

    # 5. Train: the same command after a crash continues from the last complete checkpoint.
    checkpoint = resumable_checkpoint(cfg.output_dir)
    if checkpoint:
        print(f"minireason: resuming from {checkpoint}")
    trainer.train(resume_from_checkpoint=checkpoint)

    # 6. Save.
    final = Path(cfg.output_dir) / "final"
    trainer.save_model(str(final))
    trainer.save_state()  # output_dir/trainer_state.json: the log history, for plots and timings

    # 7. Evaluate (greedy) on problems the training never saw.
    summary = {"method": "grpo", "steps": trainer.state.global_step, "final": str(final),
               "reward_curve": [[e["step"], e["reward"]] for e in trainer.state.log_history if "reward" in e]}
    if eval_rows:
        result = evaluate(trainer.model, trainer.processing_class, eval_rows,
                          max_new_tokens=cfg.eval_max_new_tokens, chat=cfg.prompt_style == "chat")
        summary.update({f"eval_{k}": v for k, v in result.summary().items()})
        result.save_samples(Path(cfg.output_dir) / "eval_samples.jsonl")
    log_summary(cfg, summary)
    return summary
