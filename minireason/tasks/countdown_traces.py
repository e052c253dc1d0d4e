"""Countdown's traces (``Countdown.shortcut_trace`` and ``journey_trace``): searches written move by move.

With ``dfs`` or ``greedy``, a journey is the clean path with detours: a detour is a move from which the target is
provably unreachable (the subset solver checks), followed down to a leaf that misses the target, then a backtrack;
``dfs`` takes any dead-end move, ``greedy`` the one whose result is closest to the target (the tempting one). With
``search``, the trace is a real depth-first search with no oracle, as Stream of Search writes one
(``search_lines``): moves nearest the target first, every leaf tried, a backtrack from each dead end.
"""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np

from minireason.tasks.countdown_solver import reachable_values
from minireason.tasks.expressions import evaluate, tokenize
from minireason.tasks.traces import Trace, fmt_number, fmt_values, wrap_lines

STRATEGIES = ("dfs", "greedy", "search")

# A "search" trace longer than this is written as its direct path instead (a few searches run to hundreds of lines).
MAX_SEARCH_LINES = 24


def _combine(a: Fraction, op: str, b: Fraction) -> Fraction:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    return a * b if op == "*" else a / b


def solution_steps(solution: str) -> list[tuple[Fraction, str, Fraction]]:
    """The operations of a Countdown solution in the order they are worked out (innermost first).

    >>> [(str(a), op, str(b)) for a, op, b in solution_steps("((2 + 3) * 4)")]
    [('2', '+', '3'), ('5', '*', '4')]
    """
    steps: list[tuple[Fraction, str, Fraction]] = []
    evaluate(tokenize(solution), steps)
    return steps


def _can_reach(values: list[Fraction], target: int) -> bool:
    if len(values) == 1:
        return values[0] == target
    reached = reachable_values([float(v) for v in values])[(1 << len(values)) - 1]
    return bool(np.any(np.abs(reached - target) < 1e-6))


def _integer_moves(values: list[Fraction]) -> list[tuple[int, int, str, Fraction]]:
    """Moves a person would try: the larger minus the smaller, exact divisions only."""
    moves = []
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            a, b = (values[i], values[j]) if values[i] >= values[j] else (values[j], values[i])
            moves += [(i, j, "+", a + b), (i, j, "*", a * b), (i, j, "-", a - b)]
            if b != 0 and (a / b).denominator == 1:
                moves.append((i, j, "/", a / b))
    return moves


def _move_text(values: list[Fraction], i: int, j: int, op: str) -> tuple[str, list[Fraction]]:
    a, b = (values[i], values[j]) if values[i] >= values[j] or op in "+*" else (values[j], values[i])
    result = _combine(a, op, b)
    rest = [v for k, v in enumerate(values) if k not in (i, j)] + [result]
    return f"{fmt_number(a)} {op} {fmt_number(b)} = {fmt_number(result)}", rest


def _in_search_order(moves, target: int, strategy: str, rng: random.Random) -> list:
    """``dfs`` tries moves in any order; ``greedy`` tries the result nearest the target first."""
    if strategy == "greedy":
        return sorted(moves, key=lambda m: (abs(m[3] - target), m[2]))
    moves = list(moves)
    rng.shuffle(moves)
    return moves


def _detour(values: list[Fraction], target: int, strategy: str, rng: random.Random) -> list[str] | None:
    """Lines of a wrong turn from ``values``: a dead-end move followed to a leaf that misses.

    Moves are proved dead ends lazily, in search order: most moves are, so this usually
    costs one solver call, not one per move.
    """
    candidates = _in_search_order(_integer_moves(values), target, strategy, rng)
    move = next((m for m in candidates if not _can_reach(_move_text(values, *m[:3])[1], target)), None)
    if move is None:
        return None
    lines, state = [], values
    while True:
        text, state = _move_text(state, *move[:3])
        if len(state) == 1:
            lines.append(f"Try {text}. {fmt_number(state[0])} is not {target}.")
            break
        lines.append(f"Try {text}, left {fmt_values(state)}.")
        move = _in_search_order(_integer_moves(state), target, strategy, rng)[0]
    lines.append(f"That misses {target}; back to {fmt_values(values)}.")
    return lines


