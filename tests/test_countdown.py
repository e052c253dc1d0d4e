"""Countdown: generator (solvable, deterministic, in range), solver (complete), verifier (TinyZero rules)."""

import itertools
import random
from fractions import Fraction

import pytest

from minireason.tasks import get_task
from minireason.tasks.countdown import check_equation, solve


def brute_force_targets(numbers):
    """Every value reachable with all numbers, by plain recursion over exact fractions."""
    if len(numbers) == 1:
        return {numbers[0]}
    values = set()
    for i, j in itertools.combinations(range(len(numbers)), 2):
        a, b = numbers[i], numbers[j]
        rest = [x for k, x in enumerate(numbers) if k not in (i, j)]
        for v in [a + b, a * b, a - b, b - a] + ([a / b] if b else []) + ([b / a] if a else []):
            values |= brute_force_targets(rest + [v])
    return values


def test_same_seed_same_rows_and_other_seed_other_rows():
    task = get_task("countdown")
    assert task.generate(20, seed=3) == task.generate(20, seed=3)
    assert task.generate(20, seed=3) != task.generate(20, seed=4)


def test_every_generated_problem_is_solvable_and_in_range():
    task = get_task("countdown", num_numbers=[3, 4], max_number=100, max_target=100)
    rows = task.generate(300, seed=0)
    assert {len(r["numbers"]) for r in rows} == {3, 4}
    for row in rows:
        assert all(1 <= n <= 100 for n in row["numbers"])
        assert 1 <= row["target"] <= 100
        assert check_equation(row["solution"], row["numbers"], row["target"])
        assert task.score(f"<think>x</think><answer>{row['solution']}</answer>", row) == 1.0
        assert row["task"] == "countdown" and row["id"].startswith("countdown-s0-")
        assert str(row["numbers"]) in row["prompt"][0]["content"]
        assert row["prompt_base"].endswith("<think>")


@pytest.mark.parametrize("seed", range(6))
def test_solver_is_complete_against_brute_force(seed):
    rng = random.Random(seed)
    numbers = [rng.randint(1, 12) for _ in range(rng.choice([3, 4]))]
    reachable = {int(v) for v in brute_force_targets([Fraction(n) for n in numbers]) if v.denominator == 1}
    for target in range(0, 60):
        found = solve(numbers, target)
        assert (found is not None) == (target in reachable), (numbers, target)
        if found:
            assert check_equation(found, numbers, target)


@pytest.mark.parametrize("numbers,target", [([3, 8, 3, 8], 24), ([1, 5, 5, 5], 24), ([4, 4, 10, 10], 24)])
def test_solver_finds_solutions_that_need_fractions(numbers, target):
    assert check_equation(solve(numbers, target), numbers, target)


ROW = {"numbers": [44, 19, 35], "target": 98, "task": "countdown"}


@pytest.mark.parametrize("completion,expected", [
    ("<think>…</think><answer>44 + 19 + 35</answer>", 1.0),
    ("<answer>(44 + 19) + 35</answer>", 1.0),
    ("<answer>35+19+44</answer>", 1.0),                        # any order
    ("<answer> 44 + 19 + 35 = 98 </answer>", 0.1),            # '=' is not allowed (TinyZero)
    ("<answer>44 + 19 + 34</answer>", 0.1),                    # wrong number
    ("<answer>44 + 19</answer>", 0.1),                         # number missing
    ("<answer>44 + 19 + 35 + 0</answer>", 0.1),               # extra number
    ("<answer>44 + 44 + 10</answer>", 0.1),                    # reused number
    ("<answer>44 - 19 + 35</answer>", 0.1),                    # valid but wrong value
    ("<answer>44.0 + 19 + 35</answer>", 0.1),                  # only integer literals
    ("<answer>44 + 19 + 35</answer> later <answer>1</answer>", 0.1),  # the last tag counts
    ("<answer>1</answer> then <answer>44 + 19 + 35</answer>", 1.0),
    ("44 + 19 + 35", 0.0),                                     # no tag
    ("<answer>44 + 19 + 35", 0.0),                             # unclosed tag
])
def test_scores_follow_tinyzero_rules(completion, expected):
    assert get_task("countdown").score(completion, ROW) == expected


def test_tolerance_and_fraction_steps():
    row = {"numbers": [3, 8, 3, 8], "target": 24}
    assert get_task("countdown").score("<answer>8 / (3 - 8 / 3)</answer>", row) == 1.0
    assert check_equation("-(1 - 3) * 2", [1, 3, 2], 4)  # unary minus, as eval-based TinyZero allows


def test_scores_are_configurable():
    task = get_task("countdown", correct_score=2.0, format_score=-0.5, no_answer_score=-1.0)
    assert [task.score(c, ROW) for c in ("<answer>44+19+35</answer>", "<answer>1</answer>", "")] == [2.0, -0.5, -1.0]


@pytest.mark.parametrize("params,message", [
    ({"num_numbers": 1}, "num_numbers"), ({"num_numbers": [4, 3]}, "above max"),
    ({"min_number": 5, "max_number": 2}, "min_number"), ({"bogus": 1}, "parameters are"),
    ({"max_target": "100"}, "must be int"),
])
def test_bad_parameters_raise_clear_errors(params, message):
    with pytest.raises(ValueError, match=message):
        get_task("countdown", **params)


def test_unsolvable_ranges_fail_clearly():
    with pytest.raises(RuntimeError, match="widen the ranges"):
        get_task("countdown", num_numbers=2, min_number=1, max_number=1, min_target=50, max_target=60,
                 max_draws=20).generate(1)


def test_unknown_task_lists_the_tasks():
    with pytest.raises(ValueError, match="arithmetic, countdown, math"):
        get_task("sudoku")
