"""The benchmark scripts run on the tiny model (their arithmetic is tested on known inputs in test_reports.py)."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

from minireason.demo import BASE, STAGES
from minireason.notebook import tiny_flags

pytestmark = pytest.mark.slow  # runs the benchmark scripts on the tiny model

ROOT = Path(__file__).resolve().parents[1]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_seeds_runs_the_demo_at_each_seed_and_fills_its_section(tiny_model_path, tmp_path):
    page = tmp_path / "grpo-on-cpu.md"
    page.write_text("intro\n")
    summary = load("demo_seeds").main(["--seeds", "0", "1", "--n-eval", "4", "--out", str(tmp_path / "runs"),
                                       "--docs", str(page), *tiny_flags(grpo=True)])
    assert summary["n"] == 4 and list(summary["stages"]) == list(STAGES)
    assert all(len(stage["accuracy"]) == 2 for stage in summary["stages"].values())  # one figure per seed
    assert set(summary["paired"]) == {f"pure RL - {BASE}", "SFT + GRPO - SFT"}
    assert (tmp_path / "img" / "grpo-on-cpu.png").exists() and "<!-- demo_seeds:start -->" in page.read_text()


def test_pure_rl_seeds_runs_each_seed_with_its_curve_and_fills_its_section(tiny_model_path, tmp_path):
    page = tmp_path / "claims.md"
    page.write_text("intro\n")
    summary = load("pure_rl_seeds").main(["--seeds", "0", "1", "--n-eval", "4", "--curve-every", "1", "--out",
                                          str(tmp_path / "runs"), "--docs", str(page), *tiny_flags(grpo=True)])
    for seed in (0, 1):
        row = summary["per_seed"][seed]
        assert [point[0] for point in row["curve"]] == [0, 1, 2] and 0 < row["minutes"] < 5
        assert row["curve"][0] == summary["per_seed"][0]["curve"][0]  # step 0 is the base model, whatever the seed
        lengths, reflecting = row["aha"]["length"], row["aha"]["reflection"]  # first and last steps of the log
        assert len(lengths) == len(reflecting) == 2 and all(x > 0 for x in lengths) and all(0 <= x <= 1 for x in reflecting)
    assert summary["base"]["n"] == 4 and (tmp_path / "img" / "pure-rl-seeds.png").exists()
    assert page.read_text().startswith("intro\n") and "<!-- claim 1, pure RL over seeds:start -->" in page.read_text()


def test_sft_vs_zero_gives_sft_the_tokens_pure_rl_trained_on_and_pairs_the_arms(tiny_model_path, tmp_path):
    page = tmp_path / "claims.md"
    page.write_text("intro\n")
    # The tiny model for both arms; pure RL shrunk to 2 steps, SFT sized by the tokens those took.
    grpo = ["--grpo.max_steps", "2", "--grpo.n_train", "8", "--grpo.max_completion_length", "8",
            "--grpo.num_generations", "4", "--grpo.per_device_train_batch_size", "4"]
    summary = load("sft_vs_zero").main(["--seeds", "0", "1", "--n-eval", "4", "--curve-every", "1", "--rl-out",
                                        str(tmp_path / "rl"), "--out", str(tmp_path / "sft"), "--docs", str(page),
                                        "--model", "tiny", "--eval_max_new_tokens", "8", *grpo])
    for seed in (0, 1):
        row = summary["per_seed"][seed]
        rl, sft = row["pure RL"], row["SFT"]
        # SFT is given as many worked problems as make pure RL's tokens: within one problem's worth of them.
        assert rl["tokens"] > 0 and abs(sft["tokens"] - rl["tokens"]) <= sft["tokens"] / row["sft_problems"]
        settings = json.loads((tmp_path / "sft" / f"seed{seed}" / "sft" / "run_config.json").read_text())["settings"]
        assert settings["n_train"] == row["sft_problems"] and settings["prompt_style"] == "base"
    # The difference is the runs' own, paired on the same problems.
    correct = {arm: [[json.loads(line)["samples"][0]["correct"] for line in (folder / "eval" / "samples.jsonl")
                      .read_text().splitlines()] for folder in folders]
               for arm, folders in (("rl", [tmp_path / "rl" / f"seed{s}" for s in (0, 1)]),
                                    ("sft", [tmp_path / "sft" / f"seed{s}" / "sft" for s in (0, 1)]))}
    per_seed = [(sum(b) - sum(a)) / 4 for a, b in zip(correct["rl"], correct["sft"])]
    assert summary["sft_minus_pure_rl"]["per_run"] == pytest.approx(per_seed)
    assert "<!-- claim 2, SFT against R1-Zero at equal tokens:start -->" in page.read_text()


def test_sft_grpo_seeds_scores_both_stages_at_each_seed_and_fills_its_section(tiny_model_path, tmp_path):
    page = tmp_path / "claims.md"
    page.write_text("intro\n")
    summary = load("sft_grpo_seeds").main(["--seeds", "0", "--n-eval", "4", "--out", str(tmp_path / "runs"),
                                           "--docs", str(page), *tiny_flags(grpo=True)])
    # one seed here: the figures over seeds are tested on known inputs in test_reports.py
    assert summary["n"] == 4 and list(summary["per_seed"]) == [0]
    row = summary["per_seed"][0]
    assert row["gain"] == row["grpo"] - row["sft"] and 0 < row["minutes"]["sft"] < 5 and 0 < row["minutes"]["grpo"] < 5
    assert summary["targets"][0][1] == f"{int(row['gain'] >= 0.15)} of 1"
    assert page.read_text().startswith("intro\n") and "<!-- SFT then GRPO over seeds:start -->" in page.read_text()


def test_grpo_step_times_every_row_on_the_tiny_model(tiny_model_path, capsys):
    rows = load("grpo_step").main(["--model", "tiny", "--steps", "2"])
    assert list(rows) == ["minireason recipe", "TRL GRPOTrainer defaults", "recipe, TRL's rollouts",
                          "recipe, no shared prompt prefix", "recipe, one prompt a step"]
    recipe = rows["minireason recipe"]
    assert recipe["completions_per_step"] == 16 and rows["TRL GRPOTrainer defaults"]["completions_per_step"] == 8
    assert all(row["s_per_step"] > 0 and row["throughput_tok_s"] > 0 for row in rows.values())
    assert "| minireason recipe | 16 |" in capsys.readouterr().out


def test_cpu_limits_times_both_precisions_and_both_attentions_on_the_tasks_prompts(tiny_model_path, capsys):
    tables = load("cpu_limits").main(["--model", "tiny", "--repeats", "1", "--batches", "2", "4"])
    names = [row[0] for row in tables["limits"]]
    assert names[0].startswith("matmul") and "decode, sample_ids, batch 4, tok/s (share of bare)" in names
    assert all(len(row) == 3 for row in tables["limits"])  # fp32 beside bf16
    # the sampler as a share of the bare loop, at both batches, in both precisions (on the tiny model the figures
    # themselves are noise: a decode step there costs less than the timer's jitter)
    shares = [cell.split("(")[1] for row in tables["limits"] if "share" in row[0] for cell in row[1:]]
    assert len(shares) == 4 and all(share.endswith("%)") for share in shares)
    attention = {row[0]: [float(v) for v in row[1:]] for row in tables["attention"]}
    assert {"decode, sample_ids, batch 2, base prompt", "decode, sample_ids, batch 4, base_example prompt"} <= set(attention)
    # the training row is as long as the one-shot prompt and a completion, longer than the question alone
    (training,) = [name for name in attention if name.startswith("training")]
    assert int(training.split(" x ")[1].split()[0]) > 64
    assert all(len(values) == 2 for values in attention.values())  # torch's bf16 attention, then fp32 copies
    assert "| bf16 model, tok/s |" in capsys.readouterr().out


def test_decode_launches_counts_each_path_again_and_finds_the_constants_the_arithmetic_uses(tiny_model_path, capsys):
    """The kernels a decoded token launches, counted again on Qwen2 layers along each path (minireason.launches): the
    step-time arithmetic's constants must be what the profiler sees with today's libraries."""
    load("decode_launches").main()
    out = capsys.readouterr().out
    for path in ("4-bit", "16-bit"):
        assert re.search(rf"^\| {path} \|.*\| yes \|", out, re.M), out
    assert "| Unsloth's: 1 prompt x 8 x 200 tokens | CUDA graph |" in out


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
        assert row["losses_finite"] and row["precision"] == "fp32"  # a CPU: fp32 whatever the card's recipe says
    grpo = rows[0]
    assert grpo["graph_same_tokens"] == 1.0 and grpo["eager_ms_token"] > 0 and grpo["graph_ms_token"] > 0
    assert grpo["stopped"] >= 1 and grpo["stopped_clipped_ratio"] == 0.0  # stopped rollouts read as finished
    # The sampler against transformers' generate, greedy in fp32: the same tokens, the same log-probabilities.
    assert rows[0]["greedy_agreement"] == 1.0 and rows[0]["max_logprob_gap"] < 1e-4
    # The SFT estimates measure the data set they train on: within 15% of the live bytes.
    assert all(abs(row["error"]) <= 0.15 for row in rows if row["stage"] == "sft")
    assert f"| {names[0]} | grpo |" in capsys.readouterr().out


def test_claims_run_every_claim_on_the_tiny_model_and_keep_the_other_sections(tiny_model_path, tmp_path):
    claims = load("claims")
    page, out = tmp_path / "claims.md", tmp_path / "runs"
    flags = ["--model", "tiny", "--scale", "tiny", "--seeds", "0", "--out", str(out), "--docs", str(page)]
    summary = claims.main(flags)
    text = page.read_text()
    assert all(f"<!-- claim {c}:start -->" in text for c in (1, 3, 4)) and (tmp_path / "img" / "claims.png").exists()
    # Each difference is the runs' own: claim 1's from the demo's report, claim 3's from each arm's samples.
    report = json.loads((out / "rl" / "seed0" / "report.json").read_text())
    pure, base = report["stages"]["pure RL"]["pass@1"], report["stages"][BASE]["pass@1"]
    assert summary[1]["1. pure RL - base, accuracy"]["per_run"] == [pytest.approx(pure - base)]
    runs = out / "journey" / "arithmetic-train8"
    arms = {arm: [json.loads(line)["samples"][0]["correct"] for line in
                  (runs / arm / "seed0" / "eval" / "samples.jsonl").read_text().splitlines()]
            for arm in ("shortcut", "journey")}
    assert summary[3]["3. journey - shortcut, arithmetic"]["mean"] == pytest.approx(
        (sum(arms["journey"]) - sum(arms["shortcut"])) / len(arms["journey"]))
    beam = json.loads((out / "scaling" / "seed0" / "beam-2-x-2-step-reward" / "eval.json").read_text())
    assert beam["strategy"]["search"] == "beam" and beam["metrics"]["tokens_per_problem"] > 0
    # Both arms take the same optimiser steps over packed traces, and each has its learning curve and step measures.
    settings = [json.loads((runs / arm / "seed0" / "run_config.json").read_text())["settings"] for arm in arms]
    summaries = [json.loads((runs / arm / "seed0" / "summary.json").read_text()) for arm in arms]
    assert all(setting["packing"] for setting in settings) and [s["steps"] for s in summaries] == [2, 2]
    assert [[point[0] for point in s["held_out_curve"]] for s in summaries] == [[0, 1, 2]] * 2
    assert "learning curves" in text and (tmp_path / "img" / "claims-journey-curves.png").exists()
    # Again, one claim only: its runs are reused (nothing retrains) and the other sections stay on the page.
    state = runs / "journey" / "seed0" / "trainer_state.json"
    stamp = state.stat().st_mtime
    claims.main([*flags, "--claims", "3"])
    assert state.stat().st_mtime == stamp
    assert all(f"<!-- claim {c}:start -->" in page.read_text() for c in (1, 3, 4))
    # Reporting only what finished leaves out seed 1 of claims 1 and 4 instead of running its demo.
    reported = claims.main([*flags[:4], "--seeds", "0", "1", *flags[6:], "--claims", "1", "4", "--only-finished"])
    assert [len(reported[c][name]["per_run"]) for c, name in ((1, "1. pure RL - base, format"),
                                                              (4, "4a. CoT - direct, greedy"))] == [1, 1]
    assert not (out / "rl" / "seed1").exists()
    assert page.read_text().count("Not run (left out here): seed 1.") == 2


def test_claims_run_seeds_as_parallel_processes_and_report_only_finished_ones(tiny_model_path, tmp_path):
    claims = load("claims")
    out, page = tmp_path / "runs", tmp_path / "claims.md"
    flags = ["--model", "tiny", "--scale", "tiny", "--out", str(out), "--claims", "3", "--journey-tasks", "arithmetic"]
    summary = claims.main([*flags, "--seeds", "0", "1", "--jobs", "2", "--docs", "none"])
    # Each seed ran in a process of its own, logged apart, and the report pairs both seeds.
    assert sorted(path.name for path in (out / "logs").iterdir()) == [
        f"claims-3-journey-tasks-arithmetic-journey-arms-{arm}-seeds-{seed}.log" for arm in ("journey", "shortcut")
        for seed in (0, 1)]
    assert len(summary[3]["3. journey - shortcut, arithmetic"]["per_run"]) == 2
    # Reporting only what finished: seed 2 is named as not run, and nothing is trained for it.
    summary = claims.main([*flags, "--seeds", "0", "1", "2", "--only-finished", "--docs", str(page)])
    assert len(summary[3]["3. journey - shortcut, arithmetic"]["per_run"]) == 2
    assert not (out / "journey" / "arithmetic-train8" / "journey" / "seed2").exists()
    assert "Not run (left out here): arithmetic shortcut seed 2, arithmetic journey seed 2." in page.read_text()
