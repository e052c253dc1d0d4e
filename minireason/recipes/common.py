"""What every recipe shares: model/task arguments, CPU-safe defaults, W&B, resume, cost.

A recipe config is one dataclass: ``RecipeArgs`` (this file) plus TRL's own config
(``GRPOConfig`` or ``SFTConfig``), so every TRL option is a recipe option too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import socket
import time
from pathlib import Path

import yaml
from transformers import TrainerCallback

from minireason.tasks import get_task

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclasses.dataclass
class RecipeArgs:
    method: str = dataclasses.field(default="grpo", metadata={"help": "grpo, sft or sft-then-grpo."})
    model: str = dataclasses.field(
        default="smollm2-135m", metadata={"help": "smollm2-135m (embedded), tiny, an alias (qwen2.5-3b), hub id or folder."})
    adapter: str | None = dataclasses.field(
        default=None, metadata={"help": "A saved LoRA adapter to start from (e.g. the SFT stage's output)."})
    load_in_4bit: bool = dataclasses.field(default=False, metadata={"help": "QLoRA: nf4 base weights (bitsandbytes)."})
    lora: bool = dataclasses.field(default=True, metadata={"help": "Train LoRA adapters instead of all weights."})
    lora_r: int = dataclasses.field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = dataclasses.field(default=32, metadata={"help": "LoRA scale numerator (alpha / r scales the update)."})
    lora_dropout: float = dataclasses.field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    task: str = dataclasses.field(default="countdown", metadata={"help": "countdown, arithmetic or math."})
    task_params: dict | str | None = dataclasses.field(
        default=None, metadata={"help": "Task parameters as a YAML/JSON mapping, e.g. '{op: add, digits: 2}'."})
    n_train: int = dataclasses.field(default=2000, metadata={"help": "Training problems generated (seed = seed)."})
    n_eval: int = dataclasses.field(default=64, metadata={"help": "Held-out problems for the final evaluation (0: none)."})
    # Fixed apart from `seed`, so runs with different training seeds are scored on the same problems (paired).
    eval_seed: int = dataclasses.field(default=0, metadata={"help": "Seed of the held-out evaluation problems."})
    eval_max_new_tokens: int = dataclasses.field(default=128, metadata={"help": "Generation budget when evaluating."})
    prompt_style: str = dataclasses.field(
        default="chat", metadata={"help": "chat (the chat template) or base (R1-Zero text prompt ending in <think>)."})
    wandb_project: str = dataclasses.field(default="minireason", metadata={"help": "W&B project name."})
    gpu_hour_cost: float = dataclasses.field(
        default=2.0, metadata={"help": "$ per GPU-hour for the logged cost (TinyZero: ~$30 a run; Sky-T1: ~$450)."})

    def _prepare(self) -> None:
        """Normalise our fields and make TRL's defaults safe for the hardware; call before TRL's __post_init__."""
        import torch

        if isinstance(self.task_params, str):
            self.task_params = yaml.safe_load(self.task_params)
        self.task_params = dict(self.task_params or {})
        if self.prompt_style not in ("chat", "base"):
            raise ValueError(f"prompt_style must be chat or base, got {self.prompt_style!r}")
        get_task(self.task, **self.task_params)  # fail now, not after loading a model
        if not torch.cuda.is_available():
            # TRL defaults to bf16, which autocasts ~25x slower than fp32 on CPU, and to
            # gradient checkpointing, which only trades time for GPU memory.
            self.bf16, self.fp16, self.gradient_checkpointing = False, False, False
            self.model_init_kwargs = {**(self.model_init_kwargs or {}), "dtype": "float32"}
        else:
            self.bf16, self.fp16 = gpu_precision(self.bf16, self.fp16, torch.cuda.is_bf16_supported())
        if isinstance(self.report_to, str):
            self.report_to = [self.report_to]
        if "wandb" in (self.report_to or []):
            configure_wandb(self.wandb_project)

    def peft_config(self):
        from minireason.models import lora_config

        return lora_config({"r": self.lora_r, "lora_alpha": self.lora_alpha, "lora_dropout": self.lora_dropout})

    def policy(self):
        """``(model, peft_config, quantization_config)`` for a TRL trainer: a path that TRL loads
        (in 4-bit, with new LoRA adapters), or a PeftModel when continuing from a saved adapter."""
        from minireason.models import load_model, quantization_config, resolve_model, set_lora_dropout

        if self.adapter:
            model, _ = load_model(self.model, load_in_4bit=self.load_in_4bit, lora=True, adapter=self.adapter)
            set_lora_dropout(model, self.lora_dropout)  # this stage's setting, not the one the adapter was saved with
            return model, None, None
        return (resolve_model(self.model), self.peft_config() if self.lora else None,
                quantization_config() if self.load_in_4bit else None)


def gpu_precision(bf16: bool | None, fp16: bool, bf16_supported: bool) -> tuple[bool | None, bool]:
    """``(bf16, fp16)`` on a GPU: TRL's default (bf16, when neither is set) where the card has
    bf16, else fp16 mixed precision (a T4 has no bf16). An explicit choice is kept.

    >>> gpu_precision(None, False, bf16_supported=False)   # a T4, nothing asked: fp16
    (False, True)
    >>> gpu_precision(None, False, bf16_supported=True)    # an A100: TRL's default, bf16
    (None, False)
    >>> gpu_precision(True, False, bf16_supported=False)   # asked for: kept (transformers will refuse it)
    (True, False)
    """
    if bf16 is None and not fp16 and not bf16_supported:
        return False, True
    return bf16, fp16


def configure_wandb(project: str) -> str:
    """Online with an API key and a network; otherwise offline (``wandb sync`` later). Returns the mode."""
    os.environ.setdefault("WANDB_PROJECT", project)
    if os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        return os.environ["WANDB_MODE"]
    has_key = bool(os.environ.get("WANDB_API_KEY")) or (Path.home() / ".netrc").exists()
    if not has_key or not _reachable("api.wandb.ai", 443):
        os.environ["WANDB_MODE"] = "offline"
        print("minireason: W&B has no key or no network; logging offline (run `wandb sync` later).")
    return os.environ.get("WANDB_MODE", "online")


def _reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def task_data(cfg: RecipeArgs):
    """``(task, train_rows, eval_rows)``. Evaluation questions are the task's held-out ones (``Task.split_rows``),
    drawn with ``eval_seed``: every run of a task, whatever its seed or size, is scored on the same problems
    and never trains on them."""
    task = get_task(cfg.task, **cfg.task_params)
    return task, task.split_rows(cfg.n_train, cfg.seed), task.split_rows(cfg.n_eval, cfg.eval_seed, held_out=True)


def evaluate_base(cfg: RecipeArgs):
    """The stage's starting model (its adapter included, if any) on the held-out problems the stage
    evaluates on after training, greedy: the "before" of a before/after. The model is freed after."""
    import gc

    import torch

    from minireason.evaluation import evaluate
    from minireason.models import load_model

    _, _, eval_rows = task_data(cfg)
    model, tokenizer = load_model(cfg.model, load_in_4bit=cfg.load_in_4bit, adapter=cfg.adapter)
    try:
        return evaluate(model, tokenizer, eval_rows, max_new_tokens=cfg.eval_max_new_tokens,
                        chat=cfg.prompt_style == "chat")
    finally:
        del model
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def prompt_of(row: dict, style: str):
    return row["prompt"] if style == "chat" else row["prompt_base"]


def resumable_checkpoint(output_dir: str) -> str | None:
    """The newest complete checkpoint in ``output_dir``; incomplete ones (killed mid-save) are deleted.

    The Trainer writes ``trainer_state.json`` last, so a checkpoint is complete when that
    file parses and names the checkpoint's own step.
    """
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    complete = []
    for path in folder.iterdir():
        match = _CHECKPOINT.match(path.name)
        if not match or not path.is_dir():
            continue
        try:
            state = json.loads((path / "trainer_state.json").read_text())
            ok = state.get("global_step") == int(match.group(1))
        except (OSError, ValueError):
            ok = False
        if ok:
            complete.append((int(match.group(1)), path))
        else:
            print(f"minireason: removing incomplete checkpoint {path}")
            shutil.rmtree(path, ignore_errors=True)
    return str(max(complete)[1]) if complete else None


def finished_summary(cfg) -> dict | None:
    """The saved summary of a run in ``output_dir`` that already reached ``max_steps``, if any.

    Running a finished recipe again (a notebook cell re-run, the same command twice) returns it
    instead of training: resuming at the last step would still take one more GRPO step.
    """
    path = Path(cfg.output_dir) / "summary.json"
    if cfg.max_steps <= 0 or not path.exists():
        return None
    summary = json.loads(path.read_text())
    if summary.get("steps") != cfg.max_steps:
        return None
    print(f"minireason: {cfg.output_dir} already holds this run, trained to step {cfg.max_steps}; "
          "returning its summary (another --output_dir, or --max_steps, trains again)")
    return summary


class CostCallback(TrainerCallback):
    """Adds device-hours and dollars (device-hours × ``gpu_hour_cost``) to every log.

    Device-hours are wall hours × GPUs in use (× 1 on a CPU machine, priced the same).
    """

    def __init__(self, gpu_hour_cost: float):
        import torch

        self.gpu_hour_cost = gpu_hour_cost
        self.devices = max(torch.cuda.device_count(), 1)
        self.started = time.time()
        self.offset_hours = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        # A resumed run keeps counting from what the checkpoint had spent.
        previous = [entry for entry in state.log_history if "cost/device_hours" in entry]
        self.offset_hours = previous[-1]["cost/device_hours"] if previous else 0.0
        self.started = time.time()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None:
            return
        hours = self.offset_hours + (time.time() - self.started) / 3600 * self.devices
        logs["cost/device_hours"] = round(hours, 6)
        logs["cost/usd"] = round(hours * self.gpu_hour_cost, 4)
        logs["cost/wall_minutes"] = round((time.time() - self.started) / 60, 3)


def track_cost(trainer, gpu_hour_cost: float) -> None:
    """Add ``CostCallback`` ahead of the reporting callbacks, so W&B sees the cost fields."""
    trainer.callback_handler.callbacks.insert(0, CostCallback(gpu_hour_cost))


def log_summary(cfg, summary: dict) -> None:
    """Write the run's final figures to ``output_dir/summary.json`` and to the W&B run, if any,
    then close that run (each stage of a recipe is one W&B run)."""
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(cfg.output_dir) / "summary.json").write_text(json.dumps(summary, indent=2))
    try:
        import wandb
    except ImportError:  # pragma: no cover - wandb is a dependency
        return
    if wandb.run is not None:  # the Trainer already logged the resolved config (our fields included)
        figures = {k: v for k, v in summary.items() if isinstance(v, (int, float))}
        for key, value in summary.items():  # intervals as two numbers, which W&B can chart
            if key.endswith("ci95"):
                figures[f"{key}_low"], figures[f"{key}_high"] = value
        wandb.run.summary.update({f"final/{k}": v for k, v in figures.items()})
        wandb.finish()
