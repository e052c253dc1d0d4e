"""Journey learning data (O1 Replication Journey): traces that go wrong, notice it, and recover.

Two styles over the same steps, so the two data sets differ only in the detours:

- ``shortcut``: only the path that works.
- ``journey``: with probability ``error_rate`` per step, the trace first goes wrong, then
  catches the mistake and corrects it.

Countdown journeys are searches. With ``dfs`` or ``greedy``, the trace is the clean path with
detours: a detour is a move from which the target is provably unreachable (the subset solver
checks), followed down to a leaf that misses the target, then a backtrack; ``dfs`` takes any
dead-end move, ``greedy`` the one whose result is closest to the target (the tempting one).
With ``search``, the trace is a real depth-first search with no oracle, as Stream of Search
writes one (``search_lines``): moves nearest the target first, every leaf tried, a backtrack
from each dead end, until the target.

Arithmetic journeys are worked sums (long multiplication, column addition, stepwise
subtraction) in which a wrong step is a plausible slip (a dropped carry, a digit off by
one) that the trace checks by another route and corrects.

Every trace ends in the verified answer, and every row records how many errors and
corrections it holds. A teacher's rejected attempt can also be stitched to an accepted
one (``stitch_attempts``), which is how the distillation pipeline makes journeys.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import accumulate
from typing import NamedTuple

import numpy as np

from minireason.answer_format import THINK_OPEN, extract_answer, wrap
from minireason.tasks import task_from_row
from minireason.tasks.countdown import reachable_values
from minireason.tasks.expressions import InvalidExpression, evaluate, tokenize
from minireason.tasks.steps import step_lines

STYLES = ("shortcut", "journey")
STRATEGIES = ("dfs", "greedy", "search")
# A "search" trace longer than this is written as its direct path instead (a few searches run to hundreds of lines).
MAX_SEARCH_LINES = 24


@dataclass
class Trace:
    """A completion and what it holds: errors made and corrections of them (equal when all are fixed)."""

    completion: str
    errors: int = 0
    corrections: int = 0
    # (start, end) character offsets in ``completion`` of each wrong value and the rest of its line: what
    # ``mask_errors`` leaves out of the loss.
    error_spans: list[tuple[int, int]] = field(default_factory=list)


def _fmt(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _values(values: list[Fraction]) -> str:
    return "[" + ", ".join(_fmt(v) for v in values) + "]"


def _combine(a: Fraction, op: str, b: Fraction) -> Fraction:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    return a * b if op == "*" else a / b


# -- Countdown --------------------------------------------------------------------------------

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
    return f"{_fmt(a)} {op} {_fmt(b)} = {_fmt(result)}", rest


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
            lines.append(f"Try {text}. {_fmt(state[0])} is not {target}.")
            break
        lines.append(f"Try {text}, left {_values(state)}.")
        move = _in_search_order(_integer_moves(state), target, strategy, rng)[0]
    lines.append(f"That misses {target}; back to {_values(values)}.")
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
            text, expression = f"{_fmt(a)} {op} {_fmt(b)} = {_fmt(result)}", f"({ea} {op} {eb})"
            if len(rest) == 1:
                found = expression if rest[0] == target else None
                lines.append(f"Try {text}. " + ("That is the target." if found else f"{_fmt(rest[0])} is not {target}."))
            elif tuple(sorted(rest)) in dead:
                continue
            else:
                lines.append(f"Try {text}, left {_values(rest)}.")
                found = search([s for k, s in enumerate(state) if k not in (i, j)] + [(result, expression)])
                if not found:
                    lines.append(f"Back to {_values(values)}.")
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

    >>> print(countdown_trace({"numbers": [2, 3, 4], "target": 20, "solution": "((2 + 3) * 4)"}, "shortcut").completion)
    <think>Numbers [2, 3, 4], target 20.
    Try 3 + 2 = 5, left [4, 5].
    Try 5 * 4 = 20. That is the target.
    So ((3 + 2) * 4) = 20.</think>
    <answer>((3 + 2) * 4)</answer>
    """
    rng = rng or random.Random(0)
    target = int(row["target"])
    if style == "journey" and strategy == "search" and (found := search_lines(row["numbers"], target)):
        found, equation = found
        backtracks = sum(line.startswith("Back to") for line in found)
        lines = [f"Numbers {_values([Fraction(n) for n in row['numbers']])}, target {target}.", *found,
                 f"So {equation} = {target}."]
        return Trace(_wrap(lines, equation), backtracks, backtracks)
    steps, solution = natural_path(row["numbers"], target) or (solution_steps(row["solution"]), row["solution"])
    values = [Fraction(n) for n in row["numbers"]]
    lines = [f"Numbers {_values(values)}, target {target}."]
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
            lines.append(f"Try {_fmt(a)} {op} {_fmt(b)} = {_fmt(result)}. That is the target.")
        else:
            lines.append(f"Try {_fmt(a)} {op} {_fmt(b)} = {_fmt(result)}, left {_values(values)}.")
    lines.append(f"So {solution} = {target}.")
    return Trace(_wrap(lines, solution), errors, errors)


