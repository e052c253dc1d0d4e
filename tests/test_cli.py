"""The command line: help that teaches, data generation, scoring, errors, the demo's report."""

import json
import subprocess
import sys

import pytest

from minireason.cli import main


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "minireason", *args], capture_output=True, text=True,
                          input=stdin, timeout=300)


def test_help_teaches():
    result = run("--help")
    assert result.returncode == 0
    for word in ("demo", "tasks", "data", "score", "model", "examples:", "get_task", "load_model"):
        assert word in result.stdout


def test_tasks_lists_parameters(capsys):
    main(["tasks"])
    out = capsys.readouterr().out
    assert "countdown:" in out and "num_numbers = (3, 4)" in out and "op = 'mul'" in out


def test_data_generate_is_deterministic_and_verified(tmp_path):
    paths = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for path in paths:
        main(["data", "generate", "--task", "countdown", "--param", "num_numbers=3", "--n", "25",
              "--seed", "7", "--out", str(path)])
    assert paths[0].read_text() == paths[1].read_text()
    rows = [json.loads(line) for line in paths[0].read_text().splitlines()]
    assert len(rows) == 25 and all(len(r["numbers"]) == 3 for r in rows)
    from minireason.tasks import get_task

    assert all(get_task("countdown").score(f"<answer>{r['solution']}</answer>", r) == 1.0 for r in rows)


def test_score_command(capsys):
    row = '{"numbers": [2, 3, 4], "target": 20}'
    main(["score", "--task", "countdown", "--row", row, "--completion", "<answer>(2 + 3) * 4</answer>"])
    main(["score", "--task", "countdown", "--row", row, "--completion", "<answer>2 ** 3 ** 4</answer>"])
    assert capsys.readouterr().out.split() == ["1.0", "0.1"]
    assert run("score", "--task", "arithmetic", "--row", '{"answer": 42}', "--completion", "-",
               stdin="<answer>42</answer>").stdout.strip() == "1.0"


@pytest.mark.parametrize("args,message", [
    (["data", "generate", "--task", "chess", "--n", "1"], "unknown task 'chess'"),
    (["data", "generate", "--task", "countdown", "--param", "num_numbers", "--n", "1"], "key=value"),
    (["data", "generate", "--task", "countdown", "--param", "colour=red", "--n", "1"], "unknown parameter"),
    (["score", "--task", "countdown", "--row", "{not json", "--completion", "x"], "not JSON"),
])
def test_bad_input_gives_clear_errors(args, message):
    result = run(*args)
    assert result.returncode != 0 and message in result.stderr


def test_demo_writes_a_report(tmp_path, tiny_model_path):
    result = run("demo", "--model", "tiny", "--n-problems", "4", "--max-new-tokens", "8", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    base = report["stages"]["base"]
    assert base["n"] == 4 and base["accuracy"] == 0.0  # a random model cannot add
    assert 1 <= base["mean_tokens"] <= 8
    assert len(report["samples"]["base"]) == 4 and "accuracy" in result.stdout
