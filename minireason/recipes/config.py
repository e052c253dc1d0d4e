"""The fields every recipe shares (model, LoRA, task, evaluation, precision left to the hardware).

A recipe config is one dataclass: ``RecipeArgs`` plus TRL's own config (``GRPOConfig`` or ``SFTConfig``), so
every TRL option is a recipe option too. Building one has no side effects: W&B set-up and its network probe
wait for ``minireason.recipes.runs.run_stage``.
"""

from __future__ import annotations

import dataclasses

import yaml

from minireason.answer_format import check_prompt_style
from minireason.models import DEFAULT_LORA
from minireason.tasks import get_task


@dataclasses.dataclass
class RecipeArgs:
    method: str = dataclasses.field(default="grpo", metadata={"help": "grpo, sft or sft-then-grpo."})
    model: str = dataclasses.field(
        default="smollm2-135m", metadata={"help": "smollm2-135m (embedded), tiny, an alias (qwen2.5-3b), hub id or folder."})
    adapter: str | None = dataclasses.field(
        default=None, metadata={"help": "A saved LoRA adapter to start from (e.g. the SFT stage's output)."})
    load_in_4bit: bool = dataclasses.field(default=False, metadata={"help": "QLoRA: nf4 base weights (bitsandbytes)."})
    lora: bool = dataclasses.field(default=True, metadata={"help": "Train LoRA adapters instead of all weights."})
    lora_r: int = dataclasses.field(default=DEFAULT_LORA["r"], metadata={"help": "LoRA rank."})
    # alpha / r = 2 at every rank, so a recipe that raises r for a bigger card keeps the update's scale.
    lora_alpha: int | None = dataclasses.field(default=None, metadata={
        "help": "LoRA scale numerator (alpha / r scales the update). Default: 2 x lora_r."})
    lora_dropout: float = dataclasses.field(default=DEFAULT_LORA["lora_dropout"], metadata={
        "help": "Dropout on the LoRA input."})
    task: str = dataclasses.field(default="countdown", metadata={"help": "countdown, arithmetic or math."})
    task_params: dict | str | None = dataclasses.field(
        default=None, metadata={"help": "Task parameters as a YAML/JSON mapping, e.g. '{op: add, digits: 2}'."})
    n_train: int = dataclasses.field(default=2000, metadata={"help": "Training problems generated (seed = seed)."})
    n_eval: int = dataclasses.field(default=64, metadata={"help": "Held-out problems for the final evaluation (0: none)."})
    # Fixed apart from `seed`, so runs with different training seeds are scored on the same problems (paired).
    eval_seed: int = dataclasses.field(default=0, metadata={"help": "Seed of the held-out evaluation problems."})
    eval_max_new_tokens: int | None = dataclasses.field(default=None, metadata={
        "help": "Generation budget when evaluating. Default: GRPO's max_completion_length (score the model at the "
                "length it trained at); 128 for SFT."})
    # Bookkeeping (runs._BOOKKEEPING): the curve is measured without touching the weights, so a run with it is
    # the run without it, bit for bit (tests/test_recipes.py).
    curve_every: int = dataclasses.field(default=0, metadata={
        "help": "Held-out learning curve: every N steps (and before the first), greedy accuracy and format rate on "
                "the first curve_problems held-out problems; the last point is the final evaluation's (0: no curve)."})
    curve_problems: int = dataclasses.field(default=64, metadata={
        "help": "Held-out problems per curve point: 64 is one batch, ~10 s on 2 cores for the embedded model."})
    prompt_style: str = dataclasses.field(default="chat", metadata={
        "help": "chat (the chat template), base (R1-Zero text prompt ending in <think>) or base_example (the same "
                "after one worked example of the task); minireason.answer_format."})
    wandb_project: str = dataclasses.field(default="minireason", metadata={"help": "W&B project name."})
    gpu_hour_cost: float = dataclasses.field(
        default=2.0, metadata={"help": "$ per GPU-hour for the logged cost (TinyZero: ~$30 a run; Sky-T1: ~$450)."})

    # None = decided by the hardware the config is built on; a value the recipe or a flag gives is kept.
    bf16: bool | None = dataclasses.field(default=None, metadata={
        "help": "bf16 mixed precision. Default: on a GPU with bf16 (fp16 on a T4); off on a CPU, where bf16 "
                "autocast runs ~25x slower than fp32."})
    activation_checkpointing: bool | None = dataclasses.field(default=None, metadata={
        "help": "Recompute activations in the backward pass to save memory. Default: on with a GPU, off on a CPU "
                "(it only costs time there)."})
    # transformers renamed the option and warns on the old name, which TRL sets True by default: unset here, the
    # old name is read once (a recipe or a flag may still use it) and the warning never fires.
    gradient_checkpointing: bool | None = dataclasses.field(default=None, metadata={
        "help": "The old name of activation_checkpointing; either works."})

    def __post_init__(self):
        """Check and normalise minireason's own fields; nothing outside the config is touched."""
        self.task_params = as_mapping(self.task_params)
        check_prompt_style(self.prompt_style)
        get_task(self.task, **self.task_params)  # fail now, not after loading a model
        if isinstance(self.report_to, str):
            self.report_to = [self.report_to]
        if self.eval_max_new_tokens is None:
            self.eval_max_new_tokens = 128
        if problems := too_small({name: getattr(self, name) for name in SMALLEST if hasattr(self, name)}):
            raise ValueError("; ".join(problems))
        if self.lora_alpha is None:
            self.lora_alpha = DEFAULT_LORA["lora_alpha"] // DEFAULT_LORA["r"] * self.lora_r
        # Settled here, not when training starts: TrainingArguments checks precision against the device as
        # it is built. Reading the device changes nothing.
        import torch

        from minireason.hardware import bf16_native, precision, weights_dtype

        gpu = torch.cuda.is_available()
        # What the hardware decided here, so that `minireason estimate` can decide it again for another card.
        if self.activation_checkpointing is None:
            self.activation_checkpointing = self.gradient_checkpointing
        self.hardware_defaults = [name for name in ("bf16", "activation_checkpointing") if getattr(self, name) is None]
        self.model_init_kwargs = as_mapping(self.model_init_kwargs)
        if "dtype" not in self.model_init_kwargs:
            self.hardware_defaults.append("dtype")
        if self.activation_checkpointing is None:
            self.activation_checkpointing = gpu
        if self.bf16 is None:
            self.bf16, self.fp16 = precision(self.fp16, gpu, bf16_native())
        dtype = weights_dtype(self.bf16, self.fp16, trains_base_weights=not self.lora)
        self.model_init_kwargs.setdefault("dtype", dtype)
        if gpu:
            # The whole model on this process's GPU. TRL's default, "auto", splits it over every visible GPU (a
            # Kaggle box has two T4s), which only adds transfers for a model that fits one; under `accelerate
            # launch` TRL places each process's copy itself.
            self.model_init_kwargs.setdefault("device_map", {"": 0})
        else:
            # accelerate runs several launched processes as one CPU job (gloo) only when told it is on a CPU.
            self.use_cpu = True
        super().__post_init__()
        if self.n_gpu > 1 and self.distributed_state.distributed_type == "NO":
            # One process trains on one GPU: transformers would wrap the model in nn.DataParallel (which refuses
            # 4-bit models) and multiply the batch by the GPU count. `accelerate launch` uses every GPU.
            self._n_gpu = 1

    def peft_config(self):
        from minireason.models import lora_config

        return lora_config({"r": self.lora_r, "lora_alpha": self.lora_alpha, "lora_dropout": self.lora_dropout})

    def policy(self):
        """``(model, peft_config, quantization_config)`` for a TRL trainer: a path that TRL loads
        (in 4-bit, with new LoRA adapters), or a PeftModel when continuing from a saved adapter."""
        import torch

        from minireason.models import load_model, quantization_config, resolve_model, set_lora_dropout

        dtype = self.model_init_kwargs["dtype"]  # also the 4-bit layers' compute dtype
        dtype = getattr(torch, dtype) if dtype in ("float32", "float16", "bfloat16") else None  # None: the card's
        if self.adapter:
            model, _ = load_model(self.model, load_in_4bit=self.load_in_4bit, lora=True, adapter=self.adapter,
                                  dtype=dtype, device_map=self.model_init_kwargs.get("device_map"))
            set_lora_dropout(model, self.lora_dropout)  # this stage's setting, not the one the adapter was saved with
            return model, None, None
        return (resolve_model(self.model), self.peft_config() if self.lora else None,
                quantization_config(dtype) if self.load_in_4bit else None)


