"""Arithmetic (TinyZero's multiplication task, plus addition and subtraction).

Generator: two operands with a chosen number of digits each. Verifier: the last
answer tag must hold exactly the integer result; commas, spaces and underscores used
as digit separators are tolerated, nothing else is.
"""

from __future__ import annotations

import dataclasses

from minireason.tasks.base import Task

_OPS = {"add": ("+", lambda a, b: a + b), "sub": ("-", lambda a, b: a - b), "mul": ("×", lambda a, b: a * b)}
# The longest answer parsed: 2 x 18-digit operands multiply to 36 digits, plus sign and separators.
_MAX_ANSWER_CHARS = 128


def parse_integer(text: str) -> int | None:
    """The integer written in ``text``, or None; ASCII digits only, separators tolerated.

    >>> parse_integer(" 1,234 ")
    1234
    >>> parse_integer("-12") , parse_integer("12.5"), parse_integer("١٢")
    (-12, None, None)
    """
    if len(text) > _MAX_ANSWER_CHARS:
        return None
    digits = "".join(text.split()).replace(",", "").replace("_", "")
    sign = 1
    if digits[:1] in ("+", "-"):
        sign = -1 if digits[0] == "-" else 1
        digits = digits[1:]
    if not digits or not all("0" <= c <= "9" for c in digits):
        return None
    return sign * int(digits)


@dataclasses.dataclass
class Arithmetic(Task):
    name = "arithmetic"
    description = "Add, subtract or multiply two integers with a given number of digits (TinyZero)."

    op: str = dataclasses.field(default="mul", metadata={"help": "One of add, sub, mul."})
    digits: tuple[int, int] = dataclasses.field(
        default=(2, 2), metadata={"help": "Digits of each operand: an int for both, or [first, second]."}
    )

    def __post_init__(self):
        if self.op not in _OPS:
            raise ValueError(f"op must be one of {sorted(_OPS)}, got {self.op!r}")
        digits = (self.digits, self.digits) if isinstance(self.digits, int) else tuple(self.digits)
        if len(digits) != 2 or not all(isinstance(d, int) and 1 <= d <= 18 for d in digits):
            raise ValueError(f"digits must be an int or [first, second], each in [1, 18]; got {self.digits!r}")
        self.digits = digits

    def _make_row(self, rng, index: int) -> dict:
        a, b = (rng.randint(10 ** (d - 1) if d > 1 else 0, 10**d - 1) for d in self.digits)
        return {"a": a, "b": b, "op": self.op, "answer": _OPS[self.op][1](a, b)}

    def question(self, row: dict) -> str:
        return f"What is {row['a']} {_OPS[row['op']][0]} {row['b']}?"

    def score_answer(self, answer: str, row: dict) -> bool:
        return parse_integer(answer) == int(row["answer"])
