"""The command line: help that teaches, data generation, scoring, errors, the demo's report."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from minireason.cli import main


def run(*args, stdin=None, env=None):
    return subprocess.run([sys.executable, "-m", "minireason", *args], capture_output=True, text=True,
                          input=stdin, timeout=300, env=env)


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
    (["data", "distill", "--task", "countdown", "--out", "never"], "--task needs --n"),
    (["data", "distill", "--task", "countdown", "--n", "2", "--teacher", "gpt", "--out", "never"],
     "teacher must be solver, hf:MODEL or openai:MODEL"),
    (["data", "distill", "--config", "no-such.yaml", "--out", "never"], "no recipe 'no-such.yaml'"),
    (["data", "distill", "--n", "2", "--out", "never"], "give --task and --n, or --config"),
    (["data", "journey", "--task", "countdown", "--n", "2", "--error-rate", "2", "--out", "never"], "error_rate"),
    (["data", "generate", "--task", "countdown", "--n", "-3"], "n must be a non-negative integer, got -3"),
])
def test_bad_input_gives_clear_errors(args, message):
    result = run(*args)
    assert result.returncode != 0 and message in result.stderr
    assert "Traceback" not in result.stderr


# Run in this process, where the recipes are imported already (conftest): a subprocess pays ~2 s to import them.
BAD_RECIPE_INPUT = [
    (["eval", "--task", "countdown", "--n_problems", "0"], "n_problems and batch_size must be at least 1"),
    (["eval", "--task", "countdown", "--samples", "0"], "samples and max_new_tokens must be positive"),
    (["eval", "--task", "countdown", "--scorer", "nonsense"], "unknown reward 'nonsense'"),
    (["train", "solver/distill-17k/cpu"], "run it with `minireason data distill --config solver/distill-17k/cpu`"),
    (["train", "smollm2-135m/sft-distill-17k/cpu"],  # run where the data set was never built
     "no data set at data/distill-17k/data: build it first: minireason data distill --config solver/distill-17k/cpu"),
    (["estimate", "qwen2.5-3b/grpo-countdown/t4-16gb", "--num_generations", "0"],
     "num_generations must be at least 2, got 0"),
    (["train", "smollm2-135m/grpo-countdown/cpu", "--n_train", "-5"], "n_train must be at least 1, got -5"),
    (["train", "smollm2-135m/grpo-countdown/cpu", "--per_device_train_batch_size", "0"],
     "per_device_train_batch_size must be at least 1, got 0"),
    (["train", "smollm2-135m/grpo-countdown/cpu", "--reward_funcs", "accuracy", "nonsense"], "unknown reward 'nonsense'"),
    (["train", "smollm2-135m/grpo-countdown/cpu", "--task_params", "{colour: red}"],
     "unknown parameter(s) ['colour'] for task 'countdown'"),
    (["train", "smollm2-135m/grpo-countdown/cpu", "--task", "chess"], "unknown task 'chess'"),
    (["train", "smollm2-135m/grpo-countdown/cpu", "--no_such_option", "1"], "unknown option(s) ['--no_such_option']"),
]


def test_bad_recipe_input_ends_in_one_line_that_names_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for args, message in BAD_RECIPE_INPUT:
        with pytest.raises(SystemExit) as exit_:
            main(args)
        said = f"{exit_.value.code}\n{capsys.readouterr().err}"
        assert message in said, (args, said)
        assert list(tmp_path.iterdir()) == []  # refused before anything was written


@pytest.mark.slow
def test_demo_runs_every_stage_on_the_same_problems_and_writes_a_report(tmp_path, tiny_model_path):
    """The demo as a workshop sees it (W&B logging offline, every stage 10 steps), and what it writes."""
    import os

    result = run("demo", "--out", str(tmp_path), "--model", "tiny", "--max_steps", "10", "--n_train", "40",
                 "--n_eval", "3", "--eval_max_new_tokens", "4", "--max_completion_length", "6",
                 env={**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "FutureWarning" not in result.stderr  # what a newcomer sees first: no deprecated names
    # A console a workshop can read: one progress line a stage, a few completions, no metrics dicts, no completion
    # tables, no W&B banner, and the results table last (it printed over 2,600 lines).
    printed = (result.stdout + result.stderr).splitlines()
    assert len(printed) < 150, len(printed)
    assert not [line for line in printed if line.startswith(("{'loss'", "{'train_runtime'", "wandb:", "│"))]
    assert sum("pure-rl  step 10/10" in line for line in printed) == 1
    assert result.stdout.rstrip().splitlines()[-1].startswith("reward curves:")
    report = json.loads((tmp_path / "report.json").read_text())
    assert list(report["stages"]) == ["base (pure RL prompt)", "pure RL", "base (SFT prompt)", "SFT", "SFT + GRPO"]
    # Each arm is compared with the base model on its own prompt: pure RL's shows a solved example.
    assert report["prompt_styles"] == {"base (pure RL prompt)": "base_example", "pure RL": "base_example",
                                       "base (SFT prompt)": "base", "SFT": "base", "SFT + GRPO": "base"}
    ids = None
    for name, folder in (("base (pure RL prompt)", "base"), ("pure RL", "pure-rl"),
                         ("base (SFT prompt)", "base-r1-prompt"), ("SFT", "sft-then-grpo/sft"),
                         ("SFT + GRPO", "sft-then-grpo/grpo")):
        stage = report["stages"][name]
        evaluation = tmp_path / folder / ("eval" if "/" in folder or folder == "pure-rl" else "")
        assert Path(report["evals"][name]) == evaluation  # every evaluation in the one format: eval.json + samples
        problems = [json.loads(line) for line in (evaluation / "samples.jsonl").read_text().splitlines()]
        assert json.loads((evaluation / "eval.json").read_text())["metrics"] == stage
        assert stage["problems"] == len(problems) == 3 and all(len(p["samples"]) == 1 for p in problems)
        assert stage["pass@1"] == sum(p["samples"][0]["correct"] for p in problems) / 3
        low, high = stage["ci95"]["pass@1"]
        assert low <= stage["pass@1"] <= high and high - low > 0.3  # 3 problems: a wide Wilson interval
        assert 1 <= stage["mean_tokens"] <= 4
        ids = ids or [p["id"] for p in problems]
        assert [p["id"] for p in problems] == ids  # every stage answered the same held-out problems
    assert [step for step, _ in report["reward_curves"]["pure RL"]] == list(range(1, 11))
    assert [step for step, _ in report["reward_curves"]["SFT then GRPO"]] == list(range(1, 11))
    for name, gain in report["paired_gains"].items():
        after, before = name.split(" - ")
        assert gain["mean"] == pytest.approx(report["stages"][after]["pass@1"] - report["stages"][before]["pass@1"])
        assert gain["ci95"][0] <= gain["mean"] <= gain["ci95"][1]
    assert list(report["paired_gains"]) == ["pure RL - base (pure RL prompt)", "SFT + GRPO - SFT"]
    assert (tmp_path / "reward_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "SFT + GRPO" in result.stdout and "95% CI" in result.stdout


def test_a_run_whose_numbers_went_wrong_ends_in_one_line_that_names_the_fix(tmp_path, monkeypatch):
    """A T4 run stopped by the training guard (or NaN logits in a rollout) says what to do, not a traceback."""
    import minireason.recipes
    from minireason.training_guard import NonFiniteTraining

    def overflow(stages):
        raise NonFiniteTraining("step 3: the loss is nan, not a number. In fp16 this is an overflow: train in bf16 "
                                "on a card that has it (--precision bf16), or in fp32 (--precision fp32)")

    monkeypatch.setattr(minireason.recipes, "run", overflow)
    with pytest.raises(SystemExit, match=r"^error: step 3: the loss is nan.*--precision fp32\)$"):
        main(["train", "smollm2-135m/grpo-arithmetic/cpu", "--output_dir", str(tmp_path)])


@pytest.mark.slow
def test_verbose_restores_each_librarys_own_output(tmp_path, tiny_model_path):
    flags = ["train", "smollm2-135m/grpo-arithmetic/cpu", "--model", "tiny", "--max_steps", "3", "--n_train", "12",
             "--n_eval", "2", "--max_completion_length", "6", "--report_to", "none"]
    quiet = run(*flags, "--output_dir", str(tmp_path / "quiet"))
    verbose = run(*flags, "--output_dir", str(tmp_path / "verbose"), "--verbose", "true")
    assert quiet.returncode == verbose.returncode == 0, (quiet.stderr[-2000:], verbose.stderr[-2000:])
    assert "quiet  step 3/3  reward" in quiet.stdout and "{'loss'" not in quiet.stdout + quiet.stderr
    assert "'loss'" in verbose.stdout + verbose.stderr and "verbose  step 3/3" not in verbose.stdout
    assert "│" in verbose.stdout and "│" not in quiet.stdout  # TRL's own table of completions


@pytest.mark.slow
def test_demo_zero_adds_r1_zero_on_the_sft_arms_prompt_with_its_take_off_curve(tmp_path, tiny_model_path):
    """`demo --zero`: R1-Zero from the instruction alone, scored against the base model on its own prompt."""
    result = run("demo", "--zero", "--out", str(tmp_path), "--model", "tiny", "--max_steps", "4", "--n_train", "16",
                 "--n_eval", "3", "--eval_max_new_tokens", "4", "--max_completion_length", "6", "--curve_every", "2",
                 "--curve_problems", "3", "--report_to", "none")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert list(report["stages"])[-1] == "R1-Zero (instruction)" and len(report["stages"]) == 6
    assert report["prompt_styles"]["R1-Zero (instruction)"] == report["prompt_styles"]["base (SFT prompt)"] == "base"
    assert "R1-Zero (instruction) - base (SFT prompt)" in report["paired_gains"]
    zero = report["r1_zero"]
    assert [point[0] for point in zero["curve"]] == [0, 2, 4] and set(zero) == {"curve", "format_takeoff",
                                                                            "accuracy_takeoff"}
    assert (tmp_path / "r1_zero_curve.png").stat().st_size > 0 and "[6/6]" in result.stdout
    assert "R1-Zero's held-out curve: the format took off at" in result.stdout
