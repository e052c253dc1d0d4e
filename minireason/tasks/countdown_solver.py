"""Countdown's solver: every value a subset of the numbers reaches, and an equation for a target, vectorised with
numpy. The generator keeps only solvable draws with it; the journey traces prove dead ends with it."""

from __future__ import annotations

import numpy as np

_SYMBOLS = ("+", "*", "-", "-", "/", "/")
_SWAPPED = (False, False, False, True, False, True)  # b - a and b / a write b first
SOLUTION_TOLERANCE = 1e-6


def _outer_ops(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shape (6, len(a), len(b)): a+b, a*b, a-b, b-a, a/b, b/a; a division by zero gives nan."""
    x, y = a[:, None], b[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.stack(np.broadcast_arrays(x + y, x * y, x - y, y - x, x / y, y / x))
    out[~np.isfinite(out)] = np.nan
    return out


def _splits(mask: int):
    """Each unordered split of a bit mask into two non-empty halves, once."""
    sub = (mask - 1) & mask
    while sub:
        if sub < mask ^ sub:
            yield sub, mask ^ sub
        sub = (sub - 1) & mask


def reachable_values(numbers: list[int]) -> dict[int, np.ndarray]:
    """For each subset of ``numbers`` (a bit mask), every value its equations reach.

    A subset DP: a set's values are all ops between the values of its two halves, over
    every split. Values within 1e-9 merge (far inside the verifier's 1e-5 tolerance) but
    are kept unrounded, so chains like 8 / (3 - 8 / 3) = 24 stay exact enough.
    """
    table = {1 << i: np.array([float(x)]) for i, x in enumerate(numbers)}
    for mask in range(1, 1 << len(numbers)):
        if mask in table:
            continue
        values = np.concatenate([_outer_ops(table[s], table[o]).ravel() for s, o in _splits(mask)])
        values = values[~np.isnan(values)]
        _, first = np.unique(np.round(values, 9), return_index=True)
        table[mask] = values[first]
    return table


def equation_reaching(numbers: list[int], table: dict[int, np.ndarray], mask: int, value: float) -> str | None:
    """Rebuild one equation for ``value`` over ``mask``, walking back down the DP table."""
    if mask & (mask - 1) == 0:
        return str(numbers[mask.bit_length() - 1])
    for sub, other in _splits(mask):
        a, b = table[sub], table[other]
        for op, i, j in zip(*np.nonzero(np.abs(_outer_ops(a, b) - value) < SOLUTION_TOLERANCE)):
            left = equation_reaching(numbers, table, sub, a[i])
            right = equation_reaching(numbers, table, other, b[j])
            if left and right:
                if _SWAPPED[op]:
                    left, right = right, left
                return f"({left} {_SYMBOLS[op]} {right})"
    return None


