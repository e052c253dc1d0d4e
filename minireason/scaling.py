"""Inference-time scaling: spend more compute per problem, and measure what it buys.

A ``Strategy`` says how to spend it: the prompt (chain-of-thought or direct answer), how
many samples per problem (for pass@k, majority voting and best-of-N), and s1's budget
forcing (cap the thinking at N tokens then force the answer, or suppress the end of
thinking and append "Wait" to think longer). ``evaluate_strategy`` samples, scores every
sample with the task's verifier, and reports accuracy next to the tokens spent:

- pass@1 (mean over samples) and unbiased pass@k (Chen et al., 2021);
- maj@k: the majority answer of k samples, voting on the verifier-normalised answer
  (``Task.answer_key``: "(2 + 3) * 4" and "4 * (3 + 2)" are one answer);
- best-of-N picked by a scorer: the verifier (an oracle: the ceiling a perfect reward
  model reaches), any reward in ``minireason.rewards.REWARDS``, or your own function
  ``module:function`` with TRL's reward signature; weighted best-of-N sums the scores
  per answer and takes the answer with the largest sum;
- format rate, mean tokens per sample and per problem, share of samples that reflect.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

from minireason.answer_format import (
    ANSWER_OPEN,
    DIRECT_INSTRUCTION,
    THINK_CLOSE,
    render_prompt,
)
from minireason.evaluation import generate, judge
from minireason.metrics import best_of_n, majority_answer, pass_at_k
from minireason.rewards import get_reward, reflection_reward
from minireason.tables import markdown_table
from minireason.tasks import task_from_row

FORCE_ANSWER = f"\n{THINK_CLOSE}\n{ANSWER_OPEN}"
WAIT = "\nWait,"


@dataclasses.dataclass
class Strategy:
    """How to spend inference compute on each problem."""

    prompt: str = dataclasses.field(default="cot", metadata={
        "help": "cot (reason inside <think>, the tasks' own prompt) or direct (answer only, no reasoning)."})
    # k = 8: enough for pass@k and maj@k to differ from pass@1; set 1 (and temperature 0) for plain greedy.
    samples: int = dataclasses.field(default=8, metadata={"help": "Samples per problem (k for pass@k and maj@k)."})
    # 0.7 is the usual sampling temperature for voting; greedy (0) gives k identical samples.
    temperature: float = dataclasses.field(default=0.7, metadata={"help": "Sampling temperature (0: greedy)."})
    max_new_tokens: int = dataclasses.field(default=256, metadata={"help": "Token limit per sample."})
    think_budget: int | None = dataclasses.field(default=None, metadata={
        "help": "s1 budget forcing: at most this many thinking tokens, then '</think><answer>' is forced."})
    waits: int = dataclasses.field(default=0, metadata={
        "help": "s1: when thinking ends, suppress the end this many times and append 'Wait,' to think longer."})
    answer_tokens: int = dataclasses.field(default=32, metadata={"help": "Tokens for a forced answer."})
    scorer: str = dataclasses.field(default="accuracy", metadata={
        "help": "Best-of-N scorer: accuracy (the verifier, an oracle), another reward name, or module:function."})

    def __post_init__(self):
        if self.prompt not in ("cot", "direct"):
            raise ValueError(f"prompt must be cot or direct, got {self.prompt!r}")
        if self.samples < 1 or self.max_new_tokens < 1 or self.waits < 0:
            raise ValueError("samples and max_new_tokens must be positive, waits non-negative")
        if self.think_budget is not None and self.think_budget < 1:
            raise ValueError(f"think_budget must be positive, got {self.think_budget}")
        load_scorer(self.scorer)  # fail before any generation

    @property
    def forced(self) -> bool:
        return self.think_budget is not None or self.waits > 0

    def name(self) -> str:
        parts = [self.prompt, f"k={self.samples}", f"T={self.temperature:g}"]
        if self.think_budget is not None:
            parts.append(f"budget={self.think_budget}")
        if self.waits:
            parts.append(f"waits={self.waits}")
        return " ".join(parts)


def load_scorer(spec: str) -> Callable:
    """A reward function from its registry name or ``module:function`` (``minireason.rewards.get_reward``)."""
    return get_reward(spec)


def prompt_text(tokenizer, row: dict, prompt: str, style: str | None = None) -> str:
    """The rendered prompt: the task's own chain-of-thought prompt in ``style`` (``chat`` or ``base``, as
    ``evaluate`` and the recipes render it), or the question with a direct-answer instruction."""
    if prompt == "cot":
        return render_prompt(tokenizer, row, style)
    task = task_from_row(row["task"], row["task_params"])
    content = f"{task.question(row)}\n{DIRECT_INSTRUCTION}"
    if (style or ("chat" if tokenizer.chat_template is not None else "base")) == "base":
        return content + "\n"
    return tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                         add_generation_prompt=True)


def budget_forced(complete: Callable, prompts: list[str], strategy: Strategy) -> list[tuple[str, int]]:
    """s1 budget forcing around any ``complete(prefixes, max_new_tokens, stop) -> [(text, tokens)]``.

    Thinking runs until the model closes it, ends, or spends ``think_budget`` tokens. If it
    closes or ends early and waits are left, the close is cut, "Wait," is appended, and it
    thinks on. Then "</think><answer>" is forced and ``answer_tokens`` more tokens give the
    answer. Token counts cover what the model generated, not the forced strings.
    """
    budget = strategy.think_budget or strategy.max_new_tokens
    texts, spent = [""] * len(prompts), [0] * len(prompts)
    waits_left, thinking = [strategy.waits] * len(prompts), list(range(len(prompts)))
    while thinking:
        still = []
        # One call per remaining budget, so that no sample can think past its own.
        for remaining in sorted({budget - spent[i] for i in thinking}):
            group = [i for i in thinking if budget - spent[i] == remaining]
            for i, (text, tokens) in zip(group, complete([prompts[i] + texts[i] for i in group], remaining,
                                                         [THINK_CLOSE])):
                spent[i] += tokens
                text = text.split(THINK_CLOSE)[0]
                if spent[i] < budget and waits_left[i] > 0:  # thinking ended early: think longer
                    waits_left[i] -= 1
                    texts[i] += text + WAIT
                    still.append(i)
                else:  # out of budget, or out of waits: force the answer
                    texts[i] += text + FORCE_ANSWER
        thinking = still
    answers = complete([p + t for p, t in zip(prompts, texts)], strategy.answer_tokens, ["</answer>"])
    results = []
    for text, (answer, tokens), used in zip(texts, answers, spent):
        answer = answer.split("</answer>")[0]
        results.append((f"{text}{answer}</answer>", used + tokens))
    return results


@dataclasses.dataclass
class ScalingResult:
    strategy: dict
    metrics: dict
    samples: list[dict]  # one per problem: its id and its k samples
    prompt_style: str  # chat or base: how the prompts were rendered


def evaluate_strategy(model, tokenizer, rows: list[dict], strategy: Strategy, batch_size: int = 16,
                      progress: bool = True, prompt_style: str | None = None) -> ScalingResult:
    """Sample ``strategy.samples`` completions per row, score them, and compute every metric."""
    if not rows:
        raise ValueError("evaluate_strategy needs at least one problem")
    started = time.perf_counter()
    k = strategy.samples
    prompt_style = prompt_style or ("chat" if tokenizer.chat_template is not None else "base")
    prompts = [prompt_text(tokenizer, row, strategy.prompt, prompt_style) for row in rows for _ in range(k)]

    def complete(prefixes, max_new_tokens, stop=None):
        return generate(model, tokenizer, prefixes, max_new_tokens, batch_size, strategy.temperature, progress, stop)

    outputs = budget_forced(complete, prompts, strategy) if strategy.forced else complete(prompts,
                                                                                        strategy.max_new_tokens)
    scorer = load_scorer(strategy.scorer)
    problems = []
    for p, row in enumerate(rows):
        task = task_from_row(row["task"], row["task_params"])
        texts = [text for text, _ in outputs[p * k : (p + 1) * k]]
        columns = {key: [value] * k for key, value in row.items() if key not in ("prompt",)}
        scores = scorer(texts, prompts=[prompts[p * k]] * k, **columns)
        problems.append({"id": row["id"], "samples": [
            {**judge(row, prompts[p * k], text, tokens), "answer": task.vote_key(text, row), "score": float(score),
             "reflects": bool(reflection_reward([text])[0])}
            for (text, tokens), score in zip(outputs[p * k : (p + 1) * k], scores)]})
    metrics = summarise(problems, k)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    return ScalingResult(dataclasses.asdict(strategy), metrics, problems, prompt_style)


def summarise(problems: list[dict], k: int) -> dict:
    """Accuracy metrics at k = 1, 2, 4, … up to the samples per problem, and the compute spent."""
    ks = sorted({2**i for i in range(k.bit_length()) if 2**i <= k} | {k})
    n_problems = len(problems)
    every = [s for p in problems for s in p["samples"]]
    metrics = {"problems": n_problems, "samples_per_problem": k,
               "pass@1": sum(s["correct"] for s in every) / len(every)}
    for j in ks:
        metrics[f"pass@{j}"] = sum(pass_at_k(k, sum(s["correct"] for s in p["samples"]), j) for p in problems) / n_problems
        metrics[f"maj@{j}"] = sum(_voted_correct(p["samples"][:j]) for p in problems) / n_problems
    metrics[f"best_of_{k}"] = sum(p["samples"][best_of_n([s["score"] for s in p["samples"]])]["correct"]
                                  for p in problems) / n_problems
    metrics[f"weighted_best_of_{k}"] = sum(
        _voted_correct(p["samples"], weights=[s["score"] for s in p["samples"]]) for p in problems) / n_problems
    metrics["format_rate"] = sum(s["well_formed"] for s in every) / len(every)
    metrics["reflection_rate"] = sum(s["reflects"] for s in every) / len(every)
    metrics["mean_tokens"] = sum(s["tokens"] for s in every) / len(every)
    metrics["tokens_per_problem"] = metrics["mean_tokens"] * k
    return metrics


def _voted_correct(samples: list[dict], weights: list[float] | None = None) -> bool:
    answer = majority_answer([s["answer"] for s in samples], weights)
    return answer is not None and any(s["correct"] for s in samples if s["answer"] == answer)


# -- reports ------------------------------------------------------------------------------------

def save_run(result: ScalingResult, out: str | Path, label: str, config: dict) -> Path:
    """``out/eval.json`` (label, config, strategy, metrics) and ``out/samples.jsonl`` (every sample)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps({"label": label, "config": config, "strategy": result.strategy,
                                               "metrics": result.metrics}, indent=2) + "\n")
    with open(out / "samples.jsonl", "w", encoding="utf-8") as handle:
        for problem in result.samples:
            handle.write(json.dumps(problem, ensure_ascii=False) + "\n")
    return out / "eval.json"


