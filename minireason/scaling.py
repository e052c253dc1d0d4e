"""Inference-time scaling: spend more compute per problem, and measure what it buys.

A ``Strategy`` says how to spend it: the prompt (chain-of-thought or direct answer), how
many samples per problem (for pass@k, majority voting and best-of-N), s1's budget
forcing (cap the thinking at N tokens then force the answer, or suppress the end of
thinking and append "Wait" to think longer), or beam search over reasoning steps ranked by a
step-level reward (``minireason.search``). ``evaluate_strategy`` samples, scores every
sample with the task's verifier, and reports accuracy next to the tokens spent, each
accuracy with a 95% bootstrap interval over problems (``ci95``):

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

import codecs
import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

from minireason.answer_format import ANSWER_OPEN, DIRECT_INSTRUCTION, THINK_CLOSE
from minireason.evaluation import generate, judge
from minireason.metrics import best_of_n, majority_answer, pass_at_k
from minireason.rewards import get_reward, reflection_reward
from minireason.search import beam_search
from minireason.stats import bootstrap_interval, mcnemar_exact, paired_bootstrap
from minireason.tables import markdown_table
from minireason.tasks import render_prompt, task_from_row

FORCE_ANSWER = f"\n{THINK_CLOSE}\n{ANSWER_OPEN}"
WAIT = "\nWait,"


@dataclasses.dataclass
class Strategy:
    """How to spend inference compute on each problem."""

    prompt: str = dataclasses.field(default="cot", metadata={
        "help": "cot (reason inside <think>, the tasks' own prompt) or direct (answer only, no reasoning)."})
    # k = 8: enough for pass@k and maj@k to differ from pass@1; set 1 (and temperature 0) for plain greedy.
    samples: int = dataclasses.field(default=8, metadata={
        "help": "Samples per problem (k for pass@k and maj@k); with --search beam, the beams kept."})
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
    search: str = dataclasses.field(default="sample", metadata={
        "help": "sample (k independent samples) or beam (beam search over reasoning steps, ranked by "
                "--step-scorer; the k beams kept are the samples)."})
    # 4 next steps per kept beam: search-and-learn's usual width; with --samples 4, 16 candidates a step.
    beam_width: int = dataclasses.field(default=4, metadata={"help": "Beam search: next steps tried per kept beam."})
    step_scorer: str = dataclasses.field(default="step", metadata={
        "help": "Beam search: the reward that ranks partial traces: step (the task's check of each claimed "
                "step), any reward name, or module:function."})
    # A step ends at a line or a sentence: the traces of the kit's tasks put one step on each.
    step_end: list[str] = dataclasses.field(default_factory=lambda: ["\n", ". "], metadata={
        "help": "Beam search: strings that end a step."})
    step_tokens: int = dataclasses.field(default=48, metadata={"help": "Beam search: token limit per step."})
    sample_seed: int | None = dataclasses.field(default=None, metadata={
        "help": "Sampling seed (torch): the same seed draws the same samples. Unset: not seeded."})

    def __post_init__(self):
        if self.prompt not in ("cot", "direct"):
            raise ValueError(f"prompt must be cot or direct, got {self.prompt!r}")
        if self.samples < 1 or self.max_new_tokens < 1 or self.waits < 0:
            raise ValueError("samples and max_new_tokens must be positive, waits non-negative")
        if self.think_budget is not None and self.think_budget < 1:
            raise ValueError(f"think_budget must be positive, got {self.think_budget}")
        # From a shell, "\\n" arrives as a backslash and an n: read escapes as Python would.
        self.step_end = [codecs.decode(end, "unicode_escape") if "\\" in end else end for end in self.step_end]
        if self.search not in ("sample", "beam"):
            raise ValueError(f"search must be sample or beam, got {self.search!r}")
        if self.search == "beam":
            if self.forced:
                raise ValueError("beam search and budget forcing do not combine: choose one")
            if self.beam_width < 1 or self.step_tokens < 1 or not self.step_end:
                raise ValueError("beam search needs beam_width and step_tokens positive and at least one step_end")
            load_scorer(self.step_scorer)
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
        if self.search == "beam":
            parts.append(f"beam width={self.beam_width} by {self.step_scorer}")
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

    def scores(scorer: Callable, p: int, texts: list[str]) -> list[float]:
        """``scorer`` (TRL's reward signature) on problem ``p``'s texts, with the row's columns."""
        columns = {key: [value] * len(texts) for key, value in rows[p].items() if key != "prompt"}
        return scorer(texts, prompts=[prompts[p * k]] * len(texts), **columns)

    if strategy.sample_seed is not None:
        import torch

        torch.manual_seed(strategy.sample_seed)
    spent = None
    if strategy.search == "beam":
        step_scorer = load_scorer(strategy.step_scorer)
        found, spent = beam_search(complete, prompts[::k], lambda p, texts: scores(step_scorer, p, texts), k,
                                   strategy.beam_width, strategy.max_new_tokens, strategy.step_tokens,
                                   tuple(strategy.step_end))
        outputs = [sample for samples in found for sample in samples]
    elif strategy.forced:
        outputs = budget_forced(complete, prompts, strategy)
    else:
        outputs = complete(prompts, strategy.max_new_tokens)
    scorer = load_scorer(strategy.scorer)
    problems = []
    for p, row in enumerate(rows):
        task = task_from_row(row["task"], row["task_params"])
        texts = [text for text, _ in outputs[p * k : (p + 1) * k]]
        problems.append({"id": row["id"], "samples": [
            {**judge(row, prompts[p * k], text, tokens), "answer": task.vote_key(text, row), "score": float(score),
             "reflects": bool(reflection_reward([text])[0])}
            for (text, tokens), score in zip(outputs[p * k : (p + 1) * k], scores(scorer, p, texts))]})
        if spent is not None:  # a search's pruned branches cost tokens too
            problems[-1]["tokens_spent"] = spent[p]
    metrics = summarise(problems, k)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    return ScalingResult(dataclasses.asdict(strategy), metrics, problems, prompt_style)


# The accuracy figures that get a 95% interval over problems (bootstrap), beside every pass@j and maj@j.
_INTERVAL_KEYS = ("pass@", "maj@", "best_of_", "weighted_best_of_", "format_rate")


def per_problem_figures(problems: list[dict], k: int) -> dict[str, list[float]]:
    """Each metric's value on each problem; a metric over the run is the mean of its list.

    pass@j and maj@j for j = 1, 2, 4, … up to ``k``; best-of-k and weighted best-of-k by the samples'
    scores; format and reflection rates; tokens per sample and per problem. ``tokens_spent``, where a
    search recorded it, counts the tokens of branches it pruned too.
    """
    ks = sorted({2**i for i in range(k.bit_length()) if 2**i <= k} | {k})
    shares = lambda key: [sum(s[key] for s in p["samples"]) / len(p["samples"]) for p in problems]  # noqa: E731
    figures = {"pass@1": shares("correct")}
    for j in ks:
        figures[f"pass@{j}"] = [pass_at_k(k, sum(s["correct"] for s in p["samples"]), j) for p in problems]
        figures[f"maj@{j}"] = [float(_voted_correct(p["samples"][:j])) for p in problems]
    figures[f"best_of_{k}"] = [float(p["samples"][best_of_n([s["score"] for s in p["samples"]])]["correct"])
                               for p in problems]
    figures[f"weighted_best_of_{k}"] = [float(_voted_correct(p["samples"], weights=[s["score"] for s in p["samples"]]))
                                        for p in problems]
    figures["format_rate"] = shares("well_formed")
    figures["reflection_rate"] = shares("reflects")
    figures["mean_tokens"] = shares("tokens")
    figures["tokens_per_problem"] = [p.get("tokens_spent", sum(s["tokens"] for s in p["samples"])) for p in problems]
    return figures


def summarise(problems: list[dict], k: int) -> dict:
    """Every metric of ``per_problem_figures`` over the problems, and under ``ci95`` a 95% bootstrap interval
    over problems for each accuracy figure (2,000 resamples: the bounds move by well under a point)."""
    figures = per_problem_figures(problems, k)
    metrics = {"problems": len(problems), "samples_per_problem": k}
    metrics.update({name: sum(values) / len(values) for name, values in figures.items()})
    metrics["ci95"] = {}
    for name, values in figures.items():
        if name.startswith(_INTERVAL_KEYS):
            interval = bootstrap_interval(values, resamples=2000)
            metrics["ci95"][name] = [interval["low"], interval["high"]]
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
        run = json.loads(file.read_text())
        if (file.parent / "samples.jsonl").exists():  # per problem: what paired comparisons need
            run["problems"] = [json.loads(line) for line in (file.parent / "samples.jsonl").read_text(
                encoding="utf-8").splitlines() if line.strip()]
        runs.append(run)
    return runs


def paired_difference(baseline: dict, other: dict) -> dict | None:
    """``other - baseline`` on the problems both answered (matched by id), or None when they share none.

    Two figures, each a paired bootstrap over problems: pass@1 (each problem's share of right samples) and
    maj@j at the smaller of the two runs' k (greedy correctness when both have one sample). On the maj@j
    right/wrong outcomes, McNemar's exact test gives ``p_value``, with the problems ``gained`` and ``lost``.
    """
    if "problems" not in baseline or "problems" not in other:
        return None
    mine = {problem["id"]: problem for problem in other["problems"]}
    shared = [(problem, mine[problem["id"]]) for problem in baseline["problems"] if problem["id"] in mine]
    if not shared:
        return None
    j = min(len(shared[0][0]["samples"]), len(shared[0][1]["samples"]))
    before = [(sum(s["correct"] for s in a["samples"]) / len(a["samples"]), _voted_correct(a["samples"][:j]))
              for a, _ in shared]
    after = [(sum(s["correct"] for s in b["samples"]) / len(b["samples"]), _voted_correct(b["samples"][:j]))
             for _, b in shared]
    pass1 = paired_bootstrap([x for x, _ in before], [x for x, _ in after], resamples=2000)
    voted = paired_bootstrap([float(v) for _, v in before], [float(v) for _, v in after], resamples=2000)
    return {"problems": len(shared), "k": j, "pass@1": pass1, f"maj@{j}": voted,
            **mcnemar_exact([v for _, v in before], [v for _, v in after])}


def paired_markdown(runs: list[dict]) -> str:
    """Each run against the first, on the problems they share: the paired table of ``minireason compare``."""
    rows = []
    for run in runs[1:]:
        diff = paired_difference(runs[0], run)
        if diff is None:
            rows.append([run["label"], runs[0]["label"], "0", "no shared problems", "", "", ""])
            continue
        voted = diff[f"maj@{diff['k']}"]
        rows.append([run["label"], runs[0]["label"], str(diff["problems"]),
                     f"{diff['pass@1']['mean']:+.1%} ({diff['pass@1']['low']:+.1%} to {diff['pass@1']['high']:+.1%})",
                     f"maj@{diff['k']} {voted['mean']:+.1%} ({voted['low']:+.1%} to {voted['high']:+.1%})",
                     f"{diff['gained']} / {diff['lost']}", f"{diff['p_value']:.3g}"])
    return markdown_table(["run", "vs", "problems", "Δ pass@1 (95% CI)", "Δ majority vote (95% CI)",
                           "gained / lost", "p (exact McNemar)"], rows,
                          numeric=[False, False, True, True, True, True, True])


_COLUMNS = ("k", "pass@1", "pass@k", "maj@k", "best-of-k", "weighted best-of-k", "format", "reflection",
            "tokens/sample", "tokens/problem")


def share_with_interval(metrics: dict, key: str) -> str:
    """``45.3% (38.1-52.0)``: a share and its 95% interval over problems, where the run recorded one."""
    interval = metrics.get("ci95", {}).get(key)
    text = f"{metrics[key]:.1%}"
    return f"{text} ({interval[0]:.1%}-{interval[1]:.1%})" if interval else text


def _cells(run: dict) -> list[str]:
    """One run's row: each at the run's own k."""
    metrics = run["metrics"]
    k = metrics["samples_per_problem"]
    keys = ["pass@1", f"pass@{k}", f"maj@{k}", f"best_of_{k}", f"weighted_best_of_{k}", "format_rate"]
    return [str(k), *(share_with_interval(metrics, key) for key in keys), f"{metrics['reflection_rate']:.1%}",
            f"{metrics['mean_tokens']:.0f}", f"{metrics['tokens_per_problem']:.0f}"]


def comparison_table(runs: list[dict]):
    """A rich table: one row per run, accuracy next to the tokens spent."""
    from rich.table import Table

    table = Table(title="accuracy vs compute (95% intervals over problems)")
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
        intervals = metrics.get("ci95", {})
        if all(f"pass@{j}" in intervals for j in ks):  # shaded: the 95% interval over problems
            by_k.fill_between(ks, *zip(*(intervals[f"pass@{j}"] for j in ks)), color=line.get_color(), alpha=0.15)
        spent = metrics["tokens_per_problem"] / metrics["samples_per_problem"]  # a search's pruned steps included
        by_tokens.plot([spent * j for j in ks], [metrics[f"maj@{j}"] for j in ks], marker="s",
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

    from minireason.tracking import configure_wandb, flat_figures

    configure_wandb(project)
    keys = sorted({key for run in runs for key in flat_figures(run["metrics"])})
    table = wandb.Table(columns=["run", "strategy", *keys],
                        data=[[run["label"], Strategy(**run["strategy"]).name(),
                               *[flat_figures(run["metrics"]).get(key) for key in keys]] for run in runs])
    run = wandb.init(project=project, job_type="eval", config={"runs": [r["label"] for r in runs]})
    logged = {"eval/comparison": table}
    if samples:
        logged["eval/samples"] = wandb.Table(
            columns=["id", "completion", "correct", "answer", "tokens"],
            data=[[p["id"], s["completion"], s["correct"], s["answer"], s["tokens"]]
                  for p in samples[:20] for s in p["samples"][:4]])
    if len(runs) == 1:  # one run: its metrics as plain numbers too (intervals as _low/_high), history and summary
        metrics = {f"eval/{k}": v for k, v in flat_figures(runs[0]["metrics"]).items()}
        logged.update(metrics)
        run.summary.update(metrics)
    run.log(logged)
    run.finish()
