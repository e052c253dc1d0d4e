"""The verifier is the attack surface: any input scores fast, in range, without raising.

Property tests (hypothesis) check the evaluator against an independent reference; the
nasty corpus checks the worst inputs known to break eval-based scorers.
"""

import threading
import time
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minireason.answer_format import extract_answer
from minireason.rewards import REWARDS
from minireason.tasks import get_task
from minireason.tasks.countdown import check_equation
from minireason.tasks.expressions import evaluate, tokenize
from minireason.testing.nasty_inputs import nasty_completions

COUNTDOWN_ROW = {"numbers": [44, 19, 35], "target": 98, "task": "countdown"}
ARITHMETIC_ROW = {"a": 44, "b": 54, "op": "add", "answer": 98, "task": "arithmetic"}
MATH_ROW = {"problem": "2 * 49?", "answer": "98", "task": "math"}
NASTY = nasty_completions()


def _tasks():
    from minireason.tasks.math_answers import MathAnswers

    return [(get_task("countdown"), COUNTDOWN_ROW), (get_task("arithmetic", op="add"), ARITHMETIC_ROW),
            (MathAnswers(path="unused.jsonl"), MATH_ROW)]


@pytest.fixture(scope="module")
def warm_tasks():
    """The tasks, each having scored once, so imports (sympy: ~0.5 s) are not timed."""
    tasks = _tasks()
    for task, row in tasks:
        task.score("<answer>1</answer>", row)
    return tasks


@pytest.mark.parametrize("name", list(NASTY))
def test_nasty_inputs_score_fast_and_never_raise(name, warm_tasks):
    completion = NASTY[name]
    for task, row in warm_tasks:
        started = time.perf_counter()
        score = task.score(completion, row)
        elapsed = time.perf_counter() - started
        # math-verify extracts an answer from free text ("(lambda: 98)()" holds 98): lenient by
        # design, and harmless since nothing is executed. The exact verifiers accept none of these.
        lenient = task.name == "math" and "98" in str(completion)
        assert score in ((0.0, 0.1, 1.0) if lenient else (0.0, 0.1)), (task.name, name, score)
        # 10 MB inputs need a few ms of string scanning; everything else is sub-millisecond alone. The bound guards
        # against a parser gone quadratic (seconds), with room for the other test worker training beside it: in a
        # clean-clone CI run math-verify took 0.30 s on "nan" so.
        assert elapsed < 1.0, (task.name, name, elapsed)


def test_correct_answers_in_odd_wrappers_still_score():
    countdown = get_task("countdown")
    assert countdown.score([{"role": "assistant", "content": "<answer>44 + 19 + 35</answer>"}], COUNTDOWN_ROW) == 1.0
    assert countdown.score("<answer>44\n+\n19\n+\n35</answer>", COUNTDOWN_ROW) == 1.0


@pytest.mark.parametrize("name", list(NASTY))
def test_rewards_survive_the_corpus(name):
    batch = [NASTY[name]]
    columns = {k: [v] for k, v in COUNTDOWN_ROW.items()}
    for reward_name, reward in REWARDS.items():
        started = time.perf_counter()
        values = reward(batch, prompts=["x"], completion_ids=None, **columns)
        assert len(values) == 1 and isinstance(values[0], float), reward_name
        assert -1.0 <= values[0] <= 1.0, (reward_name, values)
        assert time.perf_counter() - started < 1.0, (reward_name, name)


def test_math_verifier_works_in_worker_threads():
    """math-verify's SIGALRM timeouts raise off the main thread; ours must not."""
    task, row = _tasks()[2]
    results = {}

    def worker():
        results["right"] = task.score("<answer>98</answer>", row)
        results["tower"] = task.score("<answer>9^9^9^9</answer>", row)
        results["fraction"] = task.score("<answer>\\frac{196}{2}</answer>", row)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=30)
    assert results == {"right": 1.0, "tower": 0.1, "fraction": 1.0}


# --- property tests --------------------------------------------------------------------

@settings(max_examples=300, deadline=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
def test_any_text_scores_in_range(text):
    for task, row in _tasks()[:2]:
        assert task.score(text, row) in (0.0, 0.1, 1.0)
        tagged = f"<answer>{text}</answer>"
        answered = (extract_answer(tagged) or "").strip()  # "<answer>" inside leaves an empty last tag
        assert task.score(tagged, row) in ((0.1, 1.0) if answered else (0.0,))  # an empty tag is no answer


@settings(max_examples=300, deadline=200)
@given(st.text(alphabet="0123456789+-*/() \n", max_size=300))
def test_expression_like_text_never_raises(text):
    assert check_equation(text, [1, 2, 3], 6) in (True, False)


def expression_trees(numbers):
    """Random expression trees over ``numbers``, as (text, exact value or None for a zero division)."""
    leaves = st.sampled_from(numbers).map(lambda n: (str(n), Fraction(n)))

    def combine(children):
        return st.tuples(children, st.sampled_from("+-*/"), children).map(_apply)

    return st.recursive(leaves, combine, max_leaves=6)


def _apply(parts):
    (left, a), op, (right, b) = parts
    if a is None or b is None or (op == "/" and b == 0):
        return (f"({left} {op} {right})", None)
    value = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[op]()
    return (f"({left} {op} {right})", value)


@settings(max_examples=400, deadline=200)
@given(expression_trees([1, 2, 3, 7, 10, 25, 100]))
def test_evaluator_matches_exact_reference(tree):
    text, value = tree
    if value is None:
        with pytest.raises(ValueError, match="division by zero"):
            evaluate(tokenize(text))
    else:
        assert evaluate(tokenize(text)) == value
        assert evaluate(tokenize(text.replace("(", " ( ").replace(")", " ) "))) == value


@settings(max_examples=200, deadline=200)
@given(st.lists(st.integers(1, 100), min_size=3, max_size=4), st.text(max_size=200), st.text(max_size=200))
def test_a_correct_equation_wins_wherever_it_sits(numbers, before, after):
    """The solution in the last answer tag scores 1.0 whatever text surrounds it."""
    expression = " + ".join(map(str, numbers))
    row = {"numbers": numbers, "target": sum(numbers)}
    after = after.replace("<answer>", "").replace("</answer>", "")
    completion = f"{before}<answer>{expression}</answer>{after}"
    assert get_task("countdown").score(completion, row) == 1.0
