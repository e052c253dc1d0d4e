"""The fields every recipe shares (model, LoRA, task, evaluation, precision left to the hardware).

A recipe config is one dataclass: ``RecipeArgs`` plus TRL's own config (``GRPOConfig`` or ``SFTConfig``), so
every TRL option is a recipe option too. Building one has no side effects: W&B set-up and its network probe
wait for ``minireason.recipes.runs.run_stage``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import TYPE_CHECKING

import yaml

from minireason.answer_format import check_prompt_style
from minireason.models import DEFAULT_LORA
from minireason.tasks import get_task

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from transformers import PreTrainedModel


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
    verbose: bool = dataclasses.field(default=False, metadata={
        "help": "Print TRL's, transformers' and W&B's own output (a metrics dict every step, tables of completions, "
                "W&B's banner and summary) instead of one progress line a stage and a few completions as plain text. "
                "W&B receives the same figures either way."})
    gpu_hour_cost: float = dataclasses.field(
        default=2.0, metadata={"help": "$ per GPU-hour for the logged cost (TinyZero: ~$30 a run; Sky-T1: ~$450)."})

    # One field for what TRL splits over two booleans: `--fp16 false` on a T4 named nothing to compute in instead,
    # and the card's fp16 came back. Resolved when the config is built; a value the recipe or a flag gives is kept.
    precision: str = dataclasses.field(default="auto", metadata={
        "help": "auto, fp32, fp16 or bf16. auto: bf16 on a GPU that computes in it, fp16 with loss scaling on one that "
                "does not (a T4), bf16 on a CPU with AVX512-BF16 or AMX, fp32 on one without (it emulates bf16, "
                "several times slower). fp32 is the way out of an "
                "fp16 overflow on a T4."})
    bf16: bool | None = dataclasses.field(default=None, metadata={
        "help": "Set by precision; `--bf16 true` is read as `--precision bf16`."})
    fp16: bool | None = dataclasses.field(default=None, metadata={
        "help": "Set by precision; `--fp16 true` is read as `--precision fp16`."})
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

        from minireason.hardware import attention_implementation, bf16_native, resolve_precision, weights_dtype

        gpu = torch.cuda.is_available()
        self.precision = precision_asked(self.precision, self.bf16, self.fp16)
        # What the hardware decided here, so that `minireason estimate` can decide it again for another card.
        if self.activation_checkpointing is None:
            self.activation_checkpointing = self.gradient_checkpointing
        self.hardware_defaults = [name for name in ("precision", "activation_checkpointing")
                                  if getattr(self, name) in ("auto", None)]
        self.model_init_kwargs = as_mapping(self.model_init_kwargs)
        if "dtype" not in self.model_init_kwargs:
            self.hardware_defaults.append("dtype")
        if self.activation_checkpointing is None:
            self.activation_checkpointing = gpu
        self.precision = resolve_precision(self.precision, gpu, bf16_native())
        self.bf16, self.fp16 = self.precision == "bf16", self.precision == "fp16"
        dtype = weights_dtype(self.precision, trains_base_weights=not self.lora)
        self.model_init_kwargs.setdefault("dtype", dtype)
        attention = attention_implementation(self.precision, gpu)
        if attention != "sdpa":  # TRL loads a path as load_model loads a model
            self.model_init_kwargs.setdefault("attn_implementation", attention)
        if gpu:
            # The whole model on this process's own GPU: its LOCAL_RANK under `accelerate launch` (Kaggle's second
            # T4 is rank 1), else the first. TRL's default, "auto", splits one process's model over every visible
            # GPU, which only adds transfers for a model that fits one. (TRL resets a path's device_map under
            # several processes and lets the loader place it; a saved adapter's model, the SFT → GRPO route, is
            # loaded here, and accelerate refuses a 4-bit model on another process's GPU.)
            self.model_init_kwargs.setdefault("device_map", {"": int(os.environ.get("LOCAL_RANK", 0))})
        else:
            # accelerate runs several launched processes as one CPU job (gloo) only when told it is on a CPU.
            self.use_cpu = True
        super().__post_init__()
        if self.n_gpu > 1 and self.distributed_state.distributed_type == "NO":
            # One process trains on one GPU: transformers would wrap the model in nn.DataParallel (which refuses
            # 4-bit models) and multiply the batch by the GPU count. `accelerate launch` uses every GPU.
            self._n_gpu = 1

    @contextlib.contextmanager
    def building(self, model: str | PreTrainedModel):
        """While a TRL trainer is built on ``model``: a model already loaded (a saved adapter's, from ``policy``)
        takes no ``model_init_kwargs``, so TRL is not handed them, which it would warn go unused; they are back
        afterwards, where the run's settings record them."""
        kept = self.model_init_kwargs
        if not isinstance(model, str):
            self.model_init_kwargs = None
        try:
            yield
        finally:
            self.model_init_kwargs = kept

    def peft_config(self):
        from minireason.models import lora_config

        return lora_config({"r": self.lora_r, "lora_alpha": self.lora_alpha, "lora_dropout": self.lora_dropout})

    def policy(self):
        """``(model, peft_config, quantization_config)`` for a TRL trainer: a path that TRL loads
        (in 4-bit, with new LoRA adapters), or a PeftModel when continuing from a saved adapter."""
        import torch

        from minireason.hardware import FP32_ATTENTION, compute_dtype
        from minireason.models import load_model, quantization_config, register_fp32_attention, resolve_model, set_lora_dropout

        dtype = self.model_init_kwargs["dtype"]
        dtype = getattr(torch, dtype) if dtype in ("float32", "float16", "bfloat16") else None  # None: the card's
        computes_in = getattr(torch, compute_dtype(self.precision))  # the 4-bit layers' compute dtype
        if self.adapter:
            model, _ = load_model(self.model, load_in_4bit=self.load_in_4bit, lora=True, adapter=self.adapter,
                                  dtype=dtype, compute_dtype=computes_in, precision=self.precision,
                                  device_map=self.model_init_kwargs.get("device_map"))
            set_lora_dropout(model, self.lora_dropout)  # this stage's setting, not the one the adapter was saved with
            return model, None, None
        if self.model_init_kwargs.get("attn_implementation") == FP32_ATTENTION:
            register_fp32_attention()  # the name TRL will load the model with
        return (resolve_model(self.model), self.peft_config() if self.lora else None,
                quantization_config(computes_in) if self.load_in_4bit else None)


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


def precision_asked(precision: str, bf16: bool | None, fp16: bool | None) -> str:
    """The precision a recipe asks for, with TRL's two booleans read as shorthand: ``--bf16 true`` is ``bf16``,
    ``--fp16 true`` is ``fp16``. A false one names nothing to compute in, so it is refused, not ignored.

    >>> precision_asked("auto", None, True), precision_asked("fp32", None, None), precision_asked("auto", None, None)
    ('fp16', 'fp32', 'auto')
    >>> precision_asked("auto", None, False)
    Traceback (most recent call last):
    ...
    ValueError: fp16 false does not say what to compute in: use --precision fp32 (or auto, bf16)
    """
    asked = [name for name, value in (("bf16", bf16), ("fp16", fp16)) if value]
    refused = [name for name, value in (("bf16", bf16), ("fp16", fp16)) if value is False]
    if refused:
        others = ", ".join(p for p in ("auto", "fp32", "fp16", "bf16") if p not in (*refused, "fp32"))
        raise ValueError(f"{refused[0]} false does not say what to compute in: use --precision fp32 (or {others})")
    if len(asked) > 1 or (asked and precision not in ("auto", asked[0])):
        raise ValueError(f"precision {precision!r} and {asked[0]} true disagree: set only --precision")
    return asked[0] if asked else precision


def as_mapping(value: dict | str | None) -> dict:
    """A dict from a mapping, None, or a YAML/JSON mapping given as text (a flag's value).

    >>> as_mapping('{op: add, digits: 2}'), as_mapping(None)
    ({'op': 'add', 'digits': 2}, {})
    """
    return dict(yaml.safe_load(value) if isinstance(value, str) else value or {})
