"""Tasks with exact verifiers: ``get_task(name, **params)`` -> generate rows, score completions.

>>> task = get_task("countdown", num_numbers=3)
>>> row = task.generate(1, seed=0)[0]
>>> task.score(f"<think>…</think><answer>{row['solution']}</answer>", row)
1.0
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import TYPE_CHECKING

from minireason.answer_format import check_prompt_style, extract_answer
from minireason.tasks.arithmetic import Arithmetic
from minireason.tasks.base import Task
from minireason.tasks.countdown import Countdown
from minireason.tasks.math_answers import MathAnswers

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from transformers import PreTrainedTokenizerBase

_SCALAR_TYPES = {"int": int, "float": (int, float), "str": str}
TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (Countdown, Arithmetic, MathAnswers)}


def get_task(name: str, **params) -> Task:
    """The task called ``name``, with its parameters; a clear error lists what exists."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; available tasks: {', '.join(sorted(TASKS))}")
    cls = TASKS[name]
    known = cls.param_help()
    unknown = sorted(set(params) - set(known))
    if unknown:
        listing = "\n".join(f"  {k}: {v}" for k, v in known.items())
        raise ValueError(f"unknown parameter(s) {unknown} for task {name!r}; its parameters are:\n{listing}")
    for field in dataclasses.fields(cls):  # annotations are strings (postponed evaluation)
        value, expected = params.get(field.name), _SCALAR_TYPES.get(field.type)
        if field.name in params and expected and (isinstance(value, bool) or not isinstance(value, expected)):
            raise ValueError(f"{name}.{field.name} must be {field.type}, got {value!r}")
    return cls(**params)


def task_from_row(name: str, params: str | dict = "") -> Task:
    """The task a row came from: rows carry ``task`` and ``task_params``, JSON text in a data set or a dict in a row
    built by hand. One instance per task and parameters, so what a task caches (its one-shot example) is kept."""
    return _task(name, params if isinstance(params, str) else json.dumps(params, sort_keys=True))


@functools.lru_cache(maxsize=64)
def _task(name: str, params_json: str) -> Task:
    return get_task(name, **(json.loads(params_json) if params_json else {}))


def row_prompt(row: dict, style: str) -> list[dict] | str:
    """A task row's prompt in ``style``: chat messages (a trainer applies the template) or base-model text."""
    style = check_prompt_style(style)
    if style == "chat":
        return row["prompt"]
    if style == "base":
        return row["prompt_base"]
    return task_from_row(row["task"], row.get("task_params", "")).example_prompt(row)


def render_prompt(tokenizer: PreTrainedTokenizerBase, row: dict, style: str | None = None) -> str:
    """A task row's prompt as text for ``generate``: through the chat template (``chat``) or as written
    (``base``). ``None`` picks ``chat`` when the tokenizer has a template; a trained run's style should be
    passed instead (it is in the run's ``run_config.json``)."""
    if style is None:
        style = "chat" if tokenizer.chat_template is not None else "base"
    if check_prompt_style(style) == "chat":
        return tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    return row_prompt(row, style)


def describe_tasks() -> str:
    """Human-readable listing of every task and its parameters with defaults."""
    lines = []
    for name, cls in sorted(TASKS.items()):
        lines.append(f"{name}: {cls.description}")
        for field in dataclasses.fields(cls):
            lines.append(f"    {field.name} = {field.default!r}  {field.metadata.get('help', '')}")
    return "\n".join(lines)


__all__ = ["TASKS", "Task", "get_task", "task_from_row", "row_prompt", "render_prompt", "describe_tasks",
           "extract_answer"]
