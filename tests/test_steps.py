"""The process verifier (minireason.tasks.steps, Task.step_score, the step reward) on the kit's own traces."""

import pytest

from minireason.journey import journey_examples
from minireason.rewards import step_reward
from minireason.tasks import get_task
from minireason.tasks.steps import check_claims

TASKS = [("countdown", {}), ("arithmetic", {"op": "add", "digits": 3}), ("arithmetic", {"op": "sub", "digits": 3}),
         ("arithmetic", {"op": "mul", "digits": 2})]


@pytest.mark.parametrize("name,params", TASKS)
def test_every_clean_trace_passes_and_every_slip_is_caught(name, params):
    task = get_task(name, **params)
    rows = task.split_rows(150, seed=3)
    for style in ("reference", "shortcut"):
        traces = ([task.reference_completion(row) for row in rows] if style == "reference" else
                  [t["completion"][0]["content"] for t in journey_examples(rows, "shortcut", seed=3)])
        assert [task.step_score(trace, row) for trace, row in zip(traces, rows)] == [1.0] * len(rows), style
    journeys = journey_examples(rows, "journey", error_rate=0.3, seed=3)
    assert sum(t["errors"] for t in journeys) > 10
    for trace, row in zip(journeys, rows):
        text = trace["completion"][0]["content"]
        true, counted = check_claims(text, available=row.get("numbers"))
        if name == "countdown":  # a wrong turn is true arithmetic that leads nowhere: nothing false is claimed
            assert true == counted
        else:  # each slip is one false claim, corrected on the next line
            assert counted - true == trace["errors"], text


def test_step_reward_ranks_partial_traces_and_never_raises():
    row = get_task("countdown").generate(1, seed=0)[0]
    a, b = row["numbers"][:2]
    good, bad = f"Try {a} + {b} = {a + b}.", f"Try {a} + {b} = {a + b + 1}."
    invented = f"Try {a} + 1000 = {a + 1000}."  # arithmetic right, but 1000 is not in hand
    columns = {key: [row[key]] * 3 for key in ("task", "task_params", "numbers", "target")}
    assert step_reward([good, bad, invented], **columns) == [1.0, 0.0, 0.0]
    hostile = ["(" * 5000 + "=", "9" * 5000 + " = 9", "1 = 1 " * 2000, "2**99**99 = 1", "\x00=\x00", ""]
    scores = step_reward(hostile, **{key: value[:1] * len(hostile) for key, value in columns.items()})
    assert all(0.0 <= score <= 1.0 for score in scores)
