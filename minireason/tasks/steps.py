"""A process verifier: the arithmetic a reasoning trace claims, checked claim by claim.

A claim is an equality chain written in the trace: ``4 + 3 + 1 = 8``, ``Try 79 - 50 = 29``,
``70 × 3 + 2 × 3 = 210 + 6 = 216``. Each side is parsed and evaluated exactly by the Countdown
verifier's own tokenizer and evaluator (no ``eval``, integer literals, ``+ - * /``, ``×`` read as ``*``),
and the claim holds when every side has the same value. A side that does not parse (a decimal, a
word), or a first side with no operation (``7 times 1 = 7`` reads as ``1 = 7``), leaves its chain
uncounted rather than false: the checker judges arithmetic, not prose.

``Task.step_score`` turns this into a score of a partial trace, which beam search ranks steps by
(``minireason.search``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from fractions import Fraction

from minireason.answer_format import THINK_CLOSE, THINK_OPEN
from minireason.tasks.expressions import InvalidExpression, evaluate, tokenize

# Digits, operators, brackets and spaces on both sides of one or more '='. Linear: no nested quantifiers.
_CHAIN = re.compile(r"-?[0-9(][0-9+\-*/×() ]*(?:=[0-9+\-*/×() ]*[0-9)])+")
# Column addition names its carry: "9 + 4 + carry 1 = 14" claims 9 + 4 + 1 = 14.
_CARRY = re.compile(r"\+ ?carry ")
# Reading stops here: claims past ~4k characters say nothing a ranking needs, and the check stays cheap.
MAX_CHARS = 4096


def claims(text: str) -> Iterator[tuple[list[Fraction], list[int]]]:
    """Each parsable equality chain in ``text``: the value of every side, and the integer literals of its first.

    >>> [([str(v) for v in values], operands) for values, operands in claims("4 + 3 + 1 = 8, so 7 × 6 = 40.")]
    [(['8', '8'], [4, 3, 1]), (['42', '40'], [7, 6])]
    >>> list(claims("3.5 = 7 / 2, and 7 times 1 = 7"))  # "5 = 7 / 2" and "1 = 7" state no operation
    []
    >>> [str(v) for values, _ in claims("Column 2: 9 + 4 + carry 1 = 14") for v in values]
    ['14', '14']
    """
    for match in _CHAIN.finditer(_CARRY.sub("+ ", text[:MAX_CHARS])):
        sides = match.group().replace("×", "*").split("=")
        try:
            token_lists = [tokenize(side) for side in sides]
            values = [evaluate(tokens) for tokens in token_lists]
        except InvalidExpression:
            continue
        operands = [int(t) for t in token_lists[0] if t.isdigit()]
        if len(operands) > 1:
            yield values, operands


def check_claims(text: str, available: list[int] | None = None) -> tuple[int, int]:
    """``(true, counted)`` over the claims in ``text``.

    With ``available`` (Countdown's numbers), a claim also needs its first side to use only numbers in hand:
    the given ones, or results of earlier claims.

    >>> check_claims("45 + 37: 5 + 7 = 12, 4 + 3 + 1 = 8. So 45 + 37 = 82.")
    (3, 3)
    >>> check_claims("Try 79 - 50 = 29. Try 29 * 3 = 87. Try 5 + 5 = 10.", available=[79, 50, 3])
    (2, 3)
    """
    in_hand = set(available or ())
    true = counted = 0
    for values, operands in claims(text):
        counted += 1
        holds = all(value == values[0] for value in values)
        if available is not None:
            holds = holds and all(operand in in_hand for operand in operands)
            if values[-1].denominator == 1:
                in_hand.add(int(values[-1]))
        true += holds
    return true, counted


# A line that opens so checks the step above it; with ", not " in it, the check says that step was wrong.
CHECK_OPENINGS = ("Wait", "Check")


def step_outcomes(text: str) -> list[tuple[bool, bool]]:
    """``(holds, flagged)`` for each step of a trace: a reasoning line whose first claim is its step (checks and
    the closing "So …" restatement are not steps), whether that claim holds, and whether the next line checks
    it and finds it wrong.

    >>> step_outcomes("<think>45 + 37.\\nColumn 1: 5 + 7 = 13, write 3, carry 1.\\n"
    ...               "Check: 13 - 7 = 6, not 5. So Column 1: 5 + 7 = 12, write 2, carry 1.\\n"
    ...               "Column 2: 4 + 3 + carry 1 = 8, write 8.\\nCheck: 8 - 3 - 1 = 4 ✓\\nSo 45 + 37 = 82.</think>")
    [(False, True), (True, False)]
    """
    return [(holds, following.startswith(CHECK_OPENINGS) and ", not " in following)
            for _, holds, following in _steps(text)]


def step_lines(text: str) -> list[tuple[str, str]]:
    """``(step, the line after it)`` for each step of a trace's reasoning, in order: the lines with arithmetic
    that are not checks and not the closing "So …".

    >>> step_lines("<think>45 + 37.\\nColumn 1: 5 + 7 = 12, write 2, carry 1.\\nCheck: 12 - 7 = 5 ✓\\nSo 45 + 37 = 82.")
    [('Column 1: 5 + 7 = 12, write 2, carry 1.', 'Check: 12 - 7 = 5 ✓')]
    """
    return [(line, following) for line, _, following in _steps(text)]


def _steps(text: str) -> list[tuple[str, bool, str]]:
    """``(step, whether its claim holds, the line after it)``: each line's claims parsed once, for both readers."""
    lines = text[:MAX_CHARS].split(THINK_CLOSE)[0].replace(THINK_OPEN, "").splitlines()
    steps = []
    for line, following in zip(lines, lines[1:] + [""]):
        holds = None if line.startswith((*CHECK_OPENINGS, "So ")) else first_claim_holds(line)
        if holds is not None:
            steps.append((line, holds, following))
    return steps


def first_claim_holds(line: str) -> bool | None:
    """Whether the first chain of equalities in ``line`` holds; None when the line has none.

    >>> first_claim_holds("Column 1: 5 + 7 = 13, write 3."), first_claim_holds("Check: 13 - 7 = 6 ✓")
    (False, True)
    >>> first_claim_holds("Wait, let me check that.") is None
    True
    """
    first = next(claims(line), None)
    return None if first is None else all(value == first[0][0] for value in first[0])


def step_measures(samples: list[dict]) -> dict:
    """How scored samples (``completion``, ``correct``) handle their steps: step accuracy (share of steps whose
    claim holds), catch recall (wrong steps the next line flags), false alarms (right steps flagged), recovery
    (answers with a wrong step that still end right), with the counts behind each rate (None: nothing to count),
    the share of answers that check anything at all, and the share of checks whose own arithmetic holds.

    >>> good = "<think>Column 1: 5 + 7 = 12, write 2.</think>"
    >>> caught = "<think>Column 1: 5 + 7 = 11.\\nWait, let me check that: 5 + 7 = 12, not 11.</think>"
    >>> m = step_measures([{"completion": good, "correct": True}, {"completion": caught, "correct": True}])
    >>> m["step_accuracy"], m["catch_recall"], m["false_alarms"], m["recovery"]
    (0.5, 1.0, 0.0, 1.0)
    """
    counts = dict.fromkeys(("steps", "right", "wrong", "caught", "false_alarms", "answers_with_a_wrong_step",
                            "recovered", "answers", "answers_checking", "checks", "true_checks"), 0)
    for sample in samples:
        counts["answers"] += 1
        checks = [line for line in sample["completion"].splitlines() if line.startswith(CHECK_OPENINGS)]
        counts["answers_checking"] += bool(checks)
        for check in checks:  # the check's own arithmetic: a check that is wrong itself can pass anything
            holds = first_claim_holds(check)
            if holds is not None:
                counts["checks"] += 1
                counts["true_checks"] += holds
        outcomes = step_outcomes(sample["completion"])
        counts["steps"] += len(outcomes)
        counts["right"] += sum(holds for holds, _ in outcomes)
        counts["caught"] += sum(flagged for holds, flagged in outcomes if not holds)
        counts["false_alarms"] += sum(flagged for holds, flagged in outcomes if holds)
        if not all(holds for holds, _ in outcomes):
            counts["answers_with_a_wrong_step"] += 1
            counts["recovered"] += bool(sample["correct"])
    counts["wrong"] = counts["steps"] - counts["right"]
    rate = lambda part, whole: counts[part] / counts[whole] if counts[whole] else None  # noqa: E731
    return {"step_accuracy": rate("right", "steps"), "catch_recall": rate("caught", "wrong"),
            "false_alarms": rate("false_alarms", "right"), "recovery": rate("recovered", "answers_with_a_wrong_step"),
            "checking": rate("answers_checking", "answers"), "check_accuracy": rate("true_checks", "checks"),
            "counts": counts}
