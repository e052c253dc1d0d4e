"""Supervised fine-tuning with LoRA/QLoRA: R1's cold start, or distilled / journey data.

Reads top to bottom: config → model → data → trainer; ``run_stage`` then trains (resuming), saves and
evaluates.
The loss covers the assistant's completion only (TRL's prompt-completion format).

    minireason train smollm2-135m/sft/cpu
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from datasets import Dataset, load_dataset, load_from_disk
from trl import SFTConfig, SFTTrainer

from minireason.answer_format import THINK_OPEN
from minireason.journey import CATCH_STYLES, journey_examples
from minireason.models import load_tokenizer, settle_dtypes
from minireason.recipes.catalog import data_recipe_writing
from minireason.recipes.config import RecipeArgs
from minireason.recipes.data import drop_eval_questions, task_data
from minireason.recipes.runs import run_stage
from minireason.tasks import row_prompt
from minireason.training_guard import GuardedTraining

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from transformers import PreTrainedTokenizerBase

    from minireason.tasks import Task


@dataclasses.dataclass
class SFTRecipe(RecipeArgs, SFTConfig):
    """Every SFTConfig option, plus the model, task and data choices below."""

    method: str = dataclasses.field(default="sft", metadata={"help": "grpo, sft or sft-then-grpo."})
    dataset_path: str | None = dataclasses.field(
        default=None, metadata={"help": "A data set with prompt+completion (or messages) columns: JSONL, parquet, or a "
                                        "save_to_disk folder (what `minireason data distill/journey` write). If unset, "
                                        "traces are written for the task's own problems (see data_style)."})
    data_style: str = dataclasses.field(
        default="reference", metadata={"help": "Traces written for the task's problems when dataset_path is unset: "
                                               "reference (short solution), shortcut (the clean step-by-step path) or "
                                               "journey (the same steps with mistakes caught and corrected)."})
    # 0.3 puts a correction in roughly half of 2-3 step traces: enough to learn from, most steps clean.
    error_rate: float = dataclasses.field(default=0.3, metadata={"help": "Journey traces: chance of a mistake per step."})
    search_strategy: str = dataclasses.field(default="dfs", metadata={
        "help": "Journey traces for Countdown: wrong turns picked dfs (any dead end) or greedy (the dead end nearest "
                "the target), or search: the trace is a whole depth-first search, nearest-the-target moves first, "
                "every leaf tried and every dead end backed out of (Stream of Search); a search past 24 lines is "
                "written as its direct path."})
    catch_style: str = dataclasses.field(default="slips", metadata={
        "help": "Arithmetic journeys: slips (a check only after a slip, 'Wait, let me check that'), every_step (a "
                "check after every step that undoes it and passes right ones with a tick, so checking is a habit) "
                "or recompute (the same, but the check works the step again another way: 9 + 5 for 5 + 9)."})
    same_endings: bool = dataclasses.field(default=False, metadata={
        "help": "Arithmetic journeys: a slipped line goes on from its wrong value as a right line would (', write "
                "9'), so its ending does not tell the model that it slipped."})
    error_source: str = dataclasses.field(default="injected", metadata={
        "help": "Arithmetic journeys: injected (a plausible slip at error_rate per step) or own (each problem's slip "
                "is the first wrong step of a trained model's own answer to it: own_errors_from)."})
    own_errors_from: str | None = dataclasses.field(default=None, metadata={
        "help": "error_source own: a trained run's output_dir (e.g. the shortcut arm's). Its model answers each "
                "training problem once at temperature 0.7, in this recipe's prompt style; the answers are kept in "
                "output_dir/own-answers."})
    mask_errors: bool = dataclasses.field(default=False, metadata={
        "help": "Journey traces: no loss on the wrong values (the model learns the check and the correction, not "
                "the slip)."})
    # LoRA on a small data set: 1e-4 to 2e-4 is the usual range (QLoRA used 2e-4).
    learning_rate: float = dataclasses.field(default=2e-4, metadata={"help": "AdamW learning rate."})
    num_train_epochs: float = dataclasses.field(default=1.0, metadata={"help": "Passes over the data."})
    max_length: int | None = dataclasses.field(default=512, metadata={"help": "Tokens per example (longer are cut)."})
    logging_steps: float = dataclasses.field(default=5, metadata={"help": "Log every N steps."})
    save_steps: float = dataclasses.field(default=50, metadata={"help": "Checkpoint every N steps (resume point)."})
    save_total_limit: int | None = dataclasses.field(default=2, metadata={"help": "Checkpoints kept."})

    def __post_init__(self):
        if self.data_style not in ("reference", "shortcut", "journey"):
            raise ValueError(f"data_style must be reference, shortcut or journey, got {self.data_style!r}")
        if self.catch_style not in CATCH_STYLES:
            raise ValueError(f"catch_style must be one of {CATCH_STYLES}, got {self.catch_style!r}")
        if self.error_source not in ("injected", "own"):
            raise ValueError(f"error_source must be injected or own, got {self.error_source!r}")
        if (self.error_source == "own") != bool(self.own_errors_from):
            raise ValueError("error_source own takes its slips from a trained run: set own_errors_from (and only then)")
        shaped = (self.catch_style, self.same_endings, self.mask_errors, self.error_source) != (
            "slips", False, False, "injected")
        if shaped and self.task != "arithmetic":
            raise ValueError("catch_style, same_endings, mask_errors and error_source shape arithmetic slips; a "
                             "Countdown journey's wrong turns are true moves that lead nowhere, with nothing to catch "
                             "or mask")
        if self.completion_only_loss is None and not self.dataset_path:
            # The task's own rows are prompt-completion pairs, and traces are pre-tokenized (trace_examples), which
            # TRL does not read as pairs: told nothing, it would train on the prompt and on masked errors too. Set
            # here, so a run's settings (and their hash) show it.
            self.completion_only_loss = True
        super().__post_init__()


def sft_example(task: Task, row: dict, style: str, completion: str | None = None) -> dict:
    """A prompt-completion pair from a task row and a trace (by default its reference solution)."""
    completion = completion or task.reference_completion(row)
    if style == "chat":
        completion = [{"role": "assistant", "content": completion}]
    else:
        completion = completion.removeprefix(THINK_OPEN)  # the base prompt already ends in <think>
    return {"prompt": row_prompt(row, style), "completion": completion}


def tokenized_trace(tokenizer: PreTrainedTokenizerBase, prompt: str | list[dict], completion: str, style: str,
                    masked: list[tuple[int, int]] = ()) -> dict:
    """``input_ids`` and ``completion_mask`` (TRL's pre-tokenized format) for a prompt and a trace; the loss
    leaves out the prompt and the ``masked`` character spans of the trace (a journey's wrong values)."""
    if style == "chat":
        prompt_text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(prompt + [{"role": "assistant", "content": completion}], tokenize=False)
        if not full.startswith(prompt_text + completion):
            raise ValueError("the chat template does not render the trace right after the generation prompt")
        suffix, shift = full[len(prompt_text):], 0
    else:  # the base prompt already ends in <think>
        suffix, shift = completion.removeprefix(THINK_OPEN) + tokenizer.eos_token, len(completion) - len(
            completion.removeprefix(THINK_OPEN))
    prompt_ids = tokenizer(prompt_text if style == "chat" else prompt, add_special_tokens=False)["input_ids"]
    encoded = tokenizer(suffix, add_special_tokens=False, return_offsets_mapping=True)
    spans = [(start - shift, end - shift) for start, end in masked]
    keep = [int(not any(start < span_end and span_start < end for span_start, span_end in spans))
            for start, end in encoded["offset_mapping"]]
    return {"input_ids": prompt_ids + encoded["input_ids"], "completion_mask": [0] * len(prompt_ids) + keep}


def require_data_set(path: str) -> None:
    """Refuse a data set that is not there yet, naming the shipped recipe that builds it where one does."""
    if not Path(path).exists():
        builder = data_recipe_writing(path)
        how = f"build it first: {builder.launch}" if builder else "write it with `minireason data distill` first"
        raise FileNotFoundError(f"no data set at {path}: {how}")


def load_sft_data(path: str) -> Dataset:
    """prompt+completion (or messages) columns from a save_to_disk folder, parquet or JSONL; other columns
    (ids, counts, sources) are dropped so the trainer sees one format."""
    require_data_set(path)
    if Path(path).is_dir():
        dataset = load_from_disk(path)
    else:
        dataset = load_dataset("parquet" if path.endswith(".parquet") else "json", data_files=path, split="train")
    columns = ["messages"] if "messages" in dataset.column_names else ["prompt", "completion"]
    missing = set(columns) - set(dataset.column_names)
    if missing:
        raise ValueError(f"{path} needs prompt and completion columns (or messages); it has {dataset.column_names}")
    return dataset.select_columns(columns)


def trace_examples(cfg: SFTRecipe, tokenizer: PreTrainedTokenizerBase, rows: list[dict]) -> list[dict]:
    """The task's problems as shortcut or journey traces, tokenized here so that a journey's errors can be left
    out of the loss (``mask_errors``); every arm of an experiment goes through this one path."""
    shape = {"catch_style": cfg.catch_style, "same_endings": cfg.same_endings} if cfg.task == "arithmetic" else {}
    own = own_answers(cfg, rows) if cfg.error_source == "own" else None
    traces = journey_examples(rows, cfg.data_style, cfg.error_rate, cfg.search_strategy, cfg.seed, own, **shape)
    return [tokenized_trace(tokenizer, row_prompt(row, cfg.prompt_style), trace["completion"][0]["content"],
                            cfg.prompt_style, trace["error_spans"] if cfg.mask_errors else ())
            for row, trace in zip(rows, traces)]


def own_answers(cfg: SFTRecipe, rows: list[dict]) -> dict[str, str]:
    """Row id → the ``own_errors_from`` run's answer to it (sampled once at T 0.7, seeded; kept and reused)."""
    import torch

    from minireason.evaluation import first_samples
    from minireason.models import load_model
    from minireason.reports.evals import load_run, save_run
    from minireason.scaling import evaluate

    path = Path(cfg.output_dir) / "own-answers"
    if not (path / "eval.json").exists():
        final = Path(cfg.own_errors_from) / "final"
        if not final.is_dir():
            raise FileNotFoundError(f"own_errors_from: {final} holds no trained model; train that run first")
        adapter = (final / "adapter_config.json").exists()
        model, tokenizer = load_model(cfg.model if adapter else str(final), adapter=str(final) if adapter else None)
        torch.manual_seed(cfg.seed)
        result = evaluate(model, tokenizer, rows, cfg.eval_max_new_tokens, temperature=0.7, prompt_style=cfg.prompt_style)
        save_run(result, path, "own answers", {"run": cfg.own_errors_from, "seed": cfg.seed})
    return {sample["id"]: sample["completion"] for sample in first_samples(load_run(path)["problems"])}


class GuardedSFTTrainer(GuardedTraining, SFTTrainer):
    """TRL's ``SFTTrainer``, stopped when its numbers go wrong (``minireason.training_guard``)."""


def build_trainer(cfg: SFTRecipe) -> tuple[SFTTrainer, list[dict]]:
    # 1. Model.
    model, peft_config, quantization = cfg.policy()
    tokenizer = load_tokenizer(cfg.model)
    tokenizer.padding_side = "right"  # training pads on the right; generation (eval) pads on the left

    # 2. Data: a data set on disk, or traces written for the task's problems.
    task, train_rows, eval_rows = task_data(cfg)
    if cfg.dataset_path:
        dataset, dropped = drop_eval_questions(load_sft_data(cfg.dataset_path), eval_rows)
        if dropped:
            print(f"minireason: left out {dropped} examples of {cfg.dataset_path} that ask an evaluation question")
    elif cfg.data_style == "reference":
        dataset = Dataset.from_list([sft_example(task, row, cfg.prompt_style) for row in train_rows])
    else:
        dataset = Dataset.from_list(trace_examples(cfg, tokenizer, train_rows))

    # 3. Trainer.
    with cfg.building(model):
        trainer = GuardedSFTTrainer(
            model=model, args=cfg, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config,
            quantization_config=quantization,
        )
    settle_dtypes(trainer.model, cfg.precision)  # fp32 adapters (not TRL's bf16); under fp16 an fp32 residual stream
    return trainer, eval_rows


def train(cfg: SFTRecipe) -> dict:
    """Steps 1-3 are ``build_trainer``'s; ``run_stage`` takes the rest: train (resuming), save the adapter to
    ``output_dir/final``, evaluate on held-out problems."""
    return run_stage(cfg, build_trainer, lambda trainer: {"data": cfg.dataset_path or cfg.data_style})