def search_lines(numbers: list[int], target: int, max_lines: int = MAX_SEARCH_LINES) -> tuple[list[str], str] | None:
    """A depth-first search for ``target`` written move by move, as Stream of Search writes one, and the equation
    it finds: at each state the moves nearest the target first, every leaf tried and seen to miss, a "Back to" on
    each dead end. States found dead once are not searched again. None when it would run past ``max_lines``.

    >>> lines, equation = search_lines([2, 3, 4], 20, max_lines=40)
    >>> print("\\n".join(lines[:6] + ["..."] + lines[-2:])); equation
    Try 4 * 3 = 12, left [2, 12].
    Try 12 * 2 = 24. 24 is not 20.
    Try 12 + 2 = 14. 14 is not 20.
    Try 12 - 2 = 10. 10 is not 20.
    Try 12 / 2 = 6. 6 is not 20.
    Back to [2, 3, 4].
    ...
    Try 3 + 2 = 5, left [4, 5].
    Try 5 * 4 = 20. That is the target.
    '((3 + 2) * 4)'
    >>> len(lines), search_lines([2, 3, 4], 20) is None  # past the default budget of 24 lines
    (29, True)
    """
    lines: list[str] = []
    dead: set[tuple] = set()

    def search(state: list[tuple[Fraction, str]]) -> str | None:
        values = [value for value, _ in state]
        for i, j, op, _ in sorted(_integer_moves(values), key=lambda m: (abs(m[3] - target), m[2])):
            (a, ea), (b, eb) = sorted((state[i], state[j]), key=lambda s: s[0], reverse=True)  # larger first
            result = _combine(a, op, b)
            rest = [v for k, v in enumerate(values) if k not in (i, j)] + [result]
            text, expression = f"{fmt_number(a)} {op} {fmt_number(b)} = {fmt_number(result)}", f"({ea} {op} {eb})"
            if len(rest) == 1:
                found = expression if rest[0] == target else None
                verdict = "That is the target." if found else f"{fmt_number(rest[0])} is not {target}."
                lines.append(f"Try {text}. {verdict}")
            elif tuple(sorted(rest)) in dead:
                continue
            else:
                lines.append(f"Try {text}, left {fmt_values(rest)}.")
                found = search([s for k, s in enumerate(state) if k not in (i, j)] + [(result, expression)])
                if not found:
                    lines.append(f"Back to {fmt_values(values)}.")
            if found or len(lines) > max_lines:
                return found
        dead.add(tuple(sorted(values)))
        return None

    equation = search([(Fraction(n), str(n)) for n in numbers])
    return (lines, equation) if equation and len(lines) <= max_lines else None


def natural_path(numbers: list[int], target: int) -> tuple[list[tuple[Fraction, str, Fraction]], str] | None:
    """Steps and equation reaching ``target`` with whole, non-negative numbers at every step, or None.

    The stored solution may pass through negatives or fractions (``51 - 91 = -40``); a trace
    that a person would write, and a small model can imitate, takes the larger number first
    and divides only exactly. Depth-first, remembering states that failed.

    >>> steps, equation = natural_path([2, 3, 4], 20)
    >>> equation
    '((3 + 2) * 4)'
    """
    failed: set[tuple] = set()

    def search(state: list[tuple[int, str]]):  # plain ints: every value on a natural path is whole
        if len(state) == 1:
            return ([], state[0][1]) if state[0][0] == target else None
        key = tuple(sorted(v for v, _ in state))
        if key in failed:
            return None
        for i in range(len(state)):
            for j in range(i + 1, len(state)):
                (a, ea), (b, eb) = sorted((state[i], state[j]), key=lambda s: s[0], reverse=True)
                rest = [s for k, s in enumerate(state) if k not in (i, j)]
                moves = [("+", a + b), ("*", a * b), ("-", a - b)] + ([("/", a // b)] if b and a % b == 0 else [])
                for op, result in moves:
                    found = search(rest + [(result, f"({ea} {op} {eb})")])
                    if found:
                        return [(Fraction(a), op, Fraction(b))] + found[0], found[1]
        failed.add(key)
        return None

    return search([(n, str(n)) for n in numbers])


def countdown_trace(row: dict, style: str = "journey", error_rate: float = 0.5, strategy: str = "dfs",
                    rng: random.Random | None = None) -> Trace:
    """A search trace for one Countdown row that ends in a verified equation: a natural path when one
    exists (see ``natural_path``), else the stored solution.
    """
    rng = rng or random.Random(0)
    target = int(row["target"])
    if style == "journey" and strategy == "search" and (found := search_lines(row["numbers"], target)):
        found, equation = found
        backtracks = sum(line.startswith("Back to") for line in found)
        lines = [f"Numbers {fmt_values([Fraction(n) for n in row['numbers']])}, target {target}.", *found,
                 f"So {equation} = {target}."]
        return Trace(wrap_lines(lines, equation), backtracks, backtracks)
    steps, solution = natural_path(row["numbers"], target) or (solution_steps(row["solution"]), row["solution"])
    values = [Fraction(n) for n in row["numbers"]]
    lines = [f"Numbers {fmt_values(values)}, target {target}."]
    errors = 0
    for a, op, b in steps:
        # A search past its budget is written as its direct path, without detours.
        if style == "journey" and strategy != "search" and rng.random() < error_rate:
            detour = _detour(values, target, strategy, rng)
            if detour:
                lines += detour
                errors += 1
        values.remove(a)
        values.remove(b)
        result = _combine(a, op, b)
        values.append(result)
        if len(values) == 1:
            lines.append(f"Try {fmt_number(a)} {op} {fmt_number(b)} = {fmt_number(result)}. That is the target.")
        else:
            lines.append(f"Try {fmt_number(a)} {op} {fmt_number(b)} = {fmt_number(result)}, left {fmt_values(values)}.")
    lines.append(f"So {solution} = {target}.")
    return Trace(wrap_lines(lines, solution), errors, errors)
