"""Arithmetic (TinyZero's multiplication task, plus addition and subtraction).

Generator: two operands with a chosen number of digits each. Verifier: the last
answer tag must hold exactly the integer result; commas, spaces and underscores used
as digit separators are tolerated, nothing else is.
"""

from __future__ import annotations

import dataclasses
import random

from minireason.answer_format import wrap
from minireason.tasks.arithmetic_traces import arithmetic_trace, own_slips
from minireason.tasks.base import Task
from minireason.tasks.traces import Trace

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

    def partial_credit(self, answer: str, row: dict) -> float:
        """The share of the result's place values the answer writes right, counted from the ones digit, over
        the longer of the two (a missing or extra digit counts as wrong); 0 for a wrong sign or no integer.
        Copying an operand of a 2-digit sum earns a digit only where the other operand has a 0 there.

        >>> task, row = Arithmetic(op="add"), {"answer": 132}
        >>> [task.partial_credit(a, row) for a in ("132", "122", "32", "1132", "-132", "x")]
        [1.0, 0.6666666666666666, 0.6666666666666666, 0.75, 0.0, 0.0]
        """
        value, result = parse_integer(answer), int(row["answer"])
        if value is None or (value < 0) != (result < 0):
            return 0.0
        written, wanted = str(abs(value))[::-1], str(abs(result))[::-1]
        return sum(w == r for w, r in zip(written, wanted)) / max(len(written), len(wanted))

    def answer_key(self, answer: str, row: dict) -> str | None:
        """The integer, so "1,234" and "1234" vote together.

        >>> Arithmetic().answer_key(" 1,234", {})
        '1234'
        """
        value = parse_integer(answer)
        return None if value is None else str(value)

    def format_example(self, row: dict) -> str:
        r"""The one-shot prompt's example: the problem restated with its result, in the tags.

        Not the column trace: that is ~40 tokens, longer than pure RL's 32-token rollouts, and with it as the
        example SmolLM2-135M imitated the columns badly (greedy, 128 held-out sums: 14.8% right, 75% well
        formed, against 36.7% and 100% with this one; docs/grpo-on-cpu.md).

        >>> Arithmetic(op="add").format_example({"a": 45, "b": 37, "op": "add", "answer": 82})
        '<think>45 + 37 = 82.</think>\n<answer>82</answer>'
        """
        return wrap(f"{row['a']} {_OPS[row['op']][0]} {row['b']} = {row['answer']}.", str(row["answer"]))

    def reference_completion(self, row: dict) -> str:
        r"""A short worked solution: the problem restated, then column addition from the ones digit up, each
        carry added to the next column; subtraction and multiplication split the second operand into tens and ones.

        Kept short on purpose: every token is paid for again in each SFT and GRPO step. Restating the
        problem puts the digits next to the columns that use them; without it SmolLM2-135M scored lower
        after SFT, in one run each (docs/grpo-on-cpu.md).

        >>> Arithmetic(op="add").reference_completion({"a": 45, "b": 37, "op": "add", "answer": 82})
        '<think>45 + 37: 5 + 7 = 12, 4 + 3 + 1 = 8. So 45 + 37 = 82.</think>\n<answer>82</answer>'
        >>> Arithmetic(op="mul").reference_completion({"a": 12, "b": 34, "op": "mul", "answer": 408})
        '<think>12 × 30 = 360. 12 × 4 = 48. 360 + 48 = 408. So 12 × 34 = 408.</think>\n<answer>408</answer>'
        """
        a, b, op, answer = row["a"], row["b"], row["op"], row["answer"]
        symbol = _OPS[op][0]
        if op == "add":
            columns, carry = [], 0
            digits_a, digits_b = str(a)[::-1], str(b)[::-1]
            for i in range(max(len(digits_a), len(digits_b))):
                x = int(digits_a[i]) if i < len(digits_a) else 0
                y = int(digits_b[i]) if i < len(digits_b) else 0
                columns.append(f"{x} + {y}" + (f" + {carry}" if carry else "") + f" = {x + y + carry}")
                carry = (x + y + carry) // 10
            work = f"{a} + {b}: " + ", ".join(columns)
        else:
            tens, ones = b - b % 10, b % 10
            if op == "mul":
                work = f"{a} × {tens} = {a * tens}. {a} × {ones} = {a * ones}. {a * tens} + {a * ones} = {answer}"
            else:
                work = f"{a} - {tens} = {a - tens}. {a - tens} - {ones} = {answer}"
        return wrap(f"{work}. So {a} {symbol} {b} = {answer}.", str(answer))

    def shortcut_trace(self, row: dict, catch_style: str = "slips", same_endings: bool = False) -> Trace:
        """The worked sum, step by step (``arithmetic_traces.arithmetic_trace``); with ``catch_style`` every_step,
        each step is checked as the journey's are.

        >>> print(Arithmetic(op="mul").shortcut_trace({"a": 47, "b": 6, "op": "mul", "answer": 282}).completion)
        <think>47 × 6.
        47 × 6 = 282.
        So 47 × 6 = 282.</think>
        <answer>282</answer>
        """
        return arithmetic_trace(row, "shortcut", catch_style=catch_style, same_endings=same_endings)

    def journey_trace(self, row: dict, error_rate: float = 0.5, rng: random.Random | None = None, *,
                      strategy: str = "dfs", catch_style: str = "slips", same_endings: bool = False,
                      own_answer: str | None = None) -> Trace:
        """The worked sum with slips, each caught by a check and corrected: injected with probability ``error_rate``
        a step, or the first wrong step of ``own_answer`` (``own_slips``). ``strategy`` is Countdown's.

        >>> row = {"a": 45, "b": 37, "op": "add", "answer": 82}
        >>> print(Arithmetic(op="add").journey_trace(row, 1.0, catch_style="every_step", same_endings=True).completion)
        <think>45 + 37.
        Column 1: 5 + 7 = 13, write 3, carry 1.
        Check: 13 - 7 = 6, not 5. So Column 1: 5 + 7 = 12, write 2, carry 1.
        Column 2: 4 + 3 + carry 1 = 7, write 7.
        Check: 7 - 3 - 1 = 3, not 4. So Column 2: 4 + 3 + carry 1 = 8, write 8.
        So 45 + 37 = 82.</think>
        <answer>82</answer>
        """
        slips = None if own_answer is None else own_slips(row, own_answer)
        return arithmetic_trace(row, "journey", error_rate, rng, catch_style, same_endings, slips)
