"""Journey traces: every claim is true or corrected, dead ends are real, answers verify, counts are honest."""

import itertools
import random
import re
from fractions import Fraction

import pytest

from minireason.journey import journey_examples, journey_trace, stitch_attempts
from minireason.tasks import get_task
from minireason.tasks.countdown_solver import reachable_values
from minireason.tasks.countdown_traces import countdown_trace, solution_steps

COUNTDOWN = get_task("countdown").generate(300, seed=3)
ARITHMETIC = {op: get_task("arithmetic", op=op, digits=[3, 2]).generate(200, seed=3) for op in ("add", "sub", "mul")}

_NUMBER = r"-?\d+(?:/\d+)?"
_TRY = re.compile(rf"^Try ({_NUMBER}) ([-+*/]) ({_NUMBER}) = ({_NUMBER})")
_STATE = re.compile(r"\[([^\]]*)\]")


def _value(text: str) -> Fraction:
    return Fraction(text)


def _apply(a: Fraction, op: str, b: Fraction) -> Fraction:
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[op]()


def _think_lines(completion: str) -> list[str]:
    return completion.split("<think>")[1].split("</think>")[0].split("\n")


def _can_reach(values: list[Fraction], target: int) -> bool:
    reached = reachable_values([float(v) for v in values])[(1 << len(values)) - 1]
    return any(abs(v - target) < 1e-6 for v in reached)


@pytest.mark.parametrize("strategy", ["dfs", "greedy"])
def test_countdown_journeys_are_true_searches(strategy):
    """Every step is correct arithmetic on numbers still in hand; each wrong turn starts at a move from which the
    target is unreachable, ends at a leaf that misses, and backtracks to where it left; the answer verifies."""
    task = get_task("countdown")
    detours = 0
    for row in COUNTDOWN:
        trace = countdown_trace(row, "journey", 0.7, strategy, random.Random(row["id"]))
        assert task.score(trace.completion, row) == 1.0
        lines = _think_lines(trace.completion)
        hand = [Fraction(n) for n in row["numbers"]]
        saved, misses = None, 0
        for line in lines[1:-1]:
            if line.startswith("That misses"):
                assert saved is not None and f"back to {_STATE.search(line).group(0)}" in line
                assert [_value(v) for v in _STATE.search(line).group(1).split(", ")] == saved
                hand, saved, misses = saved, None, misses + 1
                continue
            a, op, b, result = _TRY.match(line).groups()
            a, b, result = _value(a), _value(b), _value(result)
            assert _apply(a, op, b) == result, line
            before = list(hand)
            hand.remove(a)
            hand.remove(b)
            hand.append(result)
            if saved is None and not _can_reach(hand, row["target"]):  # a wrong turn starts here
                saved = before
            if len(hand) == 1 and saved is not None:
                assert f"{result} is not {row['target']}" in line
        assert saved is None and hand == [row["target"]]
        assert misses == trace.errors == trace.corrections
        detours += trace.errors
    assert detours > len(COUNTDOWN)  # at 0.7 per step, most traces take at least one wrong turn


def test_countdown_shortcut_is_the_journey_without_detours():
    for row in COUNTDOWN[:50]:
        shortcut = countdown_trace(row, "shortcut")
        assert shortcut.errors == 0 and "misses" not in shortcut.completion
        assert countdown_trace(row, "journey", 0.0).completion == shortcut.completion
        journey = countdown_trace(row, "journey", 1.0, "dfs", random.Random(1)).completion
        assert [ln for ln in _think_lines(journey) if ln in _think_lines(shortcut.completion)] == \
            _think_lines(shortcut.completion)  # the clean path is still there, in order


