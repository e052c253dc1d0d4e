"""R1-Zero / TinyZero: GRPO with rule-based rewards, LoRA and optional 4-bit, on one device.

Reads top to bottom: config → model → data → rewards → trainer; ``run_stage`` then trains (resuming),
saves and evaluates.

    minireason train smollm2-135m/grpo-countdown/cpu --max_steps 20
"""

from __future__ import annotations

import dataclasses

import yaml
from datasets import Dataset
from trl import GRPOConfig

from minireason.answer_format import ANSWER_CLOSE
from minireason.grpo_trainer import FastGRPOTrainer
from minireason.models import load_tokenizer, settle_dtypes
from minireason.recipes.config import RecipeArgs, as_mapping
from minireason.recipes.data import task_data
from minireason.recipes.runs import run_stage
from minireason.rewards import REWARDS, get_reward, reward_range
from minireason.tasks import get_task, row_prompt


@dataclasses.dataclass
class GRPORecipe(RecipeArgs, GRPOConfig):
    """Every GRPOConfig option, plus the model, task and reward choices below."""

    reward_funcs: list[str] = dataclasses.field(
        default_factory=lambda: ["accuracy", "format"],
        metadata={"help": "Names from minireason.rewards.REWARDS, or module:function of your own, weighted by "
                          "reward_weights."})
    reward_settings: dict | str | None = dataclasses.field(default=None, metadata={
        "help": "Settings per reward, as a YAML mapping: '{overlong: {buffer_tokens: 64}, repetition: {ngram: 4}}'. "
                "overlong's max_tokens follows max_completion_length unless set here; '{format: {anneal_steps: 60}}' "
                "pays the format less along training and nothing from step 60 on."})
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
        "help": "Sample rollouts with minireason's sampler: one read of each prompt, inverse-CDF sampling, the LoRA "
                "adapter merged into fp32 weights (apart from 16-bit or 4-bit ones). Plain temperature sampling "
                "without vLLM only; otherwise TRL's own generate."})
    stop_at_answer: bool = dataclasses.field(default=True, metadata={
        "help": "End each rollout at </answer>; the text after it is never sampled. Applies to minireason's "
                "sampler (fast_rollouts) and to vLLM (its stop strings); TRL's generate runs to the length limit."})
    compile_rollouts: bool | None = dataclasses.field(default=None, metadata={
        "help": "Decode minireason's rollouts as a CUDA graph (a static cache and torch.compile's reduce-overhead "
                "mode): the host launches one graph a token instead of every kernel, ~3,660 a token on the T4 "
                "recipe's 4-bit LoRA path (minireason.launches). It compiles once a model and prompt length. Default: "
                "on with a CUDA GPU; off on a CPU, where a compile costs more than it saves in a short run."})
    curriculum: list | str | None = dataclasses.field(default=None, metadata={
        "help": "Easier problems first, as a YAML list of stages trained in order before the recipe's own problems: "
                "'[{steps: 10, task_params: {digits: 1}}]' opens with 10 steps of 1-digit sums. A stage's task_params "
                "update the recipe's; its steps count towards max_steps. The problems keep their order "
                "(shuffle_dataset is turned off); evaluation stays on the recipe's own task_params."})
    share_prompt_prefix: bool = dataclasses.field(default=True, metadata={
        "help": "Run each distinct prompt once in the loss and share its cache with the group's completions "
                "(off under gradient checkpointing)."})

    def __post_init__(self):
        if self.eval_max_new_tokens is None:
            self.eval_max_new_tokens = self.max_completion_length
        if isinstance(self.generation_kwargs, str):
            self.generation_kwargs = as_mapping(self.generation_kwargs)
        if self.use_vllm and self.stop_at_answer:
            # vLLM takes stop strings from generation_kwargs (its SamplingParams); keeping the closing tag in the
            # text is what the strict format reward reads, as with minireason's sampler.
            self.generation_kwargs = {"stop": [ANSWER_CLOSE], "include_stop_str_in_output": True,
                                      **(self.generation_kwargs or {})}
        super().__post_init__()
        if self.compile_rollouts is None:  # decided by the hardware, like precision (``memory.on_card_compiles``)
            import torch

            self.hardware_defaults.append("compile_rollouts")
            self.compile_rollouts = torch.cuda.is_available()
        self.reward_settings = as_mapping(self.reward_settings)
        self.curriculum = curriculum_stages(self.curriculum, self.task, self.task_params)
        if self.curriculum:
            self.shuffle_dataset = False  # the stages are the data's order
        stray = sorted(set(self.reward_settings) - set(self.reward_funcs))
        if stray:
            raise ValueError(f"reward_settings names reward(s) {stray} that reward_funcs does not use")
        self.reward_functions()  # fail now on an unknown reward or setting

    def reward_range(self) -> tuple[float, float] | None:
        """The least and the most the logged ``reward`` can be: the configured rewards' ranges, weighted
        (``rewards.reward_range``); None with a reward of your own."""
        weights = list(self.reward_weights or [1.0] * len(self.reward_funcs))[:len(self.reward_funcs)]
        return reward_range(self.reward_funcs, weights, self.reward_settings)

    def reward_functions(self) -> list:
        """The configured rewards; ``overlong`` measures against this recipe's completion length."""
        defaults = {"overlong": {"max_tokens": self.max_completion_length}}
        return [get_reward(name, **{**defaults.get(name, {}), **self.reward_settings.get(name, {})})
                for name in self.reward_funcs]


