"""W&B logging offline (read back from the run file) and resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minireason.recipes import load_recipe, run
from tests.wandb_log import read_run

pytestmark = pytest.mark.slow  # trains, starts W&B, kills and resumes a run

TINY_GRPO = {"method": "grpo", "model": "tiny", "task": "countdown", "n_train": 32, "n_eval": 2,
             "eval_max_new_tokens": 4, "max_completion_length": 8, "num_generations": 4,
             "per_device_train_batch_size": 4, "logging_steps": 1}


def test_wandb_logs_offline_without_a_key(tmp_path, offline_wandb, tiny_model_path):
    (stage,) = load_recipe({**TINY_GRPO, "max_steps": 2, "output_dir": str(tmp_path / "out"),
                            "report_to": ["wandb"], "gpu_hour_cost": 3.0})
    assert "WANDB_MODE" not in os.environ  # loading a recipe sets nothing up; training does
    run([stage])
    assert os.environ["WANDB_MODE"] == "offline"

    (run_dir,) = offline_wandb.glob("offline-run-*")
    logged = read_run(run_dir)
    steps = [row for row in logged["history"] if "train/rewards/accuracy_reward/mean" in row]
    assert len(steps) == 2
    for key in ("train/rewards/format_reward/mean", "train/rewards/reflection_reward/mean",
                "train/completions/mean_length", "train/loss", "train/cost/device_hours", "train/cost/usd"):
        assert key in steps[-1], key
    # Both figures are rounded when logged (hours to 1e-6, dollars to 1e-4), so compare within that.
    assert steps[-1]["train/cost/usd"] > 0
    assert steps[-1]["train/cost/usd"] == pytest.approx(steps[-1]["train/cost/device_hours"] * 3.0, abs=6e-5)
    assert logged["config"]["task"] == "countdown" and logged["config"]["reward_funcs"] == ["accuracy", "format"]
    assert logged["summary"]["final/steps"] == 2 and "final/eval/pass@1" in logged["summary"]
    assert any("completions" in key for key in logged["summary"])  # the table of sample completions


def test_a_stage_evaluation_with_step_measures_reaches_wandb(tmp_path, offline_wandb):
    """A stage whose answers write their arithmetic logs its evaluation's ``steps``, a nested group, and each
    interval as two numbers (the CPU demo's pure-RL stage once ended in a TypeError here while logging)."""
    import types

    import wandb

    from minireason.recipes.runs import log_summary
    from minireason.tasks.steps import step_measures

    steps = step_measures([{"completion": "<think>41 + 58 = 99.</think>\n<answer>99</answer>", "correct": True}])
    wandb.init(project="minireason", mode="offline")
    summary = {"steps": 2, "reward_curve": [[1, 0.5], [2, 1.0]], "eval": str(tmp_path / "stage" / "eval")}
    log_summary(types.SimpleNamespace(output_dir=str(tmp_path / "stage")), summary,
                {"metrics": {"pass@1": 1.0, "ci95": {"pass@1": [0.2, 1.0]}, "steps": steps}})
    (run_dir,) = offline_wandb.glob("offline-run-*")
    logged = read_run(run_dir)["summary"]
    assert logged["final/eval/steps/step_accuracy"] == 1.0 and logged["final/eval/steps/counts/steps"] == 1
    assert logged["final/eval/pass@1_ci95_low"] == 0.2 and logged["final/steps"] == 2
    assert "final/reward_curve" not in logged
    assert json.loads((tmp_path / "stage" / "summary.json").read_text()) == summary  # training facts only


def _train_command(recipe: Path, output_dir: Path) -> list[str]:
    return [sys.executable, "-m", "minireason", "train", str(recipe), "--output_dir", str(output_dir)]


def test_sigkill_then_same_command_resumes(tmp_path, tiny_model_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({**TINY_GRPO, "max_steps": 6, "save_steps": 1, "save_total_limit": 10,
                                  "report_to": "none"}))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    # An uninterrupted run, to compare against.
    straight = tmp_path / "straight"
    subprocess.run(_train_command(recipe, straight), check=True, env=env, capture_output=True, timeout=600)

    # Kill -9 right after the second checkpoint lands.
    killed = tmp_path / "killed"
    process = subprocess.Popen(_train_command(recipe, killed), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed / "checkpoint-2" / "trainer_state.json").exists() and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (killed / "final").exists()
    # A checkpoint cut off mid-save, as a kill during writing leaves it.
    half = killed / "checkpoint-99"
    half.mkdir()
    (half / "adapter_model.safetensors").write_bytes(b"\0" * 100)

    result = subprocess.run(_train_command(recipe, killed), env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resuming from" in result.stdout and "removing incomplete checkpoint" in result.stdout
    assert not half.exists()

    def history(folder):
        state = json.loads((folder / "checkpoint-6" / "trainer_state.json").read_text())
        return [entry for entry in state["log_history"] if "num_tokens" in entry]

    resumed, reference = history(killed), history(straight)
    assert [e["step"] for e in resumed] == [1, 2, 3, 4, 5, 6]
    # Token counts per step fingerprint which prompts were drawn: the data order is preserved.
    assert [e["num_tokens"] for e in resumed] == [e["num_tokens"] for e in reference]
    assert json.loads((killed / "summary.json").read_text())["steps"] == 6