def test_greedy_takes_the_tempting_wrong_turn():
    """The greedy search's first wrong move is a dead end whose result is nearest the target."""
    row = next(r for r in COUNTDOWN if len(r["numbers"]) == 4)
    numbers, target = row["numbers"], row["target"]
    first_try = _think_lines(countdown_trace(row, "journey", 1.0, "greedy").completion)[1]
    result = int(_TRY.match(first_try).group(4))
    dead_end_distances = []
    for (i, a), (j, b) in itertools.combinations(enumerate(numbers), 2):
        rest = [n for k, n in enumerate(numbers) if k not in (i, j)]
        big, small = max(a, b), min(a, b)
        for value in [big + small, big * small, big - small] + ([big // small] if big % small == 0 else []):
            if not _can_reach(rest + [value], target):
                dead_end_distances.append(abs(value - target))
    assert abs(result - target) == min(dead_end_distances)


_CLAIM = re.compile(r"^(?:Column \d+: )?(-?\d+) ([-+×]) (-?\d+)(?: \+ carry (\d))? = (-?\d+)")


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_arithmetic_journey_slips_are_caught_and_corrected(op):
    """Each step states a sum, difference or product; a false one is followed at once by the check that fixes it."""
    task = get_task("arithmetic", op=op, digits=[3, 2])
    slips = 0
    for row in ARITHMETIC[op]:
        trace = journey_trace(row, "journey", 0.5, rng=random.Random(row["id"]))
        assert task.score(trace.completion, row) == 1.0
        lines = _think_lines(trace.completion)
        false_claims = 0
        for i, line in enumerate(lines):
            match = _CLAIM.match(line)
            if not match or line.startswith("So "):
                continue
            x, symbol, y, carry, claimed = match.groups()
            x, y, claimed = int(x), int(y), int(claimed)
            truth = {"+": x + y, "-": x - y, "×": x * y}[symbol] + int(carry or 0)
            if claimed != truth:
                false_claims += 1
                assert f"= {truth}, not {claimed}" in lines[i + 1] and lines[i + 1].startswith("Wait, let me check")
        assert false_claims == trace.errors == trace.corrections
        slips += trace.errors
    assert slips > len(ARITHMETIC[op]) * 0.3


def test_add_slips_drop_the_carry():
    row = {"a": 58, "b": 67, "op": "add", "answer": 125, "task": "arithmetic"}
    text = journey_trace(row, "journey", 1.0).completion
    assert "Column 2: 5 + 6 + carry 1 = 11." in text and "= 12, not 11" in text


def test_examples_record_counts_and_depend_only_on_the_row():
    examples = journey_examples(COUNTDOWN[:40], "journey", 0.5, seed=7)
    again = journey_examples(COUNTDOWN[20:40], "journey", 0.5, seed=7)
    assert examples[20:] == again
    assert {e["style"] for e in examples} == {"journey"} and any(e["errors"] for e in examples)
    assert all(e["errors"] == e["corrections"] for e in examples)
    assert all(e["completion"][0]["role"] == "assistant" for e in examples)


def test_bad_arguments_and_unsupported_tasks_fail_clearly():
    with pytest.raises(ValueError, match="style must be one of"):
        journey_trace(COUNTDOWN[0], style="scenic")
    with pytest.raises(ValueError, match="strategy must be one of"):
        journey_trace(COUNTDOWN[0], strategy="astar")
    with pytest.raises(ValueError, match="error_rate"):
        journey_trace(COUNTDOWN[0], error_rate=1.5)
    with pytest.raises(ValueError, match="stitch a teacher"):
        journey_trace({"task": "math", "problem": "1+1", "answer": "2"})


def test_stitched_attempts_reflect_on_the_real_mistake():
    row = {"task": "countdown", "numbers": [2, 3, 4], "target": 20, "solution": "((2 + 3) * 4)"}
    rejected = "<think>2*3 is 6, plus 4.</think><answer>2 * 3 + 4</answer>"
    accepted = "<think>2+3 is 5, times 4.</think><answer>(2 + 3) * 4</answer>"
    trace = stitch_attempts(row, rejected, accepted)
    assert "Wait, 2 * 3 + 4 equals 10, not 20. Let me try again." in trace.completion
    assert trace.completion.index("2*3 is 6") < trace.completion.index("Wait") < trace.completion.index("2+3 is 5")
    assert get_task("countdown").score(trace.completion, row) == 1.0 and trace.errors == trace.corrections == 1
    assert "exactly once" in get_task("countdown").why_wrong("2 * 2 * 5", row)
    assert "not a valid equation" in get_task("countdown").why_wrong("(2 + 3 * 4", row)
    unanswered = stitch_attempts(row, "<think>I give up.</think>", accepted).completion
    assert "Wait, that attempt never reached an answer. Let me try again." in unanswered


def test_solution_steps_follow_precedence():
    steps = solution_steps("2 + 3 * 4 - 6 / 2")
    assert [(int(a), op, int(b)) for a, op, b in steps] == [(3, "*", 4), (2, "+", 12), (6, "/", 2), (14, "-", 3)]


# -- the journey experiment's switches (issue 22) --------------------------------------------------------------

from minireason.tasks.arithmetic_traces import CATCH_STYLES  # noqa: E402
from minireason.tasks.steps import step_measures, step_outcomes  # noqa: E402

SHAPES = [{"catch_style": catch, "same_endings": same} for catch in CATCH_STYLES for same in (False, True)]


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s['catch_style']}-{s['same_endings']}")
def test_every_slip_is_flagged_and_no_right_step_is(op, shape):
    """Read by the measures' own parser, the data flag exactly its slips: catch recall 1, no false alarm."""
    examples = journey_examples(ARITHMETIC[op], "journey", 0.4, seed=5, **shape)
    outcomes = [outcome for e in examples for outcome in step_outcomes(e["completion"][0]["content"])]
    assert sum(not holds for holds, _ in outcomes) == sum(e["errors"] for e in examples) > 20
    assert all(flagged == (not holds) for holds, flagged in outcomes)
    measures = step_measures([{"completion": e["completion"][0]["content"], "correct": True} for e in examples])
    assert (measures["catch_recall"], measures["false_alarms"], measures["recovery"]) == (1.0, 0.0, 1.0)
    assert measures["check_accuracy"] == 1.0 and measures["counts"]["checks"] >= measures["counts"]["wrong"]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s['catch_style']}-{s['same_endings']}")