def curriculum_stages(stages: list | str | None, task: str, task_params: dict) -> list[dict]:
    """The curriculum's stages, checked: each has whole ``steps`` > 0 and ``task_params`` the task accepts.

    >>> curriculum_stages("[{steps: 5, task_params: {digits: 1}}]", "arithmetic", {"op": "add", "digits": 2})
    [{'steps': 5, 'task_params': {'digits': 1}}]
    >>> curriculum_stages([{"steps": 0, "task_params": {}}], "arithmetic", {})
    Traceback (most recent call last):
    ...
    ValueError: each curriculum stage needs steps (a whole number > 0) and task_params, got {'steps': 0, 'task_params': {}}
    """
    stages = yaml.safe_load(stages) if isinstance(stages, str) else stages or []
    for stage in stages:
        if (not isinstance(stage, dict) or set(stage) != {"steps", "task_params"} or not isinstance(stage["steps"], int)
                or stage["steps"] < 1 or not isinstance(stage["task_params"], dict)):
            raise ValueError(f"each curriculum stage needs steps (a whole number > 0) and task_params, got {stage}")
        get_task(task, **{**task_params, **stage["task_params"]})  # fail now on a parameter the task refuses
    return list(stages)


def curriculum_rows(cfg: GRPORecipe) -> list[dict]:
    """The curriculum's problems in stage order: as many as each stage's steps take (``curriculum``)."""
    prompts_per_step = cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps * cfg.world_size
    prompts_per_step //= cfg.num_generations
    return [row for stage in cfg.curriculum
            for row in get_task(cfg.task, **{**cfg.task_params, **stage["task_params"]}).split_rows(
                stage["steps"] * prompts_per_step, cfg.seed)]


def build_trainer(cfg: GRPORecipe) -> tuple[FastGRPOTrainer, list[dict]]:
    """The TRL trainer for a recipe, and the held-out rows to evaluate on afterwards."""
    # 1. Model: a path for TRL to load (with 4-bit and LoRA), or a PeftModel when
    #    continuing from an adapter (the SFT→GRPO route).
    model, peft_config, quantization = cfg.policy()
    tokenizer = load_tokenizer(cfg.model)

    # 2. Data: generated problems; every row carries its task, so `accuracy` finds the verifier.
    _, train_rows, eval_rows = task_data(cfg)
    train_rows = curriculum_rows(cfg) + train_rows  # easier problems first, when the recipe has a curriculum
    dataset = Dataset.from_list([{**row, "prompt": row_prompt(row, cfg.prompt_style)} for row in train_rows])

    # 3. Rewards: the chosen ones, plus `reflection` at weight 0 (logged, not optimised).
    reward_funcs = cfg.reward_functions() + [REWARDS["reflection"]]
    weights = list(cfg.reward_weights) if cfg.reward_weights else [1.0] * len(cfg.reward_funcs)
    if len(weights) == len(cfg.reward_funcs):
        cfg.reward_weights = weights + [0.0]

    # 4. Trainer.
    with cfg.building(model):
        trainer = FastGRPOTrainer(
            model=model, reward_funcs=reward_funcs, args=cfg, train_dataset=dataset, processing_class=tokenizer,
            peft_config=peft_config, quantization_config=quantization, fast_rollouts=cfg.fast_rollouts,
            stop_strings=(ANSWER_CLOSE,) if cfg.stop_at_answer else (), share_prompt_prefix=cfg.share_prompt_prefix,
            compile_rollouts=cfg.compile_rollouts,
        )
    settle_dtypes(trainer.model, cfg.precision)  # fp32 adapters (not TRL's bf16); under fp16 an fp32 residual stream
    return trainer, eval_rows


def train(cfg: GRPORecipe) -> dict:
    """Steps 1-4 are ``build_trainer``'s; ``run_stage`` takes 5-7: train (resuming), save the adapter to
    ``output_dir/final``, evaluate on held-out problems."""
    return run_stage(cfg, build_trainer, lambda trainer: {"reward_curve": [
        [entry["step"], entry["reward"]] for entry in trainer.state.log_history if "reward" in entry]})
