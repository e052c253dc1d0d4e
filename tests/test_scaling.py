"""Inference-time scaling: metrics against hand-computed cases, budget forcing, each strategy on real models."""

import itertools
import json
import subprocess
import sys
from fractions import Fraction

import pytest

from minireason.metrics import best_of_n, majority_answer, pass_at_k, voted_correct
from minireason.models import load_model
from minireason.reports.evals import load_runs, paired_difference, paired_markdown, runs_markdown
from minireason.scaling import (
    Strategy,
    budget_forced,
    evaluate_strategy,
    summarise,
)
from minireason.tasks import get_task


def _exact_pass_at_k(n, c, k):
    """By enumeration: the share of k-subsets of n samples (c correct) holding a correct one."""
    subsets = list(itertools.combinations([True] * c + [False] * (n - c), k))
    return Fraction(sum(any(s) for s in subsets), len(subsets))


@pytest.mark.parametrize("n,c,k", [(1, 0, 1), (1, 1, 1), (5, 2, 1), (5, 2, 2), (5, 2, 4), (8, 1, 8), (8, 3, 5),
                                   (10, 9, 2), (12, 0, 6)])
def test_pass_at_k_matches_enumeration(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(float(_exact_pass_at_k(n, c, k)), abs=1e-12)


def test_pass_at_k_is_stable_for_large_n_and_checks_its_arguments():
    # C(1000, 500) overflows a float; the product form does not. 1 - C(990,500)/C(1000,500) by logs:
    import math

    expected = 1 - math.exp(math.lgamma(991) - math.lgamma(491) - math.lgamma(1001) + math.lgamma(501))
    assert pass_at_k(1000, 10, 500) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


def test_majority_vote_ties_weights_and_abstentions():
    assert majority_answer(["3", "4", "4", "3"]) == "3"  # a tie goes to the answer seen first
    assert majority_answer([None, None, "7"]) == "7"  # no answer never wins over an answer
    assert majority_answer([None, None]) is None
    assert majority_answer(["a", "b", "b"], weights=[1.0, 0.4, 0.4]) == "a"
    assert best_of_n([0.2, 0.9, 0.9, 0.1]) == 1
    # maj@k over three problems: votes 2-1 right, 1-2 wrong, and no answers at all.
    groups = [["12", "12", "13"], ["5", "6", "6"], [None, None, None]]
    gold = ["12", "5", "1"]
    samples = [[{"answer": answer, "correct": answer == gold[p]} for answer in group] for p, group in enumerate(groups)]
    assert [voted_correct(problem) for problem in samples] == [True, False, False]
    assert [voted_correct(problem[:1]) for problem in samples] == [True, True, False]


def _sample(correct, answer, tokens=10, score=None):
    return {"completion": "", "correct": correct, "answer": answer, "tokens": tokens,
            "score": float(correct) if score is None else score, "well_formed": True, "reflects": False}


def test_summary_by_hand():
    """Two problems, four samples each, worked out on paper."""
    problems = [
        {"id": "a", "samples": [_sample(True, "7"), _sample(False, "8"), _sample(False, "8"), _sample(False, "8")]},
        {"id": "b", "samples": [_sample(False, "1", score=0.9), _sample(True, "2", score=0.1),
                                _sample(True, "2", score=0.1), _sample(False, None, score=0.0)]},
    ]
    metrics = summarise(problems, 4)
    assert metrics["pass@1"] == pytest.approx(3 / 8)
    assert metrics["pass@2"] == pytest.approx(((1 - 3 / 6) + (1 - 1 / 6)) / 2)  # 1 - C(3,2)/C(4,2); 1 - C(2,2)/C(4,2)
    assert metrics["pass@4"] == 1.0
    assert metrics["maj@1"] == 0.5 and metrics["maj@4"] == 0.5  # "8" wins a, "2" wins b
    assert metrics["best_of_4"] == 0.5  # a picks its correct sample (score 1); b picks the 0.9 wrong one
    assert metrics["weighted_best_of_4"] == 0.5  # a: "7"=1 vs "8"=0; b: "1"=0.9 beats "2"=0.2
    assert metrics["tokens_per_problem"] == 40 and metrics["mean_tokens"] == 10
    # Intervals over two problems: a bootstrap mean is 0, 1/2 or 1 with chances 1/4, 1/2, 1/4, so a figure that
    # is 1 on one problem and 0 on the other spans [0, 1]; one that is 1 on both has no width.
    assert metrics["ci95"]["maj@4"] == [0.0, 1.0] and metrics["ci95"]["pass@4"] == [1.0, 1.0]
    assert metrics["ci95"]["pass@1"] == [0.25, 0.5]  # the problems' own pass@1 are 1/4 and 2/4


def test_paired_difference_of_two_runs_by_hand():
    """Run b answers problem 1 and 2 right where run a missed them, and misses problem 3 that a answered."""
    def run(label, outcomes):
        return {"label": label, "problems": [{"id": i, "samples": [_sample(ok, str(int(ok)))]}
                                             for i, ok in enumerate(outcomes)]}

    a, b = run("a", [False, False, True, True]), run("b", [True, True, False, True])
    diff = paired_difference(a, b)
    assert diff["problems"] == 4 and diff["k"] == 1
    assert diff["pass@1"]["mean"] == pytest.approx(1 / 4) and diff["maj@1"]["mean"] == pytest.approx(1 / 4)
    assert (diff["gained"], diff["lost"]) == (2, 1)
    assert diff["p_value"] == pytest.approx(1.0)  # 2 * (1 + 3) / 2**3 = 1: three discordant problems decide nothing
    # Matched by id, not by position; runs with no problem in common are not compared.
    assert paired_difference(a, {**b, "problems": b["problems"][::-1]})["pass@1"]["mean"] == pytest.approx(1 / 4)
    assert paired_difference(a, run("c", [])) is None
    table = paired_markdown([a, b])
    assert "| b | a | 4 | +25.0%" in table and "| 2 / 1 | 1 |" in table


class ScriptedModel:
    """Stands in for generation: replies from a script, so budget forcing's control flow is checked exactly."""

    def __init__(self, replies):
        self.replies, self.calls = list(replies), []

    def __call__(self, prefixes, max_new_tokens, stop=None):
        self.calls.append((list(prefixes), max_new_tokens, stop))
        return [self.replies.pop(0) for _ in prefixes]


def test_budget_forcing_caps_thinking_and_forces_the_answer():
    model = ScriptedModel([("I am still thinking about", 5), ("42</answer>", 2)])
    (text, tokens), = budget_forced(model, ["Q:"], Strategy(think_budget=5))
    assert text == "I am still thinking about\n</think>\n<answer>42</answer>" and tokens == 7
    assert model.calls[0][1:] == (5, ["</think>"]) and model.calls[1][0] == ["Q:I am still thinking about\n</think>\n<answer>"]


def test_budget_forcing_waits_suppress_an_early_end():
    model = ScriptedModel([("2+2=5</think>", 4), (" no, 2+2=4</think>", 5), ("4", 1)])
    (text, tokens), = budget_forced(model, ["Q:"], Strategy(think_budget=100, waits=1))
    assert text == "2+2=5\nWait, no, 2+2=4\n</think>\n<answer>4</answer>" and tokens == 10
    assert model.calls[1][1] == 96  # the second round may spend only what is left of the budget


def test_budget_forcing_groups_samples_by_what_they_have_left():
    model = ScriptedModel([("a</think>", 3), ("bb", 8), (" c</think>", 2), ("x", 1), ("y", 1)])
    outputs = budget_forced(model, ["P1", "P2"], Strategy(think_budget=8, waits=1))
    assert [max_new for _, max_new, _ in model.calls] == [8, 5, 32]
    assert outputs[0][0].startswith("a\nWait, c\n</think>") and outputs[1][0].startswith("bb\n</think>")


@pytest.fixture(scope="module")
def tiny(tiny_model_path):
    return load_model("tiny")


@pytest.mark.parametrize("strategy", [
    Strategy(prompt="cot", samples=4, max_new_tokens=6),
    Strategy(prompt="direct", samples=2, temperature=0.0, max_new_tokens=6),
    Strategy(samples=2, think_budget=4, waits=1, answer_tokens=3),
    Strategy(samples=3, max_new_tokens=6, scorer="format"),
], ids=["cot-k4", "direct-greedy", "budget-wait", "best-of-n-by-format"])
@pytest.mark.slow
def test_each_strategy_runs_on_the_tiny_model(tiny, strategy):
    model, tokenizer = tiny
    rows = get_task("arithmetic", op="add").generate(3, seed=5)
    result = evaluate_strategy(model, tokenizer, rows, strategy, progress=False)
    k = strategy.samples
    assert [len(p["samples"]) for p in result.problems] == [k] * 3
    # The figures are those of the samples kept: pass@1 the share correct; pass@k (k samples drawn) the share
    # of problems with any correct sample; maj@k the share whose most voted answer is correct.
    correct = [[s["correct"] for s in p["samples"]] for p in result.problems]
    assert result.metrics["pass@1"] == pytest.approx(sum(map(sum, correct)) / (3 * k))
    assert result.metrics[f"pass@{k}"] == pytest.approx(sum(map(any, correct)) / 3)
    votes = [majority_answer([s["answer"] for s in p["samples"]]) for p in result.problems]
    expected_maj = sum(vote is not None and any(s["answer"] == vote and s["correct"] for s in p["samples"])
                       for vote, p in zip(votes, result.problems)) / 3
    assert result.metrics[f"maj@{k}"] == pytest.approx(expected_maj)
    tokens = [s["tokens"] for p in result.problems for s in p["samples"]]
    if strategy.think_budget:  # thinking within the budget, plus the forced answer's tokens
        assert max(tokens) <= strategy.think_budget + strategy.answer_tokens
        assert all("\n</think>\n<answer>" in s["completion"] for p in result.problems for s in p["samples"])
    else:
        assert max(tokens) <= strategy.max_new_tokens
    if strategy.temperature == 0:  # greedy: every sample of a problem is the same
        assert all(len({s["completion"] for s in p["samples"]}) == 1 for p in result.problems)


@pytest.mark.slow
def test_direct_prompt_drops_the_reasoning_instruction(tiny):
    from minireason.scaling import prompt_text

    _, tokenizer = tiny
    row = get_task("countdown").generate(1, seed=0)[0]
    assert "step by step" in prompt_text(tokenizer, row, "cot")
    direct = prompt_text(tokenizer, row, "direct")
    assert "step by step" not in direct and "without any reasoning" in direct


def test_bad_strategies_fail_before_generating():
    with pytest.raises(ValueError, match="cot or direct"):
        Strategy(prompt="tree")
    with pytest.raises(ValueError, match="unknown reward 'vibes'"):
        Strategy(scorer="vibes")
    with pytest.raises(ValueError, match="think_budget"):
        Strategy(think_budget=0)


@pytest.mark.slow
def test_embedded_model_under_every_strategy(tmp_path):
    """The slower check: the real SmolLM2-135M-Instruct, each strategy, through the CLI, then compared."""
    common = ["--task", "arithmetic", "--param", "op=add", "--param", "digits=1", "--n-problems", "3"]
    runs = {"cot": ["--samples", "4", "--max-new-tokens", "24"],
            "direct": ["--prompt", "direct", "--samples", "1", "--temperature", "0", "--max-new-tokens", "8"],
            "budget": ["--samples", "2", "--think-budget", "8", "--waits", "1", "--answer-tokens", "6"],
            "beam": ["--search", "beam", "--samples", "2", "--beam-width", "2", "--max-new-tokens", "16",
                     "--step-tokens", "8", "--scorer", "step", "--sample-seed", "0"]}
    for label, flags in runs.items():
        result = subprocess.run([sys.executable, "-m", "minireason", "eval", *common, *flags, "--label", label,
                                 "--out", str(tmp_path / label)], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "accuracy vs compute" in result.stdout and (tmp_path / label / "accuracy.png").stat().st_size > 0
    samples = [json.loads(line) for line in (tmp_path / "cot" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 3 and all(len(p["samples"]) == 4 for p in samples)
    # The pretrained model writes real words: at least some samples are not empty.
    assert any(s["completion"].strip() for p in samples for s in p["samples"])
    compare = subprocess.run([sys.executable, "-m", "minireason", "compare", *(str(tmp_path / r) for r in runs),
                              "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert compare.returncode == 0 and (tmp_path / "comparison.png").exists()
    assert "paired on the problems both answered" in compare.stdout and "exact McNemar" in compare.stdout
    table = (tmp_path / "comparison.md").read_text()
    assert "| direct | cot | 3 |" in table and "| budget | cot | 3 |" in table  # each run against the first
    assert all(f"| {label} |" in table for label in runs)
    assert runs_markdown(load_runs([tmp_path / "budget"])).count("budget=8 waits=1") == 1
    beam = [json.loads(line) for line in (tmp_path / "beam" / "samples.jsonl").read_text().splitlines()]
    assert all(p["tokens_spent"] > sum(s["tokens"] for s in p["samples"]) for p in beam)  # pruned steps were paid


@pytest.mark.slow
def test_eval_logs_metrics_and_samples_to_wandb_offline(tiny, tmp_path, offline_wandb):
    from minireason.reports.evals import log_to_wandb
    from tests.wandb_log import read_run, records

    model, tokenizer = tiny
    rows = get_task("arithmetic", op="add").generate(2, seed=0)
    result = evaluate_strategy(model, tokenizer, rows, Strategy(samples=2, max_new_tokens=4), progress=False)
    run = {"label": "tiny", "strategy": result.strategy, "metrics": result.metrics}
    log_to_wandb([run], "minireason", result.problems)
    (run_dir,) = offline_wandb.glob("offline-run-*")
    logged = read_run(run_dir)
    (row,) = [row for row in logged["history"] if "eval/pass@2" in row]
    assert row["eval/pass@2"] == result.metrics["pass@2"]
    assert row["eval/tokens_per_problem"] == result.metrics["tokens_per_problem"]
    low, high = result.metrics["ci95"]["pass@2"]  # the interval as two numbers W&B can chart
    assert (row["eval/pass@2_ci95_low"], row["eval/pass@2_ci95_high"]) == (low, high)
    assert any(key.startswith("eval/comparison") for key in row)
    assert any(key.startswith("eval/samples") for key in row)
    # W&B writes the log while the reader polls it: a record cut short is one still being written, not an error.
    (log,) = run_dir.glob("run-*.wandb")
    whole = log.read_bytes()
    cut, count = tmp_path / "cut.wandb", len(list(records(log)))
    read = []
    for end in range(len(whole) - 300, len(whole)):
        cut.write_bytes(whole[:end])
        read.append(len(list(records(cut))))
    assert read == sorted(read) and read[0] < read[-1] == count - 1


def test_beam_search_keeps_the_best_steps_and_counts_every_branch():
    """Two beams, width two, worked by hand: the false first steps are pruned, then both kept traces answer."""
    from minireason.search import beam_search
    from minireason.tasks.steps import check_claims

    rounds = [["1 + 1 = 2. ", "1 + 1 = 3. ", "2 + 2 = 4. ", "2 + 2 = 5. "],  # the root, fanned out to 2 x 2
              ["<answer>2</answer> and more", "3 + 3 = 7. ", "<answer>4</answer>", "3 + 3 = 7. "]]
    calls = []

    def complete(prefixes, budget, stop):
        calls.append((prefixes, budget, stop))
        return [(text, len(text.split())) for text in rounds[len(calls) - 1]]

    def share_true(p, texts):
        return [(lambda true, counted: true / counted if counted else 1.0)(*check_claims(t)) for t in texts]

    samples, spent = beam_search(complete, ["Q:"], share_true, beams=2, width=2, max_new_tokens=64, step_tokens=16,
                                 step_end=(". ",))
    # Text past </answer> is cut; its tokens were generated all the same (5 + 3 and 5 + 1 "tokens" here).
    assert samples == [[("1 + 1 = 2. <answer>2</answer>", 8), ("2 + 2 = 4. <answer>4</answer>", 6)]]
    assert spent == [4 * 5 + (3 + 5 + 1 + 5)]  # pruned branches are paid for too
    assert calls[1][0] == ["Q:1 + 1 = 2. "] * 2 + ["Q:2 + 2 = 4. "] * 2  # each kept beam, tried twice
    assert calls[0][1:] == (16, [". ", "</answer>"])


@pytest.mark.slow
def test_beam_search_runs_on_the_tiny_model(tiny):
    model, tokenizer = tiny
    rows = get_task("countdown").generate(2, seed=1)
    strategy = Strategy(search="beam", samples=2, beam_width=2, max_new_tokens=12, step_tokens=4, sample_seed=0)
    result = evaluate_strategy(model, tokenizer, rows, strategy, progress=False)
    assert [len(p["samples"]) for p in result.problems] == [2, 2]
    for problem in result.problems:
        assert all(s["tokens"] <= 12 for s in problem["samples"])
        # 2 x 2 first steps, then 2 more per kept beam each round: far more than the kept traces hold.
        assert problem["tokens_spent"] >= sum(s["tokens"] for s in problem["samples"]) + 2 * 4
    assert result.metrics["tokens_per_problem"] == pytest.approx(sum(p["tokens_spent"] for p in result.problems) / 2)
    again = evaluate_strategy(model, tokenizer, rows, strategy, progress=False)  # seeded: the same search
    assert [p["samples"] for p in again.problems] == [p["samples"] for p in result.problems]
    with pytest.raises(ValueError, match="do not combine"):
        Strategy(search="beam", think_budget=8)
