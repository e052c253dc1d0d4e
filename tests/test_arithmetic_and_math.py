"""Arithmetic generator/verifier, and the math task's loaders and math-verify checks on local files."""

import json
import re

import pytest

from minireason.tasks import get_task
from minireason.tasks.math_answers import answers_match, load_problems


@pytest.mark.parametrize("op,symbol,check", [
    ("add", "+", lambda r: r["a"] + r["b"]), ("sub", "-", lambda r: r["a"] - r["b"]),
    ("mul", "×", lambda r: r["a"] * r["b"]),
])
def test_arithmetic_rows_carry_the_right_answer(op, symbol, check):
    rows = get_task("arithmetic", op=op, digits=[3, 2]).generate(50, seed=0)
    for row in rows:
        assert 100 <= row["a"] <= 999 and 10 <= row["b"] <= 99
        assert row["answer"] == check(row)
        assert f"{row['a']} {symbol} {row['b']}" in row["prompt"][0]["content"]


@pytest.mark.parametrize("answer,expected", [
    ("5535", 1.0), (" 5,535 ", 1.0), ("5 535", 1.0), ("+5535", 1.0), ("5535.0", 0.1), ("5536", 0.1),
    ("five thousand", 0.1), ("٥٥٣٥", 0.1), ("-5535", 0.1), ("", 0.0),
])
def test_arithmetic_scoring(answer, expected):
    row = {"a": 45, "b": 123, "op": "mul", "answer": 5535}
    assert get_task("arithmetic").score(f"<think>45*123</think><answer>{answer}</answer>", row) == expected
    assert get_task("arithmetic").score(answer, row) == 0.0


def test_arithmetic_bad_params():
    with pytest.raises(ValueError, match="op must be one of"):
        get_task("arithmetic", op="div")
    with pytest.raises(ValueError, match="digits"):
        get_task("arithmetic", digits=0)


@pytest.mark.parametrize("gold,predicted,match", [
    ("72", "72", True), ("72", "72.0", True), ("\\frac{1}{2}", "0.5", True), ("\\frac{1}{2}", "1/2", True),
    ("4\\pi", "4\\pi", True), ("\\frac{1}{2}", "1/3", False), ("72", "27", False), ("72", "", False),
])
def test_answers_match(gold, predicted, match):
    assert answers_match(gold, predicted) is match


@pytest.fixture
def gsm8k_file(tmp_path):
    path = tmp_path / "gsm8k.jsonl"
    rows = [{"question": f"Tom has {i} apples and buys 2 more. How many?", "answer": f"{i} + 2 = {i + 2}\n#### {i + 2}"}
            for i in range(10)]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def test_math_task_reads_gsm8k_style_jsonl(gsm8k_file):
    task = get_task("math", path=str(gsm8k_file))
    rows = task.generate(4, seed=0)
    assert rows == task.generate(4, seed=0) and len({r["id"] for r in rows}) == 4
    for row in rows:
        count = int(row["problem"].split()[2])
        assert row["answer"] == str(count + 2)
        assert task.score(f"<think>…</think><answer>{count + 2}</answer>", row) == 1.0
        assert task.score(f"<answer>{count + 3}</answer>", row) == 0.1


def test_math_loaders_read_parquet_csv_and_saved_datasets(tmp_path):
    import datasets

    data = datasets.Dataset.from_list([
        {"problem": "Half of one?", "solution": "It is $\\boxed{\\frac{1}{2}}$."},
        {"problem": "Two squared?", "solution": "We get $\\boxed{4}$."},
    ])
    data.to_parquet(str(tmp_path / "m.parquet"))
    data.to_csv(str(tmp_path / "m.csv"))
    data.save_to_disk(str(tmp_path / "saved"))
    for source in ("m.parquet", "m.csv", "saved"):
        problems = load_problems(str(tmp_path / source))
        assert [p["answer"] for p in problems] == ["\\frac{1}{2}", "4"], source


def test_math_loader_errors_name_the_columns(tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"q": "1+1", "a": "2"}))
    with pytest.raises(ValueError, match="no question column"):
        load_problems(str(path))
    assert load_problems(str(path), question_field="q", answer_field="a") == [{"problem": "1+1", "answer": "2"}]
    with pytest.raises(FileNotFoundError):
        load_problems(str(tmp_path / "missing.jsonl"))
    with pytest.raises(ValueError, match="needs path"):
        get_task("math")
    with pytest.raises(ValueError, match="holds 1"):
        get_task("math", path=str(path), question_field="q", answer_field="a").generate(5)


@pytest.mark.parametrize("task_name,params", [
    ("arithmetic", {"op": "add", "digits": 2}), ("arithmetic", {"op": "add", "digits": [4, 1]}),
    ("arithmetic", {"op": "sub", "digits": [2, 3]}), ("arithmetic", {"op": "mul", "digits": [3, 2]}),
    ("countdown", {}),
])
def test_reference_completions_are_well_formed_and_correct(task_name, params):
    """Cold-start SFT data: every trace must pass the format reward and the task's own verifier."""
    from minireason.rewards import is_well_formed

    task = get_task(task_name, **params)
    for row in task.generate(200, seed=5):
        trace = task.reference_completion(row)
        assert is_well_formed(trace), trace
        assert task.score(trace, row) == 1.0, trace
        # Every step the trace states must be true, not only the final answer ("2 + 1 + 1 = 4": left to right).
        for chain, result in re.findall(r"(-?\d+(?: [-+×] -?\d+)+) = (-?\d+)", trace):
            tokens = chain.split(" ")
            value = int(tokens[0])
            for op, number in zip(tokens[1::2], tokens[2::2]):
                value = {"+": value + int(number), "-": value - int(number), "×": value * int(number)}[op]
            assert value == int(result), (trace, chain, result)
        if params.get("op") == "add":  # the columns' last digits, ones first, and the last carry spell the sum
            columns = [int(r) for r in re.findall(r"\d \+ \d(?: \+ 1)? = (\d+)", trace.split(":", 1)[1].split(". So")[0])]
            digits = "".join(str(c % 10) for c in reversed(columns))
            assert int(str(columns[-1] // 10 or "") + digits) == row["answer"], trace


def test_math_rows_have_no_reference_trace(gsm8k_file):
    task = get_task("math", path=str(gsm8k_file))
    with pytest.raises(NotImplementedError, match="no reference solutions"):
        task.reference_completion(task.generate(1)[0])
