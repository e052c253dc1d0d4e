"""minireason.notebook: recipe choice by hardware, sizing, timings and tables the notebooks show."""

import json
from pathlib import Path

import pytest

from minireason import notebook
from minireason.notebook import (
    expectations,
    recipe_flags,
    recipe_for,
    recipe_steps,
    resolve_size,
    reward_table,
    stages_for,
)
from minireason.recipes.catalog import recipe_root
from minireason.reports.evals import results_table
from minireason.reports.training import timing
from minireason.rewards import REWARDS
from minireason.tasks import get_task


@pytest.mark.parametrize("memory_gb, card", [(15.0, "t4-16gb"), (22.5, "t4-16gb"), (39.4, "a100-40gb"),
                                             (79.2, "h100-80gb"), (139.8, "h100-80gb")])
def test_gpu_recipe_is_the_largest_that_fits(memory_gb, card):
    expected = recipe_root() / "qwen2.5-3b/grpo-countdown" / f"{card}.yaml"
    assert recipe_for("grpo-countdown", "gpu", gpu_memory_gb=memory_gb) == expected
    # No H100 recipe for arithmetic: an 80 GB card gets the A100 one.
    if card == "h100-80gb":
        assert recipe_for("grpo-arithmetic", "gpu", gpu_memory_gb=memory_gb).stem == "a100-40gb"


def test_recipe_choice_errors_and_fallbacks(monkeypatch):
    with pytest.raises(ValueError, match="smallest needs a 16 GB card, which reports at least 14.4 GiB"):
        recipe_for("grpo-countdown", "gpu", gpu_memory_gb=8)
    with pytest.raises(ValueError, match="SIZE must be one of"):
        resolve_size("large")
    with pytest.raises(FileNotFoundError, match="no CPU recipe"):
        recipe_for("no-such-method", "cpu")
    # Methods with no 3B recipe run their CPU recipe on a GPU too.
    cpu_recipe = recipe_root() / "smollm2-135m/journey-vs-shortcut/cpu.yaml"
    assert recipe_for("journey-vs-shortcut", "gpu", gpu_memory_gb=16) == cpu_recipe
    monkeypatch.setattr(notebook, "hardware", lambda: {"device": "cpu", "name": "CPU", "memory_gb": None, "bf16": False})
    assert resolve_size("auto") == "cpu"
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        recipe_for("grpo-countdown", "gpu")


def test_gpu_flags_follow_the_card(monkeypatch):
    monkeypatch.setattr(notebook, "hardware", lambda: {"device": "cuda", "name": "NVIDIA L4", "memory_gb": 22.0, "bf16": True})
    monkeypatch.setattr(notebook, "_has", lambda module: False)
    path, flags = recipe_flags("grpo-countdown", "auto", max_steps=30)
    assert path.stem == "t4-16gb"
    assert flags == ["--max_steps", "30"]  # precision is the card's: bf16 here (minireason.recipes.config.precision)
    monkeypatch.setattr(notebook, "hardware", lambda: {"device": "cuda", "name": "H100", "memory_gb": 79.0, "bf16": True})
    path, flags = recipe_flags("grpo-countdown", "gpu")
    assert path.stem == "h100-80gb" and flags == ["--use_vllm", "false"]  # vLLM asked for but not installed


def test_tiny_size_always_runs_two_steps_on_the_tiny_model(tmp_path):
    (grpo,) = stages_for("grpo-countdown", "tiny", tmp_path, max_steps=50)
    assert (grpo.model, grpo.max_steps, grpo.num_generations, grpo.report_to) == ("tiny", 2, 4, [])
    sft, _ = stages_for("journey-vs-shortcut", "tiny", tmp_path)  # no GRPO flags for an SFT-only method
    assert (sft.model, sft.max_steps, sft.output_dir) == ("tiny", 2, str(tmp_path / "shortcut"))
    (cpu,) = stages_for("grpo-countdown", "cpu", tmp_path, max_steps=7)
    assert (cpu.model, cpu.max_steps) == ("smollm2-135m", 7)
    assert recipe_steps("grpo-countdown", "cpu") == 20 and recipe_steps("sft-then-grpo", "cpu") == 15
    assert recipe_steps("journey-vs-shortcut", "cpu") == 48  # packed steps, the same for both arms
    assert recipe_steps("sft", "cpu") is None  # whole epochs


