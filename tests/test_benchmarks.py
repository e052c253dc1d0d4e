"""The benchmark scripts behind docs/grpo-on-cpu.md: their arithmetic on known inputs, and a run on the tiny model."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_demo_run(folder: Path, correct: dict[str, list[int]], curves: dict[str, list[float]]) -> Path:
    """A demo output folder as run_demo writes it: per-stage samples and a report naming them."""
    folder.mkdir(parents=True)
    files, stages = {}, {}
    for stage, marks in correct.items():
        files[stage] = str(folder / f"{stage}.jsonl")
        Path(files[stage]).write_text("".join(json.dumps({"id": i, "correct": bool(c)}) + "\n" for i, c in enumerate(marks)))
        accuracy = sum(marks) / len(marks)
        stages[stage] = {"accuracy": accuracy, "format_rate": 1.0, "ci95": [0.0, 1.0]}
    report = {"stages": stages, "sample_files": files, "held_out_problems": 4,
              "reward_curves": {arm: [[i + 1, r] for i, r in enumerate(c)] for arm, c in curves.items()}}
    (folder / "report.json").write_text(json.dumps(report))
    return folder


def test_demo_seeds_summarises_stages_pairs_and_reward_curves(tmp_path):
    demo_seeds = load("demo_seeds")
    curves = {"pure RL": [0.0] * 5 + [0.5] * 5, "SFT then GRPO": [0.4] * 10}
    runs = {
        0: fake_demo_run(tmp_path / "s0", {"base": [0, 0, 0, 0], "pure RL": [1, 1, 0, 0], "SFT": [1, 0, 0, 0],
                                           "SFT + GRPO": [1, 1, 1, 0]}, curves),
        1: fake_demo_run(tmp_path / "s1", {"base": [0, 0, 0, 0], "pure RL": [0, 0, 0, 0], "SFT": [1, 1, 0, 0],
                                           "SFT + GRPO": [1, 1, 1, 1]}, curves),
    }
    summary = demo_seeds.summarise(runs)
    assert summary["stages"]["pure RL"]["accuracy"] == [0.5, 0.0]
    assert summary["paired"]["pure RL - base"]["mean"] == pytest.approx(0.25)
    assert summary["paired"]["SFT + GRPO - SFT"]["per_run"] == pytest.approx([0.5, 0.5])
    assert summary["rewards"]["pure RL"] == [{"first5": 0.0, "last5": 0.5}] * 2
    table = demo_seeds.markdown(summary, [0, 1], "python benchmarks/demo_seeds.py", 1.0, "img.png")
    assert "| SFT + GRPO - SFT | +50.0% |" in table and "0.00 → 0.50, 0.00 → 0.50" in table


def test_grpo_step_times_every_row_on_the_tiny_model(tiny_model_path, capsys):
    rows = load("grpo_step").main(["--model", "tiny", "--steps", "2"])
    assert list(rows) == ["minireason recipe", "TRL GRPOTrainer defaults", "recipe, TRL's rollouts",
                          "recipe, no shared prompt prefix", "recipe, one prompt a step"]
    recipe = rows["minireason recipe"]
    assert recipe["completions_per_step"] == 32 and rows["TRL GRPOTrainer defaults"]["completions_per_step"] == 8
    assert all(row["s_per_step"] > 0 and row["throughput_tok_s"] > 0 for row in rows.values())
    assert "| minireason recipe | 32 |" in capsys.readouterr().out


def test_gpu_recipes_runs_each_recipe_at_tiny_size_beside_its_estimate(tiny_model_path, capsys):
    """The GPU benchmark's every path on this CPU: a GRPO recipe, an SFT recipe whose data set is not built
    (a small one is made), and a two-stage recipe (its first stage measured)."""
    names = ["qwen2.5-3b/grpo-countdown/t4-16gb", "qwen2.5-3b/sft-distill-17k/a100-40gb",
             "qwen2.5-3b/sft-then-grpo/t4-16gb"]
    rows = load("gpu_recipes").main(["--size", "tiny", "--steps", "1", "--recipes", *names])
    assert [(row["recipe"], row["stage"]) for row in rows] == [(names[0], "grpo"), (names[1], "sft"), (names[2], "sft")]
    for row in rows:
        assert row["allocated_gib"] > 0 and row["s_per_step"] > 0 and row["train_tok_s"] > 0
        assert (row["generation_tok_s"] or 0) > 0 if row["stage"] == "grpo" else row["generation_tok_s"] is None
        assert row["error"] == pytest.approx(row["estimate_gib"] / row["allocated_gib"] - 1)
    # The SFT estimates measure the data set they train on: within 15% of the live bytes.
    assert all(abs(row["error"]) <= 0.15 for row in rows if row["stage"] == "sft")
    assert f"| {names[0]} | grpo |" in capsys.readouterr().out
