"""Countdown (TinyZero's task): reach a target with each given number used once.

Generator: numbers and target are drawn uniformly (TinyZero's Countdown-Tasks-3to4
ranges by default), then the solver must find an equation or the draw is redone, so
every row is solvable and carries one solution.

Verifier: TinyZero's rules (``+ - * /``, parentheses, each number exactly once, the
value within 1e-5 of the target), evaluated without ``eval`` by ``expressions``: the
multiset of literals is checked *before* any arithmetic, so power towers, deep nesting,
huge literals and code injection all cost microseconds and score as invalid.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from minireason.answer_format import ANSWER_CLOSE, ANSWER_OPEN, completion_text, wrap
from minireason.tasks.base import Task, int_range
from minireason.tasks.countdown_solver import SOLUTION_TOLERANCE, equation_reaching, reachable_values
from minireason.tasks.countdown_traces import countdown_trace
from minireason.tasks.expressions import MAX_LITERAL_DIGITS, InvalidExpression, evaluate, tokenize
from minireason.tasks.steps import check_claims
from minireason.tasks.traces import Trace, fmt_number

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from typing import Any

TOLERANCE = 1e-5


def check_equation(expression: str, numbers: list[int], target: int) -> bool:
    """True if ``expression`` uses exactly ``numbers`` (each once) and equals ``target``.

    >>> check_equation("(44 - 19) * 4 - 2", [44, 19, 4, 2], 98)
    True
    >>> check_equation("44**19**35", [44, 19, 35], 98)
    False
    """
    try:
        tokens = tokenize(expression)
        literals = sorted(int(t) for t in tokens if t.isdigit())
        if literals != sorted(numbers):
            return False
        value = evaluate(tokens)
    except InvalidExpression:
        return False
    return abs(value - target) <= TOLERANCE


@dataclasses.dataclass
class Countdown(Task):
    name = "countdown"
    description = "Combine the given numbers with + - * / to reach the target (TinyZero)."

    num_numbers: tuple[int, int] = dataclasses.field(
        default=(3, 4), metadata={"help": "How many numbers per problem: an int or an inclusive [min, max]."}
    )
    min_number: int = dataclasses.field(default=1, metadata={"help": "Smallest number drawn."})
    max_number: int = dataclasses.field(default=100, metadata={"help": "Largest number drawn."})
    min_target: int = dataclasses.field(default=1, metadata={"help": "Smallest target drawn."})
    max_target: int = dataclasses.field(default=100, metadata={"help": "Largest target drawn."})
    max_draws: int = dataclasses.field(
        default=10_000, metadata={"help": "Draws per problem before giving up (ranges with no solvable draw)."}
    )

    def __post_init__(self):
        self.num_numbers = int_range(self.num_numbers, "num_numbers")
        if self.num_numbers[0] < 2 or self.num_numbers[1] > 6:
            raise ValueError(f"num_numbers must lie in [2, 6], got {list(self.num_numbers)}")
        if not 0 <= self.min_number <= self.max_number:
            raise ValueError(f"need 0 <= min_number <= max_number, got {self.min_number}, {self.max_number}")
        if self.min_target > self.max_target:
            raise ValueError(f"min_target {self.min_target} is above max_target {self.max_target}")
        if self.max_number >= 10**MAX_LITERAL_DIGITS or max(abs(self.min_target), abs(self.max_target)) >= 10**9:
            raise ValueError("numbers and targets must stay below the verifier's literal limit")

    def _make_row(self, rng, index: int) -> dict:
        # Numbers uniform, then the target uniform among the in-range integers they can
        # reach. (Drawing both and rejecting unsolvable pairs, ~90% of 3-4 number draws,
        # costs ten times more for the same ranges.)
        for _ in range(self.max_draws):
            count = rng.randint(*self.num_numbers)
            numbers = [rng.randint(self.min_number, self.max_number) for _ in range(count)]
            table = reachable_values(numbers)
            reached = table[(1 << count) - 1]
            near = np.round(reached)
            hits = np.unique(near[(np.abs(reached - near) < SOLUTION_TOLERANCE)
                                  & (near >= self.min_target) & (near <= self.max_target)])
            if len(hits):
                target = int(hits[rng.randrange(len(hits))])
                solution = _solution(numbers, table, target)
                if solution:
                    return {"numbers": numbers, "target": target, "solution": solution}
        raise RuntimeError(
            f"no solvable Countdown problem in {self.max_draws} draws with {self.params()}; widen the ranges"
        )

    def question(self, row: dict) -> str:
        return (
            f"Using the numbers {row['numbers']}, write an equation that equals {row['target']}. "
            "Use each number exactly once, with + - * / and parentheses."
        )

    def score_answer(self, answer: str, row: dict) -> bool:
        return check_equation(answer, list(row["numbers"]), int(row["target"]))

    def answer_key(self, answer: str, row: dict) -> str | None:
        """The value of a valid equation over the row's numbers: "(2 + 3) * 4" and "4 * (3 + 2)" vote together.

        >>> Countdown().answer_key("4 * (3 + 2)", {"numbers": [2, 3, 4]}), Countdown().answer_key("2 * 2", {"numbers": [2, 3]})
        ('20', None)
        """
        try:
            tokens = tokenize(answer)
            if sorted(int(t) for t in tokens if t.isdigit()) != sorted(row["numbers"]):
                return None
            return str(evaluate(tokens))
        except InvalidExpression:
            return None

    def step_score(self, completion: Any, row: dict) -> float:
        """The verifier on a partial trace: each claimed step must be true and use numbers in hand (the given
        ones or earlier results), and an answer, once opened, may use each given number at most once; once
        closed, it must be a full solution. The target is in the question, so no gold answer is read.

        >>> row = {"numbers": [2, 3, 4], "target": 20}
        >>> [Countdown().step_score(t, row) for t in ("Try 2 + 3 = 5. Try 5 * 4 = 20.", "Try 2 + 3 = 6.",
        ...                                             "<answer>(2 + 3", "<answer>(2 + 2", "<answer>2 + 3 + 4</answer>")]
        [1.0, 0.0, 1.0, 0.0, 0.0]
        """

        text = completion_text(completion)
        true, counted = check_claims(text, available=list(row["numbers"]))
        opened = text.rfind(ANSWER_OPEN)
        if opened >= 0:
            answer = text[opened + len(ANSWER_OPEN):]
            counted += 1
            if ANSWER_CLOSE in answer:
                true += self.score_answer(answer.split(ANSWER_CLOSE)[0], row)
            else:
                try:  # each literal still in hand: no number beyond the given ones, none used twice
                    literals = [int(t) for t in tokenize(answer) if t.isdigit()] if answer.strip() else []
                    true += not Counter(literals) - Counter(row["numbers"])
                except InvalidExpression:
                    pass
        return true / counted if counted else 1.0

    def reference_completion(self, row: dict) -> str:
        r"""The stored solution, with a line of reasoning that checks it.

        >>> print(Countdown().reference_completion({"numbers": [2, 3, 4], "target": 20, "solution": "((2 + 3) * 4)"}))
        <think>I need 20 from [2, 3, 4], each number once. Try ((2 + 3) * 4): it uses every number once and equals 20.</think>
        <answer>((2 + 3) * 4)</answer>
        """
        solution, target = row["solution"], row["target"]
        return wrap(f"I need {target} from {row['numbers']}, each number once. Try {solution}: it uses every "
                    f"number once and equals {target}.", solution)

    def shortcut_trace(self, row: dict, catch_style: str = "slips", same_endings: bool = False) -> Trace:
        """The search's clean path, move by move (``countdown_traces.countdown_trace``): a natural path when one
        exists, else the stored solution.

        >>> row = {"numbers": [2, 3, 4], "target": 20, "solution": "((2 + 3) * 4)"}
        >>> print(Countdown().shortcut_trace(row).completion)
        <think>Numbers [2, 3, 4], target 20.
        Try 3 + 2 = 5, left [4, 5].
        Try 5 * 4 = 20. That is the target.
        So ((3 + 2) * 4) = 20.</think>
        <answer>((3 + 2) * 4)</answer>
        """
        _arithmetic_shape_only(catch_style, same_endings, None)
        return countdown_trace(row, "shortcut")

    def journey_trace(self, row: dict, error_rate: float = 0.5, rng: random.Random | None = None, *,
                      strategy: str = "dfs", catch_style: str = "slips", same_endings: bool = False,
                      own_answer: str | None = None) -> Trace:
        """A search that backtracks from dead ends: detours into provably dead moves (``dfs``, ``greedy``) with
        probability ``error_rate`` a step, or a real depth-first search (``search``).

        >>> trace = Countdown().journey_trace({"numbers": [3, 5, 2], "target": 16, "solution": "((5 + 3) * 2)"},
        ...                                   strategy="search")
        >>> trace.errors, trace.completion.count("Back to"), trace.completion.endswith("<answer>((5 + 3) * 2)</answer>")
        (2, 2, True)
        """
        _arithmetic_shape_only(catch_style, same_endings, own_answer)
        return countdown_trace(row, "journey", error_rate, strategy, rng)

    def why_wrong(self, answer: str, row: dict) -> str:
        """What is wrong with an equation: a number used other than once, its value, or its syntax.

        >>> Countdown().why_wrong("2 * 3 + 4", {"numbers": [2, 3, 4], "target": 20})
        '2 * 3 + 4 equals 10, not 20'
        >>> Countdown().why_wrong("2 * 3", {"numbers": [2, 3, 4], "target": 20})
        '2 * 3 does not use each of [2, 3, 4] exactly once'
        """
        try:
            tokens = tokenize(answer)
            used = sorted(int(t) for t in tokens if t.isdigit())
            if used != sorted(row["numbers"]):
                return f"{answer} does not use each of {row['numbers']} exactly once"
            return f"{answer} equals {fmt_number(evaluate(tokens))}, not {row['target']}"
        except (InvalidExpression, ZeroDivisionError, IndexError, ValueError):
            return f"{answer} is not a valid equation"


def _arithmetic_shape_only(catch_style: str, same_endings: bool, own_answer: str | None) -> None:
    if (catch_style, same_endings, own_answer) != ("slips", False, None):
        raise ValueError("catch_style, same_endings and own answers shape arithmetic slips; a Countdown journey "
                         "backtracks from dead ends instead")


def _solution(numbers: list[int], table: dict[int, np.ndarray], target: int) -> str | None:
    equation = equation_reaching(numbers, table, (1 << len(numbers)) - 1, float(target))
    return equation if equation and check_equation(equation, numbers, target) else None


def solve(numbers: list[int], target: int) -> str | None:
    """One equation over all ``numbers`` that equals ``target``, or None if there is none.

    Complete under TinyZero's rules (non-integer intermediate steps are allowed), and
    every equation it returns has passed the exact verifier.

    >>> solve([3, 8, 3, 8], 24)
    '(8 / (3 - (8 / 3)))'
    >>> solve([1, 1, 1], 100) is None
    True
    """
    return _solution(numbers, reachable_values(numbers), target)
