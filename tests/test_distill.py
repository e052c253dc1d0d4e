"""Distillation: three teachers, rejection sampling, a real flaky HTTP server, kill-and-resume, data cards, SFT."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from datasets import load_from_disk

from minireason.distill import DistillConfig, distill, load_records, to_kit_format
from minireason.recipes import load_recipe, run
from minireason.tasks import get_task, task_from_row
from minireason.teachers import HFTeacher, SolverTeacher, make_teacher
from minireason.testing.flaky_server import FlakyServer, countdown_reply

ROOT = Path(__file__).resolve().parents[1]


def _config(out, n=12, task="countdown", params=None, **kwargs):
    kwargs.setdefault("report_to", "none")
    return DistillConfig(out=str(out), sources=[{"task": task, "n": n, "params": params or {}}], **kwargs)


def _rows(out):
    return [json.loads(line) for line in (Path(out) / "data.jsonl").read_text().splitlines()]


def _all_verified(rows):
    return all(task_from_row(r["task"], r["task_params"]).is_correct(r["completion"][0]["content"],
                                                                     _problem(r)) for r in rows)


def _problem(row):
    """The generated problem a data row answers (ids are ``source:task-sSEED-i``)."""
    source, _, problem_id = row["problem_id"].partition(":")
    index = int(problem_id.rsplit("-", 1)[1])
    seed = int(problem_id.split("-s")[1].split("-")[0])
    return task_from_row(row["task"], row["task_params"]).generate(index + 1, seed=seed)[index]


def test_solver_teacher_mix_makes_a_verified_deduplicated_set_with_a_card(tmp_path):
    cfg = DistillConfig(out=str(tmp_path), report_to="none", samples_per_problem=3, sources=[
        {"task": "countdown", "n": 30}, {"task": "arithmetic", "n": 20, "params": {"op": "mul"}}])
    card = distill(cfg, progress=False)
    rows = _rows(tmp_path)
    assert card["rows"] == len(rows) == 50 and card["problems_done"] == 50 and card["problems_failed"] == 0
    # The shortcut solver writes the same trace three times per problem: two of each three are duplicates.
    assert card["duplicates_removed"] == 100 and card["yield"] == 1.0
    assert card["per_task"]["countdown"]["rows"] == 30 and card["per_task"]["arithmetic"]["samples"] == 60
    assert len({r["id"] for r in rows}) == 50 and _all_verified(rows)
    disk = load_from_disk(str(tmp_path / "data"))
    assert disk.num_rows == 50 and set(disk.column_names) >= {"prompt", "completion", "task", "errors", "source"}
    assert json.loads((tmp_path / "data_card.json").read_text())["rows"] == 50
    assert "| countdown | 30 | 90 | 90 | 100.0% | 30 |" in (tmp_path / "README.md").read_text()
    assert (tmp_path / "data.parquet").stat().st_size > 0


def test_the_17k_recipe_mix_loads_and_a_scaled_copy_runs(tmp_path):
    cfg = DistillConfig.from_yaml(str(ROOT / "recipes/solver/distill-17k/cpu.yaml"))
    assert sum(s["n"] for s in cfg.sources) == 17_000
    small = DistillConfig.from_yaml(str(ROOT / "recipes/solver/distill-17k/cpu.yaml"), out=str(tmp_path),
                                    report_to="none", sources=[dict(s, n=5) for s in cfg.sources])
    card = distill(small, progress=False)
    assert card["rows"] == 20 and set(card["per_task"]) == {"countdown", "arithmetic"}
    assert DistillConfig.from_yaml(str(ROOT / "recipes/qwq-32b/distill-17k/vllm-server.yaml")).teacher.startswith("openai:")


@pytest.mark.slow
def test_openai_teacher_survives_errors_rate_limits_garbage_and_timeouts(tmp_path):
    """Every fault costs retries, never a crash: all problems finish, and the request log shows each fault."""
    plan = ["ok", "500", "reasoning", "429", "garbage", "ok", "empty", "slow", "ok"]
    with FlakyServer(plan, slow_seconds=1.5) as server:
        teacher = make_teacher("openai:teacher-model", base_url=server.url, concurrency=4, max_retries=6, timeout=0.5)
        card = distill(_config(tmp_path, n=12, teacher="openai:teacher-model", samples_per_problem=2),
                       teacher=teacher, progress=False)
    requests = card["teacher"]["requests"]
    assert card["problems_done"] == 12 and card["problems_failed"] == 0
    assert requests["replies"] == 24
    assert requests["http_500"] > 0 and requests["http_429"] > 0 and requests["timed_out_or_dropped"] > 0
    assert requests["empty_or_malformed_replies"] > 0
    # The server answers odd targets wrongly: exactly those samples are rejected.
    odd = sum(2 for row in get_task("countdown").generate(12, seed=0) if row["target"] % 2)
    assert card["per_task"]["countdown"]["rejected"] == ({"wrong_answer": odd} if odd else {})
    rows = _rows(tmp_path)
    assert card["rows"] == len(rows) == 12 - odd // 2 and _all_verified(rows)


def test_a_dead_endpoint_loses_nothing_and_the_same_command_finishes_later(tmp_path):
    with FlakyServer(["500"]) as server:
        teacher = make_teacher("openai:m", base_url=server.url, max_retries=1, timeout=2)
        card = distill(_config(tmp_path, n=6, teacher="openai:m"), teacher=teacher, progress=False)
    assert card["problems_failed"] == 6 and card["problems_done"] == 0 and card["rows"] == 0
    assert load_records(tmp_path / "records.jsonl") == {}
    with FlakyServer(["ok"]) as server:
        teacher = make_teacher("openai:m", base_url=server.url)
        card = distill(_config(tmp_path, n=6, teacher="openai:m"), teacher=teacher, progress=False)
    assert card["problems_failed"] == 0 and card["problems_done"] == 6


@pytest.mark.slow
def test_killed_mid_run_the_same_command_resumes_without_duplicates_or_losses(tmp_path):
    """SIGKILL a real `minireason data distill` process mid-run, tear its last line, run it again: the result
    matches an uninterrupted run row for row."""
    with FlakyServer(["ok"], delay=0.05) as server:
        def command(out):
            return [sys.executable, "-m", "minireason", "data", "distill", "--task", "countdown", "--n", "40",
                    "--teacher", "openai:m", "--base-url", server.url, "--concurrency", "2", "--chunk-size", "4",
                    "--report-to", "none", "--out", str(out)]

        subprocess.run(command(tmp_path / "whole"), check=True, capture_output=True, timeout=300)
        killed = tmp_path / "killed"
        process = subprocess.Popen(command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        records = killed / "records.jsonl"
        deadline = time.time() + 120
        while time.time() < deadline and (not records.exists() or records.read_text().count("\n") < 8):
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        done_before = records.read_text().count("\n")
        assert 8 <= done_before < 40, "the kill must land mid-run"
        with open(records, "a") as handle:
            handle.write('{"id": "0:countdown-s0-39", "task": "coun')  # a write torn by the kill
        resumed = subprocess.run(command(killed), check=True, capture_output=True, text=True, timeout=300)
    assert f"resuming {killed}: {done_before} problems done" in resumed.stderr
    ids = [json.loads(line)["id"] for line in records.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 40
    whole, again = _rows(tmp_path / "whole"), _rows(killed)
    assert [(r["id"], r["completion"]) for r in again] == [(r["id"], r["completion"]) for r in whole]


def test_rewriter_output_is_kept_only_when_it_still_verifies(tmp_path):
    with FlakyServer(["ok"]) as server:
        rewriter = make_teacher("openai:rewriter", base_url=server.url)
        card = distill(_config(tmp_path, n=5, rewriter="openai:rewriter"), rewriter=rewriter, progress=False)
    rows = _rows(tmp_path)
    assert card["rewritten"] == 5 and all("<think>Rewritten." in r["completion"][0]["content"] for r in rows)
    assert _all_verified(rows)


class _TwoAttempts:
    """A teacher that gets each problem wrong, then right (what stitching needs)."""

    name = "two-attempts"

    def sample(self, rows, k):
        return [["<think>Guess.</think><answer>1 + 1</answer>",
                 f"<think>Work it out.</think><answer>{row['solution']}</answer>"] for row in rows]

    def settings(self):
        return {"name": self.name}


def test_journey_stitching_turns_a_rejected_and_an_accepted_attempt_into_one_trace(tmp_path):
    card = distill(_config(tmp_path, n=6, journey=True, samples_per_problem=2), teacher=_TwoAttempts(),
                   progress=False)
    rows = _rows(tmp_path)
    assert card["rows"] == 6 and card["traces_with_corrections"] == 6 and card["mean_errors_per_trace"] == 1
    text = rows[0]["completion"][0]["content"]
    assert text.index("Guess.") < text.index("Wait, 1 + 1") < text.index("Work it out.")
    assert _all_verified(rows)


@pytest.mark.slow
def test_hf_teacher_samples_k_traces_per_problem_from_a_local_model(tmp_path, tiny_model_path):
    teacher = make_teacher("hf:tiny", max_new_tokens=6, batch_size=4)
    assert isinstance(teacher, HFTeacher)
    rows = get_task("countdown").generate(3, seed=0)
    samples = teacher.sample(rows, 2)
    assert [len(s) for s in samples] == [2, 2, 2] and all(isinstance(t, str) for s in samples for t in s)
    card = distill(_config(tmp_path, n=3, teacher="hf:tiny", samples_per_problem=2), teacher=teacher, progress=False)
    stats = card["per_task"]["countdown"]
    assert stats["samples"] == 6 and stats["verified"] + sum(stats["rejected"].values()) == 6


def test_resuming_with_other_settings_is_refused(tmp_path):
    distill(_config(tmp_path, n=3), progress=False)
    distill(_config(tmp_path, n=3, chunk_size=1), progress=False)  # a speed setting may change
    with pytest.raises(ValueError, match=r"other settings \(samples_per_problem, sources\)"):
        distill(_config(tmp_path, n=4, samples_per_problem=2), progress=False)


def test_teacher_specs_and_bad_configs_fail_clearly(tmp_path):
    assert isinstance(make_teacher("solver"), SolverTeacher)
    with pytest.raises(ValueError, match="teacher must be solver, hf:MODEL or openai:MODEL"):
        make_teacher("gpt")
    with pytest.raises(ValueError, match="at least one source"):
        DistillConfig(out=str(tmp_path))
    with pytest.raises(ValueError, match="unknown task"):
        _config(tmp_path, task="chess")
    with pytest.raises(ValueError, match="samples_per_problem >= 2"):
        _config(tmp_path, journey=True)
    with pytest.raises(ValueError, match="unknown format"):
        _config(tmp_path, formats=["csv"])


def test_traces_are_put_into_the_kit_format_or_rejected_with_a_reason():
    assert to_kit_format(countdown_reply("numbers [2, 3, 4], write an equation that equals 20"))[1] == "ok"
    assert to_kit_format("<think>6*7</think>\n\\boxed{42}") == ("<think>6*7</think>\n<answer>42</answer>", "ok")
    assert to_kit_format("") == (None, "empty")
    assert to_kit_format("<answer>42</answer>") == (None, "no_reasoning")


@pytest.mark.slow
def test_cli_journey_and_shortcut_sets_cover_the_same_problems(tmp_path):
    for style in ("journey", "shortcut"):
        subprocess.run([sys.executable, "-m", "minireason", "data", "journey", "--task", "arithmetic", "--param",
                        "op=mul", "--n", "25", "--style", style, "--error-rate", "0.5", "--report-to", "none",
                        "--out", str(tmp_path / style)], check=True, capture_output=True, timeout=120)
    journey, shortcut = _rows(tmp_path / "journey"), _rows(tmp_path / "shortcut")
    assert [r["problem_id"] for r in journey] == [r["problem_id"] for r in shortcut]
    assert sum(r["errors"] for r in journey) > 0 and sum(r["errors"] for r in shortcut) == 0
    assert _all_verified(journey) and _all_verified(shortcut)
    card = json.loads((tmp_path / "journey" / "data_card.json").read_text())
    assert card["teacher"] == {"name": "solver", "style": "journey", "error_rate": 0.5, "strategy": "dfs"}


@pytest.mark.slow
def test_sft_recipe_trains_on_a_distilled_data_set(tmp_path, tiny_model_path):
    distill(_config(tmp_path / "data", n=16), progress=False)
    (stage,) = load_recipe(ROOT / "recipes/smollm2-135m/sft/cpu.yaml", [
        "--model", "tiny", "--dataset_path", str(tmp_path / "data" / "data"), "--max_steps", "2", "--n_eval", "2",
        "--eval_max_new_tokens", "4", "--report_to", "none", "--output_dir", str(tmp_path / "sft"),
        "--per_device_train_batch_size", "4"])
    (summary,) = run([stage])
    assert summary["steps"] == 2 and summary["data"].endswith("data")
    assert (Path(summary["final"]) / "adapter_config.json").exists()


@pytest.mark.slow
def test_sft_loss_covers_the_assistant_trace_only(tmp_path, tiny_model_path):
    from minireason.recipes.sft import build_trainer

    (stage,) = load_recipe(ROOT / "recipes/smollm2-135m/sft/cpu.yaml", [
        "--model", "tiny", "--n_train", "4", "--report_to", "none", "--output_dir", str(tmp_path),
        "--data_style", "journey", "--task", "arithmetic", "--task_params", "{op: mul}", "--error_rate", "1.0"])
    trainer, _ = build_trainer(stage)
    example, tokenizer = trainer.train_dataset[0], trainer.processing_class
    trained = tokenizer.decode([t for t, label in zip(example["input_ids"], example["labels"]) if label != -100])
    ignored = tokenizer.decode([t for t, label in zip(example["input_ids"], example["labels"]) if label == -100])
    assert trained.startswith("<think>") and "Wait, let me check" in trained and "</answer>" in trained
    assert "What is" in ignored and ignored.endswith("assistant\n") and "Wait" not in ignored


@pytest.mark.slow
def test_distill_logs_its_counts_to_wandb_offline(tmp_path, offline_wandb):
    from tests.wandb_log import read_run

    card = distill(_config(tmp_path / "out", n=10, report_to="wandb"), progress=False)
    (run_dir,) = offline_wandb.glob("offline-run-*")
    logged = read_run(run_dir)
    (row,) = [row for row in logged["history"] if "data/rows" in row]
    assert row["data/rows"] == card["rows"] == 10 and row["data/countdown/yield"] == 1.0
    assert logged["config"]["teacher"]["name"] == "solver"