# -- Arithmetic -------------------------------------------------------------------------------

CATCH_STYLES = ("slips", "every_step")
# How arithmetic journeys are shaped by default (``arithmetic_trace``): the traces written before the shape existed.
SHAPE_DEFAULTS = {"catch_style": "slips", "same_endings": False}


def shape_changes(options: dict) -> dict:
    """The shape options that differ from the defaults: what a data card or a resume check records, so that sets
    written before these options existed still match.

    >>> shape_changes({"catch_style": "every_step", "same_endings": False, "style": "journey"})
    {'catch_style': 'every_step'}
    """
    return {key: options[key] for key, default in SHAPE_DEFAULTS.items() if options.get(key, default) != default}


@dataclass
class _Step:
    """One step of a worked sum: ``claim = value`` then ``note(value)``. ``check`` recomputes the value another
    way (the slip style's check); ``audit(claimed)`` tests a claimed value from what is written, ``(text, holds)``
    (the every-step style's check, which must be able to pass)."""

    claim: str
    value: int
    check: str
    audit: Callable[[int], tuple[str, bool]]
    note: Callable[[int], str] = lambda value: ""


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
            steps.append(_Step(f"{a} × {d}", part, check, _recomputed(check, part)))
            if scale > 1:
                check = f"{part} with {place} zero(s) appended is {part * scale}"
                steps.append(_Step(f"{part} × {scale}", part * scale, check, _recomputed(check, part * scale)))
            partials.append(part * scale)
        total = partials[0]
        for part in partials[1:]:
            check = f"{total + part} - {part} = {total}"
            steps.append(_Step(f"{total} + {part}", total + part, check,
                               lambda claimed, total=total, part=part: _undone(f"{claimed} - {part}", claimed - part, total)))
            total += part
    elif op == "add":
        # Column addition, ones first. The slip style's check redoes the column with its carry spelled out; the
        # audit undoes the written total (total - y - carry should give back x), a route that differs from the sum.
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
            steps.append(_Step(claim, total, check, audit, _column_note(i == columns - 1)))
            carry = total // 10
    else:  # sub: take away the tens part, then the ones
        tens, ones = b - b % 10, b % 10
        first = a - tens
        for claim, start, taken, value in ((f"{a} - {tens}", a, tens, first),
                                           (f"{first} - {ones}", first, ones, first - ones)):
            steps.append(_Step(claim, value, f"{value} + {taken} = {start}",
                               lambda claimed, start=start, taken=taken: _undone(f"{claimed} + {taken}",
                                                                                 claimed + taken, start)))
    return steps


def arithmetic_trace(row: dict, style: str = "journey", error_rate: float = 0.5, rng: random.Random | None = None,
                     catch_style: str = "slips", same_endings: bool = False,
                     slips: dict[int, int] | None = None) -> Trace:
    """A worked sum; in a journey, a slipped step is caught by a check and corrected.

    ``catch_style``: ``slips`` checks only after a slip ("Wait, let me check that: …"); ``every_step`` checks every
    step from what was written and passes the right ones ("Check: 9 - 5 = 4 ✓"), so checking is a habit and
    the slip shows in the check, not before it. ``same_endings``: a slipped line goes on as a right one would
    from its wrong value (", write 9"), so how a line ends does not tell whether it slipped.
    ``Trace.error_spans`` marks each wrong value and the rest of its line. ``slips`` (step index → wrong value)
    replaces the injected slips: a model's own wrong steps (``own_slips``), each caught and corrected.

    >>> print(arithmetic_trace({"a": 47, "b": 6, "op": "mul", "answer": 282}, "shortcut").completion)
    <think>47 × 6.
    47 × 6 = 282.
    So 47 × 6 = 282.</think>
    <answer>282</answer>
    >>> row = {"a": 45, "b": 37, "op": "add", "answer": 82}
    >>> print(arithmetic_trace(row, "journey", 1.0, catch_style="every_step", same_endings=True).completion)
    <think>45 + 37.
    Column 1: 5 + 7 = 13, write 3, carry 1.
    Check: 13 - 7 = 6, not 5. So Column 1: 5 + 7 = 12, write 2, carry 1.
    Column 2: 4 + 3 + carry 1 = 7, write 7.
    Check: 7 - 3 - 1 = 3, not 4. So Column 2: 4 + 3 + carry 1 = 8, write 8.
    So 45 + 37 = 82.</think>
    <answer>82</answer>
    """
    if catch_style not in CATCH_STYLES:
        raise ValueError(f"catch_style must be one of {CATCH_STYLES}, got {catch_style!r}")
    rng = rng or random.Random(0)
    a, b, op, answer = int(row["a"]), int(row["b"]), row["op"], int(row["answer"])
    symbol = {"add": "+", "sub": "-", "mul": "×"}[op]
    lines, spans, errors = [f"{a} {symbol} {b}."], [], 0
    for index, step in enumerate(_arithmetic_steps(a, b, op)):
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
                lines.append(f"Check: {step.audit(wrong)[0]}. So {right}")
        else:
            lines.append(right)
            if catch_style == "every_step":
                lines.append(f"Check: {step.audit(step.value)[0]} ✓")
    lines.append(f"So {a} {symbol} {b} = {answer}.")
    completion = _wrap(lines, str(answer))
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