def test_expectations_lists_every_tier_cpu_first():
    table = expectations("grpo-countdown").splitlines()
    assert [line.split("`")[1] for line in table[2:]] == [
        "smollm2-135m/grpo-countdown/cpu", "qwen2.5-3b/grpo-countdown/t4-16gb",
        "qwen2.5-3b/grpo-countdown/a100-40gb", "qwen2.5-3b/grpo-countdown/h100-80gb"]
    assert "33-40 s/step" in table[2] and "(both measured" in table[2]  # continuation lines kept
    assert all("ESTIMATES" in line for line in table[3:])


def test_timing_reads_the_trainer_state(tmp_path):
    log = [{"step": 2, "loss": 1.0}, {"step": 4, "loss": 0.5}, {"step": 4, "train_runtime": 10.0}]
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": log}))
    assert timing(tmp_path, planned_steps=300) == {"steps": 4, "seconds": 10.0, "seconds_per_step": 2.5,
                                                   "planned_steps": 300, "planned_minutes": 12.5}
    with pytest.raises(FileNotFoundError, match="has this run finished"):
        timing(tmp_path / "missing")


def test_tables():
    table = results_table({"base": {"pass@1": 0.0, "ci95": {"pass@1": [0.0, 0.0566]}, "format_rate": 0.25,
                                    "mean_tokens": 87.6, "problems": 64},
                           "sft": {"pass@1": 0.671875, "ci95": {"pass@1": [0.55, 0.77]}, "format_rate": 1.0,
                                   "mean_tokens": 60.2, "problems": 64}})
    assert table.splitlines()[2:] == ["| base | 0.0% | 0.0% - 5.7% | 25.0% | 88 | 64 |",
                                      "| sft | 67.2% | 55.0% - 77.0% | 100.0% | 60 | 64 |"]
    row = get_task("countdown").generate(1, seed=0)[0]
    completions = [f"<think>x</think><answer>{row['solution']}</answer>", "a | b"]
    lines = reward_table(row, completions).splitlines()
    accuracy = REWARDS["accuracy"](completions, task=[row["task"]] * 2, task_params=[row["task_params"]] * 2,
                                   numbers=[row["numbers"]] * 2, target=[row["target"]] * 2)
    assert accuracy == [1.0, 0.0]
    assert lines[2].endswith("| 1 | 1 | 0 |") and lines[3] == "| `a \\| b` | 0 | 0 | 0 |"


@pytest.mark.slow
def test_a_finished_run_is_not_trained_again(tmp_path, tiny_model_path):
    from minireason.recipes import run

    stages = stages_for("grpo-countdown", "tiny", tmp_path)
    (first,) = run(stages)
    checkpoints = sorted(p.name for p in tmp_path.glob("checkpoint-*"))
    (again,) = run(stages_for("grpo-countdown", "tiny", tmp_path))
    assert again == json.loads(json.dumps(first)) and again["steps"] == 2
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == checkpoints  # no extra step was taken


@pytest.mark.slow
def test_a_finished_run_trained_by_epochs_is_not_loaded_again(tmp_path, tiny_model_path):
    """An SFT run with no max_steps (one epoch) used to be 'resumed' at its end and evaluated again, which
    overwrote its log's training time; it now returns its summary, and raising max_steps still continues."""
    from minireason.recipes import load_recipe, run

    flags = ["--model", "tiny", "--n_train", "16", "--n_eval", "2", "--eval_max_new_tokens", "4", "--report_to",
             "none", "--per_device_train_batch_size", "8", "--output_dir", str(tmp_path)]
    (first,) = run(load_recipe("smollm2-135m/sft/cpu", flags))
    state = tmp_path / "trainer_state.json"
    stamp, runtime = state.stat().st_mtime, json.loads(state.read_text())["log_history"][-1]["train_runtime"]
    assert first["steps"] == 2 and first["max_steps"] == -1 and runtime > 0.1
    (again,) = run(load_recipe("smollm2-135m/sft/cpu", flags))
    assert again == json.loads(json.dumps(first)) and state.stat().st_mtime == stamp
    (longer,) = run(load_recipe("smollm2-135m/sft/cpu", [*flags, "--max_steps", "3"]))
    assert longer["steps"] == 3


