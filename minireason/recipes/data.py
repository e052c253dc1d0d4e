"""A recipe's problems: training rows, the held-out evaluation rows, and the starting model scored on them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minireason.tasks import get_task

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from datasets import Dataset

    from minireason.recipes.config import RecipeArgs


def task_data(cfg: RecipeArgs):
    """``(task, train_rows, eval_rows)``. Evaluation questions are the task's held-out ones (``Task.split_rows``),
    drawn with ``eval_seed``: every run of a task, whatever its seed or size, is scored on the same problems
    and never trains on them."""
    task = get_task(cfg.task, **cfg.task_params)
    return task, task.split_rows(cfg.n_train, cfg.seed), task.split_rows(cfg.n_eval, cfg.eval_seed, held_out=True)


def evaluate_base(cfg: RecipeArgs):
    """The stage's starting model (its adapter included, if any) on the held-out problems the stage
    evaluates on after training, greedy: the "before" of a before/after. The model is freed after."""
    from minireason.hardware import release_memory
    from minireason.models import load_model
    from minireason.scaling import evaluate

    _, _, eval_rows = task_data(cfg)
    model, tokenizer = load_model(cfg.model, load_in_4bit=cfg.load_in_4bit, adapter=cfg.adapter)
    try:
        return evaluate(model, tokenizer, eval_rows, max_new_tokens=cfg.eval_max_new_tokens,
                        prompt_style=cfg.prompt_style)
    finally:
        del model
        release_memory()


def drop_eval_questions(dataset: Dataset, eval_rows: list[dict]):
    """``(dataset, dropped)``: the SFT examples whose prompt asks none of the evaluation questions.

    Generated training rows never hold a held-out question (``Task.split_rows``), but a data set from disk
    (``dataset_path``: distilled or journey data, anyone's JSONL) may: those examples would be scored as
    "held out" after being trained on.
    """
    from minireason.tasks import task_from_row

    questions = {task_from_row(row["task"], row["task_params"]).question(row) for row in eval_rows}
    if not questions:
        return dataset, 0

    def asks_none(example: dict) -> bool:
        prompt = example.get("prompt", example.get("messages"))
        text = prompt if isinstance(prompt, str) else " ".join(
            m.get("content", "") for m in prompt if isinstance(m, dict) and m.get("role") != "assistant")
        return not any(question in text for question in questions)

    kept = dataset.filter(asks_none)
    return kept, len(dataset) - len(kept)