def load_runs(paths: list[str | Path]) -> list[dict]:
    """Saved runs from their folders (or eval.json files)."""
    runs = []
    for path in paths:
        path = Path(path)
        file = path / "eval.json" if path.is_dir() else path
        if not file.exists():
            raise FileNotFoundError(f"{path}: no eval.json (write one with `minireason eval … --out {path}`)")
        runs.append(json.loads(file.read_text()))
    return runs


_COLUMNS = ("k", "pass@1", "pass@k", "maj@k", "best-of-k", "weighted best-of-k", "format", "reflection",
            "tokens/sample", "tokens/problem")


def _cells(run: dict) -> list[str]:
    """One run's row: each at the run's own k."""
    metrics = run["metrics"]
    k = metrics["samples_per_problem"]
    shares = [metrics["pass@1"], metrics[f"pass@{k}"], metrics[f"maj@{k}"], metrics[f"best_of_{k}"],
              metrics[f"weighted_best_of_{k}"], metrics["format_rate"], metrics["reflection_rate"]]
    return [str(k), *(f"{x:.1%}" for x in shares), f"{metrics['mean_tokens']:.0f}",
            f"{metrics['tokens_per_problem']:.0f}"]


def comparison_table(runs: list[dict]):
    """A rich table: one row per run, accuracy next to the tokens spent."""
    from rich.table import Table

    table = Table(title="accuracy vs compute")
    table.add_column("run")
    table.add_column("strategy")
    for column in _COLUMNS:
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(run["label"], Strategy(**run["strategy"]).name(), *_cells(run))
    return table