def test_memory_reports_this_process_on_a_cpu():
    from pathlib import Path

    snapshot = notebook.memory()
    status = Path("/proc/self/status").read_text()
    vm_rss_gb = int(status.split("VmRSS:")[1].split()[0]) / 2**20  # kB, as the kernel counts it
    vm_hwm_gb = int(status.split("VmHWM:")[1].split()[0]) / 2**20
    assert snapshot["device"] == "cpu"
    assert abs(snapshot["rss_gb"] - vm_rss_gb) < 0.05 and abs(snapshot["peak_rss_gb"] - vm_hwm_gb) < 0.05
    assert 0 < snapshot["rss_gb"] <= snapshot["peak_rss_gb"]


def test_the_notebooks_reward_check_is_bounded_by_each_recipes_weights():
    """02_pure_rl's last check: a reward of at most 1.2 held on the CPU recipe (1 + 0.1 + 0.1), but the T4 recipe's
    accuracy and format sum to 2, so a T4 run whose reward rose past 1.2 failed a notebook that had worked."""
    from minireason.recipes import load_recipe

    (t4,) = load_recipe("qwen2.5-3b/grpo-arithmetic/t4-16gb")
    (cpu,) = load_recipe("smollm2-135m/grpo-arithmetic/cpu")
    rising = [[step, 0.1 + 1.8 * step / 100] for step in range(1, 101)]  # a T4 run that learns: 0.12 -> 1.9
    low, high = t4.reward_range()
    assert (low, high) == (0.0, 2.0) and all(low <= reward <= high for _, reward in rising)
    assert cpu.reward_range() == (0.0, 1.2) and not all(reward <= 1.2 for _, reward in rising)


def test_on_several_gpus_the_notebook_launches_one_process_a_gpu(tmp_path, monkeypatch):
    """Kaggle's second T4 sat idle: the notebook trained in its own process on one GPU. With several GPUs it now
    launches the same recipe and flags data-parallel, then reads the finished stages back."""
    import subprocess

    stages = stages_for("sft-then-grpo", "tiny", tmp_path, overrides=["--grpo.max_steps", "1"])
    launched = []

    def launch(command, check):  # what the launched processes leave: each stage's summary
        launched.append(command)
        for stage in stages:
            (Path(stage.output_dir) / "summary.json").parent.mkdir(parents=True, exist_ok=True)
            (Path(stage.output_dir) / "summary.json").write_text(json.dumps({"steps": stage.max_steps}))

    monkeypatch.setattr(subprocess, "run", launch)
    assert notebook.train(stages, processes=2) == [{"steps": 2}, {"steps": 1}]
    (command,) = launched
    assert command[1:9] == ["launch", "--multi_gpu", "--num_processes", "2", "--mixed_precision", "no", "-m",
                            "minireason"]
    assert command[9:] == ["train", str(recipe_for("sft-then-grpo", "tiny")), *stages[0].train_args[1:]]
    assert "--grpo.max_steps" in command
    stages[1].max_steps = 10  # changed after stages_for: the launched processes would not see it
    with pytest.raises(ValueError, match="changed after stages_for"):
        notebook.train(stages, processes=2)
    assert len(launched) == 1


def test_runs_go_to_google_drive_when_it_is_mounted(tmp_path):
    """Outputs under /content vanish with a recycled Colab VM, and resuming needs the checkpoints: with Drive
    mounted they go there; each host's note says what survives."""
    drive = tmp_path / "MyDrive"
    assert notebook.output_folder("02-pure-rl", "gpu", drive=drive) == "outputs/notebooks/gpu/02-pure-rl"
    drive.mkdir()
    assert notebook.output_folder("02-pure-rl", "gpu", drive=drive) == str(drive / "minireason/outputs/gpu/02-pure-rl")
    assert "recycled Colab VM" in notebook.persistence_note("outputs/notebooks/gpu/x", where="colab")
    assert "survive" in notebook.persistence_note(str(notebook.COLAB_DRIVE / "minireason/x"), where="colab")
    assert "Persistence" in notebook.persistence_note("/kaggle/working/outputs/x", where="kaggle")
