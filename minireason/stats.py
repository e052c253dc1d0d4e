"""Intervals and tests for the figures the kit reports: rates over problems, and paired differences of two models.

Small evaluations are noisy: 64 problems give a 95% interval about ±12 points wide at 50% accuracy.
Every accuracy the kit prints comes with one of these:

- ``wilson_interval``: one rate from one run (k of n problems right);
- ``bootstrap_interval``: the mean of any per-problem figure (pass@k, maj@k, tokens) over problems and runs,
  resampling problems, so it covers which problems were drawn;
- ``paired_bootstrap`` and ``mcnemar_exact``: the difference of two models on the same problems;
- ``seed_interval``: the spread between seeds (whole training runs), which no resampling of problems sees.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

Z95 = 1.959963984540054  # the normal quantile for a two-sided 95% interval
# Student's t, two-sided 95%, by degrees of freedom (1-30); beyond 30 the normal quantile is within 4%.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


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


def _as_runs(values: Sequence) -> list[list[float]]:
    """One run (a flat list of per-problem values) or several (a list of such lists), as a list of runs."""
    if values and not isinstance(values[0], (list, tuple)):
        return [list(values)]
    return [list(run) for run in values]


def bootstrap_interval(values: Sequence, resamples: int = 10_000, seed: int = 0, level: float = 0.95) -> dict:
    """The mean of a per-problem figure over problems and runs, with a percentile bootstrap interval.

    ``values[r][i]`` is problem ``i``'s figure in run ``r`` (a seed; one flat list is one run); every run
    scores the same problems. Problems are resampled, each carrying all of its runs, so the interval
    covers the choice of problems and the runs' spread on them. Returns ``mean``, ``low``, ``high`` and
    ``per_run`` (each run's own mean).

    >>> result = bootstrap_interval([[0] * 50 + [1] * 50, [1] * 100], resamples=2000)
    >>> result["mean"], result["per_run"]
    (0.75, [0.5, 1.0])
    >>> 0.66 < result["low"] < 0.75 < result["high"] < 0.84
    True
    >>> bootstrap_interval([1, 1, 1])["low"]  # no spread, no width
    1.0
    """
    runs = _as_runs(values)
    n = len(runs[0]) if runs else 0
    if n == 0 or any(len(run) != n for run in runs):
        raise ValueError("every run must score the same, non-zero number of problems")
    # Each problem's value averaged over runs: resampling problems keeps a problem's runs together.
    per_problem = [sum(run[i] for run in runs) / len(runs) for i in range(n)]
    rng = random.Random(seed)
    means = sorted(sum(per_problem[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    tail = (1 - level) / 2
    return {"mean": sum(per_problem) / n, "low": means[int(tail * resamples)],
            "high": means[min(resamples - 1, int((1 - tail) * resamples))],
            "per_run": [sum(run) / n for run in runs]}


def paired_bootstrap(before: Sequence, after: Sequence, resamples: int = 10_000, seed: int = 0,
                     level: float = 0.95) -> dict:
    """The mean difference ``after - before`` over problems and runs, with a bootstrap interval.

    ``before[r][i]`` and ``after[r][i]`` score problem ``i`` in run ``r`` (one flat list is one run):
    ``bootstrap_interval`` of the per-problem differences, so ``per_run`` holds each run's own difference.

    >>> result = paired_bootstrap([[0] * 50 + [1] * 50], [[1] * 100], resamples=2000)
    >>> result["mean"], result["per_run"]
    (0.5, [0.5])
    >>> 0.39 < result["low"] < 0.5 < result["high"] < 0.61
    True
    """
    before, after = _as_runs(before), _as_runs(after)
    if len(before) != len(after) or not before:
        raise ValueError("before and after need the same, non-zero number of runs")
    if any(len(b) != len(a) for b, a in zip(before, after)):
        raise ValueError("every run must score the same, non-zero number of problems")
    return bootstrap_interval([[a - b for a, b in zip(run_after, run_before)]
                               for run_before, run_after in zip(before, after)], resamples, seed, level)


def mcnemar_exact(before: Sequence[bool], after: Sequence[bool]) -> dict:
    """McNemar's exact test of two models scored right/wrong on the same problems.

    Only the discordant problems count: ``gained`` (wrong before, right after) and ``lost`` (right before,
    wrong after). Under "no difference" each is a fair coin flip, so the two-sided p-value is twice the
    binomial tail of the smaller count, capped at 1.

    >>> result = mcnemar_exact([True] + [False] * 9, [False] + [True] * 9)  # 9 gained, 1 lost
    >>> result["gained"], result["lost"], result["p_value"]  # 2 * (1 + 10) / 2**10
    (9, 1, 0.021484375)
    >>> mcnemar_exact([True, False], [True, False])["p_value"]  # nothing changed
    1.0
    """
    if len(before) != len(after) or not before:
        raise ValueError("before and after must score the same, non-zero number of problems")
    gained = sum(1 for b, a in zip(before, after) if a and not b)
    lost = sum(1 for b, a in zip(before, after) if b and not a)
    discordant = gained + lost
    tail = sum(math.comb(discordant, i) for i in range(min(gained, lost) + 1)) / 2**discordant
    return {"gained": gained, "lost": lost, "p_value": min(1.0, 2 * tail)}


def seed_interval(values: Sequence[float], bounds: tuple[float, float] = (-math.inf, math.inf)) -> dict:
    """Mean of per-seed figures with a 95% Student-t interval: how far another seed's run could land.

    With 3 seeds the interval is the mean ± 4.303 standard errors: wide, and honest about it. ``bounds`` clips
    it to the values the figure can take ((0, 1) for a rate, (-1, 1) for a difference of rates).

    >>> result = seed_interval([0.2, 0.3, 0.4])  # std 0.1, standard error 0.1 / sqrt(3)
    >>> round(result["mean"], 6), round(result["low"], 4), round(result["high"], 4)
    (0.3, 0.0516, 0.5484)
    >>> seed_interval([0.0, 0.0, 0.6], bounds=(0, 1))["low"]  # the t-interval reaches -0.44
    0
    """
    mean, std = mean_std(values)
    if len(values) < 2:
        return {"mean": mean, "low": mean, "high": mean, "std": 0.0, "seeds": len(values)}
    t = _T95[len(values) - 2] if len(values) - 1 <= len(_T95) else Z95
    half = t * std / math.sqrt(len(values))
    return {"mean": mean, "low": max(bounds[0], mean - half), "high": min(bounds[1], mean + half), "std": std,
            "seeds": len(values)}


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