def test_every_column_of_a_journey_addition_carries_what_the_column_before_made(shape):
    """Slips change a column's value, never its carry: every claim about a column (the slip, the check's restated
    step, the correction) carries 1 exactly when the columns to its right sum past their place. The trained
    models' carry errors (docs/claims.md, claim 3) are their own, not the data's."""
    columns = 0
    for row, example in zip(ARITHMETIC["add"], journey_examples(ARITHMETIC["add"], "journey", 0.5, seed=5, **shape)):
        a, b = row["a"], row["b"]
        for match in re.finditer(r"Column (\d): ([^=]*)=", example["completion"][0]["content"]):
            place = 10 ** (int(match[1]) - 1)
            columns += 1
            assert ("carry 1" in match[2]) == (a % place + b % place >= place), (row, match[0])
    assert columns > 3 * len(ARITHMETIC["add"])


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s['catch_style']}-{s['same_endings']}")
def test_first_departure_is_the_first_slip_and_clean_traces_have_none(op, shape):
    """The measure of where an answer first goes wrong, on the data: nowhere in a shortcut trace; in a journey
    trace, at its first slip, with the slipped value."""
    from minireason.tasks.arithmetic_traces import first_departure

    rows = ARITHMETIC[op][:80]
    for row, example in zip(rows, journey_examples(rows, "shortcut", **shape)):
        assert first_departure(row, example["completion"][0]["content"]) is None
    slipped = 0
    for row, example in zip(rows, journey_examples(rows, "journey", 0.4, seed=5, **shape)):
        text = example["completion"][0]["content"]
        if example["errors"]:
            slipped += 1
            first_wrong = [holds for holds, _ in step_outcomes(text)].index(False)
            start, end = example["error_spans"][0]
            value = int(re.match(r"-?\d+", text[start:end]).group())
            assert first_departure(row, text) == (first_wrong, "value", value)
        else:
            assert first_departure(row, text) is None
    assert slipped > 10


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
@pytest.mark.parametrize("catch_style", ["every_step", "recompute"])
def test_check_every_step_checks_each_step_from_what_was_written(op, catch_style):
    for example in journey_examples(ARITHMETIC[op], "journey", 0.4, seed=5, catch_style=catch_style):
        lines = _think_lines(example["completion"][0]["content"])[1:-1]
        steps, checks = lines[0::2], lines[1::2]
        assert len(steps) == len(checks) and all(check.startswith("Check: ") for check in checks)
        for step, check in zip(steps, checks):
            written = int(re.search(r"= (-?\d+)", step).group(1))
            if check.endswith("✓"):
                assert f"{written}" in check and ", not " not in check
            else:  # the check starts from the wrong value, finds it out, and writes the step again, right
                assert ", not " in check and re.sub(r"^.*\. So ", "", check) != step
    shortcut = journey_examples(ARITHMETIC[op], "shortcut", seed=5, catch_style=catch_style)
    assert all("✓" in e["completion"][0]["content"] and e["errors"] == 0 for e in shortcut)


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_a_recomputed_check_works_the_step_again_and_ends_in_its_own_result(op):
    """The recompute design's check is one equality that holds and ends in the step's right value, whatever was
    written: a slip's check does not start from the slip, so copying the line above cannot pass it (the copy
    finding of docs/claims.md, claim 3)."""
    from minireason.tasks.steps import check_claims

    checked = copied = 0
    for example in journey_examples(ARITHMETIC[op], "journey", 0.5, seed=5, catch_style="recompute"):
        lines = _think_lines(example["completion"][0]["content"])[1:-1]
        for step, check in zip(lines[0::2], lines[1::2]):
            work = re.sub(r"(, not -?\d+)?(\. So .*| ✓)$", "", check.removeprefix("Check: "))
            assert check_claims(work) == (1, 1), check
            right = re.sub(r"^.*\. So ", "", check) if ", not " in check else step
            assert work.split(" = ")[-1] == re.search(r"= (-?\d+)", right).group(1)
            step_work = re.sub(r"^Column \d+: |carry ", "", step.split(" = ")[0])
            copied += work.split(" = ")[0] == step_work
            checked += 1
    assert checked >= 2 * len(ARITHMETIC[op])
    assert copied <= 0.1 * checked  # another route, not the step written again (5 + 5 reads the same both ways)


