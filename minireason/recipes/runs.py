"""Running one stage of a recipe: the run's identity, resuming, cost, the summary, and the one train body
(train → save → evaluate) that every method shares.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from transformers import TrainerCallback

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from transformers import Trainer, TrainerControl, TrainerState, TrainingArguments

    from minireason.recipes.config import RecipeArgs

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# Fields that change where and how a run reports, not what it trains: a run may resume or be re-run with
# other values. max_steps is one: raising it continues a finished run from its last checkpoint.
_BOOKKEEPING = ("output_dir", "logging_dir", "run_name", "report_to", "wandb_project", "gpu_hour_cost", "verbose",
                "logging_steps", "log_completions", "num_completions_to_print", "save_steps", "save_total_limit",
                "disable_tqdm", "max_steps", "push_to_hub", "hub_model_id", "curve_every", "curve_problems")


def run_settings(cfg: RecipeArgs) -> dict:
    """The settings that make a run what it is (every config field but ``_BOOKKEEPING``, and not the GPU a process
    places its model on: each launched process has its own), as JSON values."""
    settings = json.loads(json.dumps(cfg.to_dict(), default=str))
    if isinstance(settings.get("model_init_kwargs"), dict):
        settings["model_init_kwargs"].pop("device_map", None)
    return {key: value for key, value in sorted(settings.items()) if key not in _BOOKKEEPING}


def settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def claim_output_dir(cfg: RecipeArgs) -> None:
    """Write ``output_dir/run_config.json`` (the settings, their hash, the prompt style that ``minireason eval
    --run`` reads), or refuse a folder that holds a run with other settings: resuming it, or returning its
    summary, would mix two runs under one name."""
    settings = run_settings(cfg)
    path = Path(cfg.output_dir) / "run_config.json"
    if path.exists():
        before = json.loads(path.read_text())
        if before.get("hash") != settings_hash(settings):
            old = before.get("settings", {})
            changed = [f"{key}: {old.get(key)!r} -> {settings.get(key)!r}" for key in sorted(set(old) | set(settings))
                       if old.get(key) != settings.get(key)]
            raise ValueError(f"{cfg.output_dir} holds a run with other settings ({'; '.join(changed[:6])}"
                             f"{'; …' if len(changed) > 6 else ''}); use another --output_dir, or delete the folder "
                             "to start over")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".run_config.{os.getpid()}.json")  # several launched processes may write at once
    partial.write_text(json.dumps({"hash": settings_hash(settings), "settings": settings}, indent=2) + "\n")
    os.replace(partial, path)


def trained_run(output_dir: str | Path) -> dict:
    """What ``claim_output_dir`` recorded of a trained run, as an evaluation loads it: the model (the saved
    ``final/`` weights after full fine-tuning), the LoRA adapter, 4-bit loading, the task and the prompt style."""
    path = Path(output_dir) / "run_config.json"
    if not path.exists():
        raise ValueError(f"{output_dir} holds no run_config.json: not a folder written by `minireason train`")
    settings = json.loads(path.read_text())["settings"]
    lora, final = settings.get("lora", True), str(Path(output_dir) / "final")
    return {"model": settings["model"] if lora else final, "adapter": final if lora else None,
            "load_in_4bit": settings.get("load_in_4bit", False), "task": settings["task"],
            "task_params": settings.get("task_params") or {}, "prompt_style": settings.get("prompt_style")}


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


class OldRunError(ValueError):
    """A stage folder saved by an older minireason, which ``minireason upgrade`` brings to the current format."""


def refuse_old_run(output_dir: str | Path) -> None:
    """Raise ``OldRunError`` if ``output_dir`` holds a stage evaluated before stages wrote ``output_dir/eval``:
    returned as finished, it would have no evaluation to read."""
    from minireason.reports.evals import OLD_STAGE_SAMPLES

    if (Path(output_dir) / OLD_STAGE_SAMPLES).exists():
        raise OldRunError(f"{output_dir} was evaluated by an older minireason; bring it to the current format with "
                          f"`minireason upgrade {output_dir}`, then run again")


def finished_summary(cfg: RecipeArgs) -> dict | None:
    """The saved summary of this run (same settings, ``claim_output_dir``) if it already reached ``max_steps``,
    or, trained by epochs (``max_steps`` unset), if it was trained by epochs too: its schedule was the same.

    Running a finished recipe again (a notebook cell re-run, the same command twice) returns it instead of
    training: resuming at the last step would still take one more GRPO step, and an SFT run would load its
    last checkpoint, train nothing, and be evaluated again (overwriting its log's training time).
    """
    path = Path(cfg.output_dir) / "summary.json"
    if not path.exists():
        return None
    summary = json.loads(path.read_text())
    done = summary.get("steps") == cfg.max_steps if cfg.max_steps > 0 else summary.get("max_steps") == cfg.max_steps
    if not done:
        return None
    print(f"minireason: {cfg.output_dir} already holds this run, trained to step {summary['steps']}; "
          "returning its summary (another --output_dir, or --max_steps, trains again)")
    return summary


def devices_in_use(world_size: int, gpu: bool) -> int:
    """The GPUs a run pays for: one per training process (``world_size``), not every GPU the machine shows (one
    process on a Kaggle box of two T4s trains on one); a CPU machine counts as one device, however many processes
    share it.

    >>> devices_in_use(1, gpu=True), devices_in_use(2, gpu=True), devices_in_use(2, gpu=False)
    (1, 2, 1)
    """
    return max(world_size, 1) if gpu else 1


class CostCallback(TrainerCallback):
    """Adds device-hours and dollars (device-hours × ``gpu_hour_cost``) to every log.

    Device-hours are wall hours × ``devices_in_use``.
    """

    def __init__(self, gpu_hour_cost: float):
        self.gpu_hour_cost = gpu_hour_cost
        self.devices = 1
        self.started = time.time()
        self.offset_hours = 0.0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        import torch

        self.devices = devices_in_use(args.world_size, torch.cuda.is_available())
        # A resumed run keeps counting from what the checkpoint had spent.
        previous = [entry for entry in state.log_history if "cost/device_hours" in entry]
        self.offset_hours = previous[-1]["cost/device_hours"] if previous else 0.0
        self.started = time.time()

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs: dict | None = None,
               **kwargs):
        if logs is None:
            return
        hours = self.offset_hours + (time.time() - self.started) / 3600 * self.devices
        logs["cost/device_hours"] = round(hours, 6)
        logs["cost/usd"] = round(hours * self.gpu_hour_cost, 4)
        logs["cost/wall_minutes"] = round((time.time() - self.started) / 60, 3)


def track_cost(trainer: Trainer, gpu_hour_cost: float) -> None:
    """Add ``CostCallback`` ahead of the reporting callbacks, so W&B sees the cost fields."""
    trainer.callback_handler.callbacks.insert(0, CostCallback(gpu_hour_cost))


class HeldOutCurve(TrainerCallback):
    """Greedy accuracy and format rate on the first held-out problems every ``every`` steps, and before the first.

    Each point goes into the trainer's log history (``curve/accuracy``, ``curve/format_rate``, ``curve/seconds``),
    so it reaches W&B and a resumed run keeps the points it had. The adapter stays unmerged while the curve is
    measured (``merge_lora=False``): merging can round the weights, and greedy decoding draws no random numbers,
    so the run is the same with or without its curve.
    """

    def __init__(self, trainer, rows: list[dict], every: int, max_new_tokens: int, prompt_style: str):
        self.trainer, self.rows, self.every = trainer, rows, every
        self.max_new_tokens, self.prompt_style = max_new_tokens, prompt_style

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if state.global_step == 0:
            self._measure(state)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if state.global_step % self.every == 0 and state.global_step < state.max_steps:
            self._measure(state)

    def _measure(self, state) -> None:
        from minireason.scaling import evaluate

        if not state.is_world_process_zero:
            return
        result = evaluate(self.trainer.model, self.trainer.processing_class, self.rows, self.max_new_tokens,
                          prompt_style=self.prompt_style, progress=False, merge_lora=False)
        state.log_history.append({"step": state.global_step, "curve/accuracy": result.accuracy,
                                  "curve/format_rate": result.format_rate, "curve/seconds": round(result.seconds, 1)})
        print(f"minireason: held-out curve, step {state.global_step}: accuracy {result.accuracy:.1%}, "
              f"format {result.format_rate:.1%} ({len(self.rows)} problems, {result.seconds:.0f} s)")


def held_out_curve(log_history: list[dict], final_samples: list[dict], n: int, step: int) -> list[list]:
    """``[step, accuracy, format_rate]`` per curve point in a run's log, then the final evaluation's figures on
    the same first ``n`` problems at the last step.

    >>> held_out_curve([{"step": 0, "curve/accuracy": 0.25, "curve/format_rate": 1.0}, {"step": 1, "loss": 0.1}],
    ...                [{"correct": True, "well_formed": True}, {"correct": False, "well_formed": True}], 2, 10)
    [[0, 0.25, 1.0], [10, 0.5, 1.0]]
    """
    points = {entry["step"]: [entry["step"], entry["curve/accuracy"], entry["curve/format_rate"]]
              for entry in log_history if "curve/accuracy" in entry}
    if final_samples:
        first = final_samples[:n]
        points[step] = [step, sum(s["correct"] for s in first) / len(first),
                        sum(s["well_formed"] for s in first) / len(first)]
    return [points[key] for key in sorted(points)]


def log_summary(cfg: RecipeArgs, summary: dict, evaluation: dict | None = None) -> None:
    """Write the run's training facts to ``output_dir/summary.json``; log them and its ``evaluation``'s figures
    (``final/eval/…``) to the W&B run, if any, then close that run (each stage of a recipe is one W&B run)."""
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(cfg.output_dir) / "summary.json").write_text(json.dumps(summary, indent=2))
    try:
        import wandb
    except ImportError:  # pragma: no cover - wandb is a dependency
        return
    if wandb.run is not None:  # the Trainer already logged the resolved config (our fields included)
        from minireason.tracking import flat_figures

        figures = {**summary, "eval": evaluation["metrics"] if evaluation else {}}
        wandb.run.summary.update({f"final/{k}": v for k, v in flat_figures(figures).items()})
        wandb.finish()


def run_stage(cfg: RecipeArgs, build_trainer: Callable, details: Callable[[object], dict]) -> dict:
    """Train one stage, resuming from its last complete checkpoint; save the model to ``output_dir/final``;
    evaluate it (greedy) on the held-out problems; write and return the summary.

    ``build_trainer(cfg) -> (trainer, eval_rows)`` is the method's own part (model, data, rewards, trainer);
    ``details(trainer)`` adds the method's own summary fields.
    """
    from transformers import PrinterCallback, ProgressCallback

    from minireason.console import StageConsole, quiet_libraries
    from minireason.evaluation import first_samples
    from minireason.reports.evals import save_stage_run
    from minireason.scaling import evaluate
    from minireason.tracking import configure_wandb

    claim_output_dir(cfg)
    if (done := finished_summary(cfg)) is not None:
        return done
    if not cfg.verbose:
        quiet_libraries()
    if "wandb" in (cfg.report_to or []):
        configure_wandb(cfg.wandb_project)
    trainer, eval_rows = build_trainer(cfg)
    track_cost(trainer, cfg.gpu_hour_cost)
    if not cfg.verbose:  # one progress line instead of the Trainer's bar and its metrics dict at every log
        for printer in (ProgressCallback, PrinterCallback):
            trainer.remove_callback(printer)
        trainer.add_callback(StageConsole(trainer, Path(cfg.output_dir).name,
                                          samples=(cfg.num_completions_to_print or 2) if cfg.method == "grpo" else 0))
    if cfg.curve_every and eval_rows:
        trainer.add_callback(HeldOutCurve(trainer, eval_rows[:cfg.curve_problems], cfg.curve_every,
                                          cfg.eval_max_new_tokens, cfg.prompt_style))

    # Train, from the last complete checkpoint when a killed run is started again.
    checkpoint = resumable_checkpoint(cfg.output_dir)
    if checkpoint:
        print(f"minireason: resuming from {checkpoint}")
    trainer.train(resume_from_checkpoint=checkpoint)

    # Save the model (the adapter, under LoRA) and the log history.
    final = Path(cfg.output_dir) / "final"
    trainer.save_model(str(final))
    trainer.save_state()  # output_dir/trainer_state.json: the log history, for plots and timings

    summary = {"method": cfg.method, "steps": trainer.state.global_step, "max_steps": cfg.max_steps,
               "final": str(final),
               **details(trainer)}
    if not trainer.is_world_process_zero():  # launched as several processes: the first evaluates and writes
        return summary
    # Evaluate greedily on the held-out problems, saved as every evaluation is (output_dir/eval); write the summary.
    evaluation = None
    if eval_rows:
        trainer.processing_class.padding_side = "left"  # generation pads on the left (SFT trains on the right)
        result = evaluate(trainer.model, trainer.processing_class, eval_rows,
                          max_new_tokens=cfg.eval_max_new_tokens, prompt_style=cfg.prompt_style)
        evaluation = save_stage_run(result, cfg.output_dir, run_settings(cfg), trainer.state.global_step)
        summary["eval"] = str(Path(cfg.output_dir) / "eval")
        if cfg.curve_every:
            summary["held_out_curve"] = held_out_curve(trainer.state.log_history, first_samples(result.problems),
                                                       cfg.curve_problems, trainer.state.global_step)
    log_summary(cfg, summary, evaluation)
    return summary
