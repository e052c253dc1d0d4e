"""What every task's trace writers share: the ``Trace`` they return and how its lines are written. The writers
are the tasks' own (``Task.shortcut_trace`` and ``journey_trace``); ``minireason.journey`` builds data sets of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from minireason.answer_format import wrap


@dataclass
class Trace:
    """A completion and what it holds: errors made and corrections of them (equal when all are fixed)."""

    completion: str
    errors: int = 0
    corrections: int = 0
    # (start, end) character offsets in ``completion`` of each wrong value and the rest of its line: what
    # ``mask_errors`` leaves out of the loss.
    error_spans: list[tuple[int, int]] = field(default_factory=list)


def fmt_number(value: Fraction) -> str:
    """A value as a trace writes it: ``5``, or ``7/3`` when it is not whole."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def fmt_values(values: list[Fraction]) -> str:
    """The numbers left, as a trace lists them: ``[2, 7/3]``."""
    return "[" + ", ".join(fmt_number(v) for v in values) + "]"


def wrap_lines(lines: list[str], answer: str) -> str:
    """A trace's lines as the reasoning of a completion in the format, ending in ``answer``."""
    return wrap("\n".join(lines), answer)
