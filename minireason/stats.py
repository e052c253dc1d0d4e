"""Intervals for the figures the kit reports: rates over problems, and paired differences of two models.

Small evaluations are noisy: 64 problems give a 95% interval about ±12 points wide at 50% accuracy.
Every accuracy the kit prints comes with one of these.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

Z95 = 1.959963984540054  # the normal quantile for a two-sided 95% interval


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a rate; sound near 0 and 1, where the normal one is not.

    >>> [round(x, 4) for x in wilson_interval(0, 128)]
    [0.0, 0.0291]
    >>> [round(x, 4) for x in wilson_interval(64, 128)]
    [0.4147, 0.5853]
    """
    if n <= 0:
        raise ValueError(f"a rate needs at least one trial, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within [0, {n}], got {successes}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_bootstrap(before: Sequence[Sequence[float]], after: Sequence[Sequence[float]], resamples: int = 10_000,
                     seed: int = 0, level: float = 0.95) -> dict:
    """The mean difference ``after - before`` over problems and runs, with a bootstrap interval.

    ``before[r][i]`` and ``after[r][i]`` score problem ``i`` in run ``r`` (a seed); every run scores the
    same problems. Problems are resampled, each carrying all of its runs, so the interval covers
    the choice of problems and the runs' spread on them. Returns ``mean``, ``low``, ``high`` and
    ``per_run`` (each run's own mean difference).

    >>> result = paired_bootstrap([[0] * 50 + [1] * 50], [[1] * 100], resamples=2000)
    >>> result["mean"], result["per_run"]
    (0.5, [0.5])
    >>> 0.39 < result["low"] < 0.5 < result["high"] < 0.61
    True
    """
    if len(before) != len(after) or not before:
        raise ValueError("before and after need the same, non-zero number of runs")
    n = len(before[0])
    if n == 0 or any(len(run) != n for run in [*before, *after]):
        raise ValueError("every run must score the same, non-zero number of problems")
    # Each problem's difference averaged over runs: resampling problems keeps a problem's runs together.
    diffs = [sum(a[i] - b[i] for a, b in zip(after, before)) / len(before) for i in range(n)]
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    tail = (1 - level) / 2
    return {"mean": sum(diffs) / n, "low": means[int(tail * resamples)],
            "high": means[min(resamples - 1, int((1 - tail) * resamples))],
            "per_run": [sum(a[i] - b[i] for i in range(n)) / n for a, b in zip(after, before)]}


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value).

    >>> mean_std([0.2, 0.3, 0.4])
    (0.3, 0.1)
    """
    if not values:
        raise ValueError("mean_std needs at least one value")
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    return round(mean, 12), round(math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)), 12)
