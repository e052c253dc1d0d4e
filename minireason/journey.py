"""Journey learning data (O1 Replication Journey): traces that go wrong, notice it, and recover.

Two styles over the same steps, so the two data sets differ only in the detours:

- ``shortcut``: only the path that works.
- ``journey``: with probability ``error_rate`` per step, the trace first goes wrong, then
  catches the mistake and corrects it.

Each task writes its own traces (``Task.shortcut_trace`` and ``journey_trace``): Countdown's are searches that
backtrack from dead ends (``tasks.countdown_traces``), arithmetic's are worked sums whose slips a check catches
(``tasks.arithmetic_traces``). This module holds what is common: the styles and their checks, the shape options,
the data sets, how a model's wrong answers depart from the reference steps, and stitched teacher attempts.

Every trace ends in the verified answer, and every row records how many errors and
corrections it holds. A teacher's rejected attempt can also be stitched to an accepted
one (``stitch_attempts``), which is how the distillation pipeline makes journeys.
"""

from __future__ import annotations

import random

from minireason.answer_format import THINK_OPEN, extract_answer
from minireason.tasks import TASKS, Task, task_from_row
from minireason.tasks.arithmetic_traces import CATCH_STYLES, DEPARTURES, first_departure
from minireason.tasks.countdown_traces import STRATEGIES
from minireason.tasks.traces import Trace, wrap_lines

__all__ = ["CATCH_STYLES", "STRATEGIES", "STYLES", "departure_counts", "journey_examples", "journey_trace",
           "shape_changes", "stitch_attempts"]

STYLES = ("shortcut", "journey")
# How arithmetic journeys are shaped by default (``arithmetic_trace``): the traces written before the shape existed.
SHAPE_DEFAULTS = {"catch_style": "slips", "same_endings": False}


def shape_changes(options: dict) -> dict:
    """The shape options that differ from the defaults: what a data card or a resume check records, so that sets
    written before these options existed still match.

    >>> shape_changes({"catch_style": "every_step", "same_endings": False, "style": "journey"})
    {'catch_style': 'every_step'}
    """
    return {key: options[key] for key, default in SHAPE_DEFAULTS.items() if options.get(key, default) != default}


def departure_counts(rows: list[dict], samples: list[dict]) -> dict[str, int]:
    """How the wrong answers among scored ``samples`` (``id``, ``completion``, ``correct``) to arithmetic ``rows``
    first go wrong: the kinds of ``first_departure``, and ``after the steps`` for those whose steps are all
    the reference's (the answer is put together wrong).

    >>> rows = [{"id": "q", "a": 45, "b": 37, "op": "add"}]
    >>> departure_counts(rows, [{"id": "q", "completion": "Column 1: 5 + 7 = 11.", "correct": False}])
    {'operand': 0, 'carry': 0, 'value': 1, 'missing': 0, 'after the steps': 0}
    """
    by_id = {row["id"]: row for row in rows}
    counts = dict.fromkeys((*DEPARTURES, "after the steps"), 0)
    for sample in samples:
        if not sample["correct"]:
            departure = first_departure(by_id[sample["id"]], sample["completion"])
            counts[departure.kind if departure else "after the steps"] += 1
    return counts


# -- Teacher attempts -------------------------------------------------------------------------


def _reasoning(completion: str) -> str:
    """The thinking part of a completion, without tags."""
    text = completion.split("</think>")[0] if "</think>" in completion else completion.split("<answer>")[0]
    return text.replace(THINK_OPEN, "").strip()


def _why_wrong(row: dict, answer: str | None) -> str:
    """The row's task's ``why_wrong``; an attempt without an answer never got that far."""
    if answer is None:
        return "that attempt never reached an answer"
    return task_from_row(row["task"], row.get("task_params", "")).why_wrong(answer.strip(), row)


def stitch_attempts(row: dict, rejected: str, accepted: str) -> Trace:
    """A rejected attempt, a reflection on why it fails, then the accepted attempt: one journey trace."""
    answer = extract_answer(accepted)
    lines = [_reasoning(rejected),
             f"Wait, {_why_wrong(row, extract_answer(rejected))}. Let me try again.",
             _reasoning(accepted)]
    return Trace(wrap_lines(lines, (answer or "").strip()), 1, 1)


# -- Data sets --------------------------------------------------------------------------------


def journey_trace(row: dict, style: str = "journey", error_rate: float = 0.5, strategy: str = "dfs",
                  rng: random.Random | None = None, *, catch_style: str = "slips", same_endings: bool = False,
                  own_answer: str | None = None) -> Trace:
    """The trace of one row in the given style, written by the row's task (``Task.shortcut_trace`` and
    ``journey_trace``: Countdown's searches, arithmetic's worked sums). Arithmetic only: ``catch_style``,
    ``same_endings``, and ``own_answer``, a model's answer whose first wrong step is the slip (in place of injected
    ones)."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"error_rate must lie in [0, 1], got {error_rate}")
    if TASKS.get(row.get("task"), Task).journey_trace is Task.journey_trace:  # the task writes no traces
        raise ValueError(Task.no_traces(row.get("task")))
    task = task_from_row(row["task"], row.get("task_params", ""))
    if style == "shortcut":
        return task.shortcut_trace(row, catch_style, same_endings)
    return task.journey_trace(row, error_rate, rng, strategy=strategy, catch_style=catch_style,
                              same_endings=same_endings, own_answer=own_answer)


def journey_examples(rows: list[dict], style: str = "journey", error_rate: float = 0.5, strategy: str = "dfs",
                     seed: int = 0, own_answers: dict[str, str] | None = None, **shape) -> list[dict]:
    """SFT rows (prompt, completion, the counts and the errors' character spans) for ``rows``; every completion
    is verified. ``shape``: ``catch_style`` and ``same_endings`` (``journey_trace``). ``own_answers`` (row id →
    a model's answer): each row's slip is that answer's first wrong step, if it has one, instead of injected ones.

    The rng is seeded per row id, so a row's trace does not depend on which other rows are in the set.
    """
    examples = []
    for row in rows:
        own = None if own_answers is None else own_answers.get(row["id"], "")
        trace = journey_trace(row, style, error_rate, strategy, random.Random(f"{seed}:{row['id']}"), **shape,
                              own_answer=own)
        task = task_from_row(row["task"], row.get("task_params", ""))
        if not task.is_correct(trace.completion, row):  # pragma: no cover - a bug in this module, not data
            raise AssertionError(f"journey trace for {row['id']} fails its verifier: {trace.completion!r}")
        examples.append({
            "id": row["id"], "task": row["task"], "task_params": row["task_params"], "style": style,
            "prompt": row["prompt"], "completion": [{"role": "assistant", "content": trace.completion}],
            "errors": trace.errors, "corrections": trace.corrections, "error_spans": trace.error_spans,
        })
    return examples