def test_a_no_carry_column_is_checked_another_way_than_it_was_added():
    trace = journey_examples([r for r in ARITHMETIC["add"] if r["a"] == 0][:1] or ARITHMETIC["add"][:1], "shortcut",
                             catch_style="every_step")[0]["completion"][0]["content"]
    for step, check in zip(_think_lines(trace)[1:-1:2], _think_lines(trace)[2:-1:2]):
        assert re.search(r"(\d+) \+ (\d+)", step).group(0) not in check  # undone by subtraction, not added again


def test_same_endings_hide_the_slip_until_the_next_line():
    ending = re.compile(r"= \d+, write \d+(, carry 1)?\.$")
    plain = journey_examples(ARITHMETIC["add"], "journey", 0.5, seed=2)
    same = journey_examples(ARITHMETIC["add"], "journey", 0.5, seed=2, same_endings=True)
    columns = lambda examples: [line for e in examples for line in _think_lines(e["completion"][0]["content"])  # noqa: E731
                                if line.startswith("Column")]
    assert all(ending.search(line) for line in columns(same))
    assert sum(not ending.search(line) for line in columns(plain)) == sum(e["errors"] for e in plain) > 20
    # The same slips at the same places: only the endings differ.
    assert [e["errors"] for e in plain] == [e["errors"] for e in same]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s['catch_style']}-{s['same_endings']}")
def test_error_spans_hold_the_wrong_values_and_nothing_else(shape):
    for op in ("add", "sub", "mul"):
        for example in journey_examples(ARITHMETIC[op], "journey", 0.4, seed=1, **shape):
            text = example["completion"][0]["content"]
            assert len(example["error_spans"]) == example["errors"]
            for start, end in example["error_spans"]:
                line = text[:end].rsplit("\n", 1)[-1]  # the slipped line up to the span's end
                assert text[end] == "\n" and text[start - 3 : start] == " = "
                claim, wrong = line.rsplit(" = ", 1)
                assert step_outcomes(f"{claim} = {wrong.split(',')[0].rstrip('.')}") == [(False, False)]
    assert journey_examples(ARITHMETIC["add"], "shortcut")[0]["error_spans"] == []


def test_shapes_are_refused_where_they_mean_nothing():
    with pytest.raises(ValueError, match="catch_style"):
        journey_trace(ARITHMETIC["add"][0], catch_style="sometimes")
    with pytest.raises(ValueError, match="Countdown"):
        journey_trace(COUNTDOWN[0], catch_style="every_step")


def test_measures_count_false_alarms_and_recoveries_on_model_like_answers():
    right_flagged = "<think>Column 1: 2 + 3 = 5, write 5.\nCheck: 5 - 3 = 2, not 3. So Column 1: 2 + 3 = 6.</think>"
    wrong_missed = "<think>Column 1: 2 + 3 = 6, write 6.\nColumn 2: 1 + 1 = 2, write 2.\nSo 12 + 13 = 26.</think>"
    measures = step_measures([{"completion": right_flagged, "correct": False},
                              {"completion": wrong_missed, "correct": True}])
    assert measures["counts"] == {"steps": 3, "right": 2, "wrong": 1, "caught": 0, "false_alarms": 1,
                                  "answers_with_a_wrong_step": 1, "recovered": 1, "answers": 2, "answers_checking": 1,
                                  "checks": 1, "true_checks": 1}
    assert measures["checking"] == 0.5
    assert (measures["step_accuracy"], measures["catch_recall"], measures["false_alarms"]) == (2 / 3, 0.0, 0.5)
    assert step_measures([{"completion": "no arithmetic here", "correct": False}])["step_accuracy"] is None