# The smallest value of each size a recipe has. Below it a run trains or scores nothing, or fails deep inside TRL
# (a group of 0 completions divides by zero); GRPO's advantage compares completions, so a group needs two.
SMALLEST = {"n_train": 1, "n_eval": 0, "eval_max_new_tokens": 1, "curve_every": 0, "curve_problems": 1, "lora_r": 1,
            "per_device_train_batch_size": 1, "gradient_accumulation_steps": 1, "num_generations": 2,
            "max_completion_length": 1}


def too_small(sizes: dict) -> list[str]:
    """What is wrong with ``sizes`` (a recipe's values by name): each one below its ``SMALLEST``.

    >>> too_small({"num_generations": 0, "n_train": 5, "lora_r": -1})
    ['num_generations must be at least 2, got 0', 'lora_r must be at least 1, got -1']
    >>> too_small({"n_eval": 0, "max_completion_length": None})  # None: TRL's own default applies
    []
    """
    return [f"{name} must be at least {SMALLEST[name]}, got {value}" for name, value in sizes.items()
            if value is not None and value < SMALLEST[name]]


def as_mapping(value: dict | str | None) -> dict:
    """A dict from a mapping, None, or a YAML/JSON mapping given as text (a flag's value).

    >>> as_mapping('{op: add, digits: 2}'), as_mapping(None)
    ({'op': 'add', 'digits': 2}, {})
    """
    return dict(yaml.safe_load(value) if isinstance(value, str) else value or {})
