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

from minireason.tasks.countdown import InvalidExpression, evaluate, tokenize

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
