"""Arithmetic's traces (``Arithmetic.shortcut_trace`` and ``journey_trace``): worked sums (long multiplication,
column addition, stepwise subtraction) in which a journey's wrong step is a plausible slip (a dropped carry, a digit
off by one) that the trace checks by another route and corrects; and where a model's own worked answer first
leaves the reference steps (``first_departure``), which is how its own slips become a journey's."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import NamedTuple

from minireason.answer_format import THINK_OPEN
from minireason.tasks.steps import step_lines
from minireason.tasks.traces import Trace, wrap_lines

CATCH_STYLES = ("slips", "every_step", "recompute")


@dataclass
class _Step:
    """One step of a worked sum: ``claim = value`` then ``note(value)``. ``check`` recomputes the value another
    way (the slip style's check); ``audit(claimed)`` tests a claimed value from what is written, ``(text, holds)``
    (the every-step style's check, which must be able to pass); ``redo`` works the step again by another route as
    one equality ending in the value (the recompute style's check)."""

    claim: str
    value: int
    check: str
    audit: Callable[[int], tuple[str, bool]]
    note: Callable[[int], str] = lambda value: ""
    redo: str = ""


def _slip(value: int, rng: random.Random) -> int:
    """A plausible wrong value: one digit off by one (never the right value, same sign)."""
    digits = len(str(abs(value)))
    for _ in range(20):
        wrong = value + rng.choice((-1, 1)) * 10 ** rng.randrange(digits)
        if wrong != value and (wrong < 0) == (value < 0):
            return wrong
    return value + 1


def _recomputed(text: str, value: int) -> Callable[[int], tuple[str, bool]]:
    """An audit that recomputes ``value`` by another route (``text``) and compares the claimed value with it."""
    return lambda claimed: (text if claimed == value else f"{text}, not {claimed}", claimed == value)


def _undone(text: str, result: int, expected: int) -> tuple[str, bool]:
    """An audit that undoes the claimed step (``text = result``) and should give back ``expected``."""
    return f"{text} = {result}" + ("" if result == expected else f", not {expected}"), result == expected


def _column_note(last: bool) -> Callable[[int], str]:
    return lambda total: f", write {total}" if last else f", write {total % 10}" + (", carry 1" if total >= 10 else "")


def _arithmetic_steps(a: int, b: int, op: str) -> list[_Step]:
    steps = []
    if op == "mul":
        partials = []
        for place, digit in enumerate(reversed(str(b))):
            d, scale = int(digit), 10 ** place
            part = a * d
            tens, ones = a - a % 10, a % 10
            check = f"{tens} × {d} + {ones} × {d} = {tens * d} + {ones * d} = {part}"
            steps.append(_Step(f"{a} × {d}", part, check, _recomputed(check, part), redo=check))
            if scale > 1:
                check = f"{part} with {place} zero(s) appended is {part * scale}"
                steps.append(_Step(f"{part} × {scale}", part * scale, check, _recomputed(check, part * scale),
                                   redo=f"{scale} × {part} = {part * scale}"))
            partials.append(part * scale)
        total = partials[0]
        for part in partials[1:]:
            check = f"{total + part} - {part} = {total}"
            undo = (lambda claimed, total=total, part=part:
                    _undone(f"{claimed} - {part}", claimed - part, total))
            steps.append(_Step(f"{total} + {part}", total + part, check, undo,
                               redo=f"{part} + {total} = {total + part}"))
            total += part
    elif op == "add":
        # Column addition, ones first. The slip style's check redoes the column with its carry spelled out; the
        # audit undoes the written total (total - y - carry should give back x), a route that differs from the sum;
        # the redo adds the column again in the other order, its carry a plain number, so a check is one equality.
        carry = 0
        xs, ys = str(a)[::-1], str(b)[::-1]
        columns = max(len(xs), len(ys))
        for i in range(columns):
            x = int(xs[i]) if i < len(xs) else 0
            y = int(ys[i]) if i < len(ys) else 0
            total = x + y + carry
            claim = f"Column {i + 1}: {x} + {y}" + (f" + carry {carry}" if carry else "")
            check = f"{x} + {y} = {x + y}" + (f", and the carry {carry} makes {total}" if carry else "")
            minus_carry = f" - {carry}" if carry else ""
            audit = (lambda claimed, x=x, y=y, carry=carry, minus_carry=minus_carry:
                     _undone(f"{claimed} - {y}{minus_carry}", claimed - y - carry, x))
            redo = f"{y} + {x}" + (f" + {carry}" if carry else "") + f" = {total}"
            steps.append(_Step(claim, total, check, audit, _column_note(i == columns - 1), redo))
            carry = total // 10
    else:  # sub: take away the tens part, then the ones; the redo takes each away in two parts
        tens, ones = b - b % 10, b % 10
        first = a - tens
        for claim, start, taken, value in ((f"{a} - {tens}", a, tens, first),
                                           (f"{first} - {ones}", first, ones, first - ones)):
            steps.append(_Step(claim, value, f"{value} + {taken} = {start}",
                               lambda claimed, start=start, taken=taken: _undone(f"{claimed} + {taken}",
                                                                                 claimed + taken, start),
                               redo=f"{start} - {taken // 2} - {taken - taken // 2} = {value}"))
    return steps


def arithmetic_trace(row: dict, style: str = "journey", error_rate: float = 0.5, rng: random.Random | None = None,
                     catch_style: str = "slips", same_endings: bool = False,
                     slips: dict[int, int] | None = None) -> Trace:
    """A worked sum; in a journey, a slipped step is caught by a check and corrected.

    ``catch_style``: ``slips`` checks only after a slip ("Wait, let me check that: …"); ``every_step`` checks every
    step from what was written and passes the right ones ("Check: 9 - 5 = 4 ✓"), so checking is a habit and
    the slip shows in the check, not before it. ``recompute`` checks every step too, by working it again another
    way (the operands in the other order: "Check: 5 + 9 + 1 = 15 ✓") instead of undoing it. ``same_endings``: a
    slipped line goes on as a right one would from its wrong value (", write 9"), so how a line ends does not tell
    whether it slipped.
    ``Trace.error_spans`` marks each wrong value and the rest of its line. ``slips`` (step index → wrong value)
    replaces the injected slips: a model's own wrong steps (``own_slips``), each caught and corrected.
    """
    if catch_style not in CATCH_STYLES:
        raise ValueError(f"catch_style must be one of {CATCH_STYLES}, got {catch_style!r}")
    rng = rng or random.Random(0)
    a, b, op, answer = int(row["a"]), int(row["b"]), row["op"], int(row["answer"])
    symbol = {"add": "+", "sub": "-", "mul": "×"}[op]
    lines, spans, errors = [f"{a} {symbol} {b}."], [], 0
    for index, step in enumerate(_arithmetic_steps(a, b, op)):
        audit = _recomputed(step.redo, step.value) if catch_style == "recompute" else step.audit
        right = f"{step.claim} = {step.value}{step.note(step.value)}."
        if slips is not None:
            slipped = index in slips
        else:
            slipped = style == "journey" and rng.random() < error_rate
        if slipped:
            # A dropped carry is the classic slip in column addition; elsewhere a digit is off by one.
            wrong = (slips[index] if slips is not None else
                     step.value - 1 if op == "add" and "carry" in step.claim else _slip(step.value, rng))
            written = f"{wrong}{step.note(wrong) if same_endings else ''}."
            spans.append((len(lines), len(step.claim) + 3, len(step.claim) + 3 + len(written)))
            lines.append(f"{step.claim} = {written}")
            errors += 1
            if catch_style == "slips":
                lines.append(f"Wait, let me check that: {step.check}. So {step.claim} = {step.value}, not {wrong}"
                             f"{step.note(step.value)}.")
            else:
                lines.append(f"Check: {audit(wrong)[0]}. So {right}")
        else:
            lines.append(right)
            if catch_style != "slips":
                lines.append(f"Check: {audit(step.value)[0]} ✓")
    lines.append(f"So {a} {symbol} {b} = {answer}.")
    completion = wrap_lines(lines, str(answer))
    starts = list(accumulate([len(THINK_OPEN)] + [len(line) + 1 for line in lines]))
    return Trace(completion, errors, errors, [(starts[i] + begin, starts[i] + end) for i, begin, end in spans])


class Departure(NamedTuple):
    """Where a worked arithmetic answer first leaves the reference steps: the step's index and how. ``operand``:
    the step works on a digit or number the problem does not give there; ``carry``: the right digits with a wrong
    carry; ``value``: the right step, a wrong result (``value``, what it wrote); ``missing``: the answer stops
    writing steps before the reference does."""
    step: int
    kind: str
    value: int | None = None

DEPARTURES = ("operand", "carry", "value", "missing")


def first_departure(row: dict, answer: str) -> Departure | None:
    """Where ``answer``'s steps (``tasks.steps.step_lines``) first differ from the reference trace's, in order;
    None when every step is the reference's.

    >>> row = {"a": 45, "b": 37, "op": "add"}
    >>> first_departure(row, "Column 1: 5 + 7 = 12, write 2, carry 1.\\nColumn 2: 4 + 3 + carry 1 = 7, write 7.")
    Departure(step=1, kind='value', value=7)
    >>> first_departure(row, "Column 1: 5 + 7 = 12, write 2, carry 1.\\nColumn 2: 4 + 3 = 7, write 7.")
    Departure(step=1, kind='carry', value=None)
    >>> first_departure(row, "Column 1: 5 + 1 = 6, write 6.").kind, first_departure(row, "no steps").kind
    ('operand', 'missing')
    """
    written = step_lines(answer)
    steps = _arithmetic_steps(int(row["a"]), int(row["b"]), row["op"])
    for index, (step, (line, _)) in enumerate(zip(steps, written)):
        if not line.startswith(f"{step.claim} = "):
            without_carry = line.split(" = ")[0].split(" + carry")[0]
            return Departure(index, "carry" if without_carry == step.claim.split(" + carry")[0] else "operand")
        value = re.match(r"-?\d+", line[len(step.claim) + 3:])
        if value is None or int(value.group()) != step.value:
            return Departure(index, "value", None if value is None else int(value.group()))
    return Departure(len(written), "missing") if len(written) < len(steps) else None


def own_slips(row: dict, answer: str) -> dict[int, int]:
    """The first wrong step of a model's own worked answer to an arithmetic row, as ``{step index: its value}``
    when that step is the right one computed wrong (empty when its steps are right, or when it first departs
    another way: a misread operand or carry has no right value to correct to within the step). Only the first:
    what the model writes after a wrong step depends on it.

    >>> own_slips({"a": 45, "b": 37, "op": "add"}, "<think>45 + 37.\\nColumn 1: 5 + 7 = 12, write 2, carry 1.\\n"
    ...           "Column 2: 4 + 3 + carry 1 = 7, write 7.\\nSo 45 + 37 = 72.</think>")
    {1: 7}
    """
    departure = first_departure(row, answer)
    if departure is None or departure.kind != "value" or departure.value is None:
        return {}
    return {departure.step: departure.value}