def runs_markdown(runs: list[dict]) -> str:
    """The same comparison as Markdown, for docs and reports."""
    rows = [[run["label"], Strategy(**run["strategy"]).name(), *_cells(run)] for run in runs]
    return markdown_table(["run", "strategy", *_COLUMNS], rows, numeric=[False, False] + [True] * len(_COLUMNS))


def plot_runs(runs: list[dict], path: str | Path) -> None:
    """Two panels: accuracy vs k (pass@k solid, maj@k dashed) and maj@k vs tokens spent per problem."""
    from matplotlib.figure import Figure  # no pyplot: a notebook's or a desktop's backend is left alone

    figure = Figure(figsize=(11, 4))
    by_k, by_tokens = figure.subplots(1, 2)
    for run in runs:
        metrics, label = run["metrics"], run["label"]
        ks = sorted(int(key[5:]) for key in metrics if key.startswith("pass@"))
        line, = by_k.plot(ks, [metrics[f"pass@{j}"] for j in ks], marker="o", label=f"{label} pass@k")
        by_k.plot(ks, [metrics[f"maj@{j}"] for j in ks], marker="s", linestyle="--", color=line.get_color(),
                  label=f"{label} maj@k")
        by_tokens.plot([metrics["mean_tokens"] * j for j in ks], [metrics[f"maj@{j}"] for j in ks], marker="s",
                       color=line.get_color(), label=label)
    by_k.set(xscale="log", xlabel="samples per problem (k)", ylabel="accuracy", title="accuracy vs k")
    by_tokens.set(xscale="log", xlabel="tokens spent per problem", ylabel="maj@k accuracy",
                  title="accuracy vs compute")
    for axes in (by_k, by_tokens):
        axes.set_ylim(0, 1)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def log_to_wandb(runs: list[dict], project: str, samples: list[dict] | None = None) -> None:
    """One W&B run: each run's metrics as a table row, plus sample completions when given."""
    import wandb

    from minireason.tracking import configure_wandb

    configure_wandb(project)
    keys = sorted({key for run in runs for key in run["metrics"]})
    table = wandb.Table(columns=["run", "strategy", *keys],
                        data=[[run["label"], Strategy(**run["strategy"]).name(),
                               *[run["metrics"].get(key) for key in keys]] for run in runs])
    run = wandb.init(project=project, job_type="eval", config={"runs": [r["label"] for r in runs]})
    logged = {"eval/comparison": table}
    if samples:
        logged["eval/samples"] = wandb.Table(
            columns=["id", "completion", "correct", "answer", "tokens"],
            data=[[p["id"], s["completion"], s["correct"], s["answer"], s["tokens"]]
                  for p in samples[:20] for s in p["samples"][:4]])
    if len(runs) == 1:  # one run: its metrics as plain numbers too, in the history and the summary
        metrics = {f"eval/{k}": v for k, v in runs[0]["metrics"].items()}
        logged.update(metrics)
        run.summary.update(metrics)
    run.log(logged)
    run.finish()