def test_a_search_trace_is_a_real_depth_first_search():
    """Replayed line by line: each move uses numbers in hand, a leaf's verdict is its value against the target,
    each "Back to" returns to the state before the last open move, and the search ends on the target."""
    searched = 0
    for row in COUNTDOWN[:120]:
        trace = countdown_trace(row, "journey", strategy="search")
        lines = _think_lines(trace.completion)
        searched += trace.errors > 0  # the others: found on the first path, or past the budget (the direct path)
        stack = [sorted(Fraction(n) for n in row["numbers"])]
        for line in lines[1:-1]:
            if line.startswith("Back to"):
                stack.pop()
                assert sorted(_value(v) for v in _STATE.search(line).group(1).split(", ")) == stack[-1]
                continue
            a, op, b, result = _TRY.match(line).groups()
            a, b, result = _value(a), _value(b), _value(result)
            state = list(stack[-1])
            state.remove(a), state.remove(b)  # raises if a number is not in hand
            assert _apply(a, op, b) == result
            if len(state) == 0:
                assert line.endswith("That is the target.") == (result == row["target"])
            else:
                stack.append(sorted(state + [result]))
        assert lines[-2].endswith("That is the target.")
        assert trace.errors == sum(line.startswith("Back to") for line in lines)
        assert get_task("countdown").is_correct(trace.completion, row)
    assert searched > 40


@pytest.mark.parametrize("prompt_style", ["chat", "base"])
def test_masked_errors_leave_exactly_the_wrong_values_out_of_the_loss(prompt_style):
    from minireason.models import load_tokenizer
    from minireason.recipes.sft import tokenized_trace
    from minireason.tasks import row_prompt

    tokenizer = load_tokenizer("smollm2-135m")
    rows = ARITHMETIC["add"][:30]
    for example, row in zip(journey_examples(rows, "journey", 0.5, seed=4, catch_style="every_step",
                                             same_endings=True), rows):
        text = example["completion"][0]["content"]
        prompt = row_prompt(row, prompt_style)
        plain = tokenized_trace(tokenizer, prompt, text, prompt_style)
        masked = tokenized_trace(tokenizer, prompt, text, prompt_style, example["error_spans"])
        assert plain["input_ids"] == masked["input_ids"]
        left_out = [i for i, (a, b) in enumerate(zip(plain["completion_mask"], masked["completion_mask"])) if a != b]
        wrong = "".join(text[start:end] for start, end in example["error_spans"])
        # The tokens left out spell the wrong values and the rest of their lines, give or take a space.
        assert tokenizer.decode([masked["input_ids"][i] for i in left_out]).replace(" ", "") == wrong.replace(" ", "")
        trained = tokenizer.decode([t for t, keep in zip(plain["input_ids"], plain["completion_mask"]) if keep])
        assert trained.startswith(text.removeprefix("<think>") if prompt_style == "base" else text)


def test_the_recipe_refuses_shapes_it_cannot_apply():
    from minireason.recipes.sft import SFTRecipe

    with pytest.raises(ValueError, match="catch_style"):
        SFTRecipe(task="arithmetic", catch_style="often", output_dir="never", report_to="none")
    with pytest.raises(ValueError, match="Countdown"):
        SFTRecipe(task="countdown", mask_errors=True, output_dir="never", report_to="none")


def test_own_errors_are_the_models_first_wrong_step_caught_and_corrected():
    from minireason.tasks.arithmetic_traces import own_slips

    rows = [dict(row, task="arithmetic") for row in ARITHMETIC["add"][:40]]
    clean = journey_examples(rows, "shortcut", catch_style="every_step")
    answers = {}
    for i, (row, example) in enumerate(zip(rows, clean)):
        text = example["completion"][0]["content"]
        if i % 2:  # every other answer slips by one at its second column, as a model's own answer might
            line = next(line for line in text.splitlines() if line.startswith("Column 2: "))
            value = int(re.search(r"= (\d+)", line).group(1))
            text = text.replace(line, line.replace(f"= {value}", f"= {value + 1}", 1))
        answers[row["id"]] = text
    own = journey_examples(rows, "journey", 0.9, seed=3, own_answers=answers, catch_style="every_step")
    for i, (row, example) in enumerate(zip(rows, own)):
        assert example["errors"] == i % 2  # the model's slips only: error_rate plays no part
        assert own_slips(row, answers[row["id"]]) == ({1: int(re.search(
            r"Column 2: [^=]*= (\d+)", answers[row["id"]]).group(1))} if i % 2 else {})
        if i % 2:  # the slip is the model's value, and the check after it corrects it
            text = example["completion"][0]["content"]
            start, end = example["error_spans"][0]
            assert own_slips(row, text[:end]) == own_slips(row, answers[row["id"]])
            assert step_outcomes(text)[1] == (False, True)
    assert all(e["errors"] == 0 for e in journey_examples(rows, "journey", 0.9, own_answers={}))  # no answer, no slip