# -- Teacher attempts -------------------------------------------------------------------------

def why_wrong(row: dict, answer: str | None) -> str:
    """One sentence on why an answer fails the verifier, as a trace would notice it.

    >>> why_wrong({"task": "countdown", "numbers": [2, 3, 4], "target": 20}, "2 * 3 + 4")
    '2 * 3 + 4 equals 10, not 20'
    """
    if answer is None:
        return "that attempt never reached an answer"
    answer = answer.strip()
    if row.get("task") == "countdown":
        try:
            tokens = tokenize(answer)
            used = sorted(int(t) for t in tokens if t.isdigit())
            if used != sorted(row["numbers"]):
                return f"{answer} does not use each of {row['numbers']} exactly once"
            return f"{answer} equals {_fmt(evaluate(tokens))}, not {row['target']}"
        except (InvalidExpression, ZeroDivisionError, IndexError, ValueError):
            return f"{answer} is not a valid equation"
    if "answer" in row and not isinstance(row["answer"], (list, dict)):
        return f"{answer} is not the right result"
    return f"{answer} does not check out"


def _reasoning(completion: str) -> str:
    """The thinking part of a completion, without tags."""
    text = completion.split("</think>")[0] if "</think>" in completion else completion.split("<answer>")[0]
    return text.replace(THINK_OPEN, "").strip()


def stitch_attempts(row: dict, rejected: str, accepted: str) -> Trace:
    """A rejected attempt, a reflection on why it fails, then the accepted attempt: one journey trace."""
    answer = extract_answer(accepted)
    lines = [_reasoning(rejected),
             f"Wait, {why_wrong(row, extract_answer(rejected))}. Let me try again.",
             _reasoning(accepted)]
    return Trace(_wrap(lines, (answer or "").strip()), 1, 1)


def _wrap(lines: list[str], answer: str) -> str:
    return wrap("\n".join(lines), answer)


# -- Data sets --------------------------------------------------------------------------------

def journey_trace(row: dict, style: str = "journey", error_rate: float = 0.5, strategy: str = "dfs",
                  rng: random.Random | None = None, *, catch_style: str = "slips", same_endings: bool = False,
                  own_answer: str | None = None) -> Trace:
    """The trace of one Countdown or arithmetic row in the given style. Arithmetic only (``arithmetic_trace``):
    ``catch_style``, ``same_endings``, and ``own_answer``, a model's answer whose first wrong step is the slip
    (in place of injected ones)."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"error_rate must lie in [0, 1], got {error_rate}")
    if row.get("task") == "countdown":
        if (catch_style, same_endings, own_answer) != ("slips", False, None):
            raise ValueError("catch_style, same_endings and own answers shape arithmetic slips; a Countdown journey "
                             "backtracks from dead ends instead")
        return countdown_trace(row, style, error_rate, strategy, rng)
    if row.get("task") == "arithmetic":
        slips = None if own_answer is None or style == "shortcut" else own_slips(row, own_answer)
        return arithmetic_trace(row, style, error_rate, rng, catch_style, same_endings, slips)
    raise ValueError(f"journey traces are written for countdown and arithmetic rows, not {row.get('task')!r}; "
                     "for other tasks stitch a teacher's attempts (minireason data journey --teacher …)")


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

