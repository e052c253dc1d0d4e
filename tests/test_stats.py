"""minireason.stats against cases worked out by hand, and the intervals' coverage where a formula is not enough."""

import math
import random

import pytest

from minireason.stats import bootstrap_interval, mcnemar_exact, paired_bootstrap, seed_interval, wilson_interval


def test_wilson_by_hand():
    # 8 of 10: centre (0.8 + z²/20) / (1 + z²/10) = 0.7168, half-width z / (1 + z²/10) * sqrt(0.016 + z²/400) = 0.2266.
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0) and wilson_interval(0, 10)[0] == 0.0
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_wilson_covers_the_true_rate_about_95_percent_of_the_time():
    rng, p, n = random.Random(0), 0.1, 50
    covered = 0
    for _ in range(4000):
        low, high = wilson_interval(sum(rng.random() < p for _ in range(n)), n)
        covered += low <= p <= high
    assert 0.93 <= covered / 4000 <= 0.98


def test_bootstrap_by_hand():
    # Two problems: a resampled mean is the first value twice, one of each, or the second twice (1/4, 1/2, 1/4).
    result = bootstrap_interval([[1, 0], [1, 1]])  # per problem, over the two runs: 1 and 0.5
    assert (result["mean"], result["low"], result["high"], result["per_run"]) == (0.75, 0.5, 1.0, [0.5, 1.0])
    assert bootstrap_interval([0.3])["low"] == bootstrap_interval([0.3])["high"] == 0.3
    with pytest.raises(ValueError):
        bootstrap_interval([[1, 0], [1]])


def test_paired_bootstrap_takes_differences_problem_by_problem():
    before, after = [[0, 1, 0, 1]], [[1, 1, 0, 0]]  # differences +1, 0, 0, -1
    result = paired_bootstrap(before, after)
    assert result["mean"] == 0 and result["per_run"] == [0.0] and result["low"] < 0 < result["high"]
    assert paired_bootstrap([0, 0], [1, 1])["low"] == 1.0  # a flat list is one run
    with pytest.raises(ValueError):
        paired_bootstrap([[0, 1]], [[0, 1], [1, 0]])


def test_bootstrap_interval_of_a_rate_is_close_to_wilsons():
    values = [1] * 60 + [0] * 68
    result, (low, high) = bootstrap_interval(values), wilson_interval(60, 128)
    assert abs(result["low"] - low) < 0.015 and abs(result["high"] - high) < 0.015


def test_mcnemar_by_hand():
    # 5 gained, 0 lost: twice the chance of 0 heads in 5 flips, 2 / 32.
    assert mcnemar_exact([False] * 5, [True] * 5) == {"gained": 5, "lost": 0, "p_value": 0.0625}
    # 8 gained, 2 lost: 2 * (C(10,0) + C(10,1) + C(10,2)) / 2**10 = 2 * 56 / 1024.
    before = [False] * 8 + [True] * 2 + [True] * 30
    after = [True] * 8 + [False] * 2 + [True] * 30  # the 30 agreeing problems do not count
    assert mcnemar_exact(before, after)["p_value"] == pytest.approx(112 / 1024)
    assert mcnemar_exact([True], [True])["p_value"] == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact([True], [True, False])


def test_seed_interval_by_hand():
    # Two seeds, 0.1 and 0.5: std 0.2828, t(1) = 12.706, half-width 12.706 * 0.2828 / sqrt(2) = 2.541.
    result = seed_interval([0.1, 0.5])
    assert result["mean"] == pytest.approx(0.3) and result["std"] == pytest.approx(math.sqrt(0.08))
    assert result["low"] == pytest.approx(0.3 - 2.5412, abs=1e-4) and result["high"] == pytest.approx(2.8412, abs=1e-4)
    assert seed_interval([0.4]) == {"mean": 0.4, "low": 0.4, "high": 0.4, "std": 0.0, "seeds": 1}
