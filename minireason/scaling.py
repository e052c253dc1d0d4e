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
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from minireason.answer_format import ANSWER_CLOSE, ANSWER_OPEN, DIRECT_INSTRUCTION, THINK_CLOSE
from minireason.evaluation import Evaluation, generate, judge
from minireason.metrics import best_of_n, pass_at_k, voted_correct
from minireason.rewards import get_reward, reflection_reward
from minireason.search import beam_search
from minireason.stats import bootstrap_interval, wilson_interval
from minireason.tasks import render_prompt, task_from_row
from minireason.tasks.steps import step_measures

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

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
    # Unset by default: a model that never learned the format is judged on all it writes. The training stages
    # stop at </answer>, as GRPO's rollouts do.
    stop: list[str] = dataclasses.field(default_factory=list, metadata={
        "help": "Plain sampling: strings that end a sample (e.g. '</answer>')."})

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
        if self.stop and (self.forced or self.search == "beam"):
            raise ValueError("stop applies to plain sampling: budget forcing and beam search place their own")
        if self.search == "beam":
            if self.forced:
                raise ValueError("beam search and budget forcing do not combine: choose one")
            if self.beam_width < 1 or self.step_tokens < 1 or not self.step_end:
                raise ValueError("beam search needs beam_width and step_tokens positive and at least one step_end")
            get_reward(self.step_scorer)
        get_reward(self.scorer)  # fail before any generation

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
        if self.stop:
            parts.append(f"stop={'|'.join(self.stop)}")
        return " ".join(parts)


def prompt_text(tokenizer: PreTrainedTokenizerBase, row: dict, prompt: str, style: str | None = None) -> str:
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


def evaluate_strategy(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rows: list[dict],
                      strategy: Strategy, batch_size: int = 16, progress: bool = True,
                      prompt_style: str | None = None, merge_lora: bool = True) -> Evaluation:
    """Sample ``strategy.samples`` completions per row, score them, and compute every metric. ``merge_lora=False``
    leaves a training model's weights bit-identical (``sampling.inference_mode``)."""
    if not rows:
        raise ValueError("evaluate_strategy needs at least one problem")
    started = time.perf_counter()
    k = strategy.samples
    prompt_style = prompt_style or ("chat" if tokenizer.chat_template is not None else "base")
    prompts = [prompt_text(tokenizer, row, strategy.prompt, prompt_style) for row in rows for _ in range(k)]

    def complete(prefixes: list[str], max_new_tokens: int, stop: list[str] | None = None):
        return generate(model, tokenizer, prefixes, max_new_tokens, batch_size, strategy.temperature, progress, stop,
                        merge_lora)

    def scores(scorer: Callable, p: int, texts: list[str]) -> list[float]:
        """``scorer`` (TRL's reward signature) on problem ``p``'s texts, with the row's columns."""
        columns = {key: [value] * len(texts) for key, value in rows[p].items() if key != "prompt"}
        return scorer(texts, prompts=[prompts[p * k]] * len(texts), **columns)

    if strategy.sample_seed is not None:
        import torch

        torch.manual_seed(strategy.sample_seed)
    spent = None
    if strategy.search == "beam":
        step_scorer = get_reward(strategy.step_scorer)
        found, spent = beam_search(complete, prompts[::k], lambda p, texts: scores(step_scorer, p, texts), k,
                                   strategy.beam_width, strategy.max_new_tokens, strategy.step_tokens,
                                   tuple(strategy.step_end))
        outputs = [sample for samples in found for sample in samples]
    elif strategy.forced:
        outputs = budget_forced(complete, prompts, strategy)
    else:
        outputs = complete(prompts, strategy.max_new_tokens, strategy.stop or None)
    scorer = get_reward(strategy.scorer)
    problems = []
    for p, row in enumerate(rows):
        task = task_from_row(row["task"], row.get("task_params", ""))
        texts = [text for text, _ in outputs[p * k : (p + 1) * k]]
        problems.append({"id": row.get("id"), "samples": [
            {**judge(row, prompts[p * k], text, tokens), "answer": task.vote_key(text, row), "score": float(score),
             "reflects": bool(reflection_reward([text])[0])}
            for (text, tokens), score in zip(outputs[p * k : (p + 1) * k], scores(scorer, p, texts))]})
        if spent is not None:  # a search's pruned branches cost tokens too
            problems[-1]["tokens_spent"] = spent[p]
    metrics = summarise(problems, k)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    return Evaluation(dataclasses.asdict(strategy), metrics, problems, prompt_style)

def evaluate(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rows: list[dict], max_new_tokens: int = 256,
             batch_size: int = 64, temperature: float = 0.0, prompt_style: str | None = None, progress: bool = True,
             merge_lora: bool = True) -> Evaluation:
    """One completion per row (greedy unless ``temperature``), scored by the row's verifier: ``evaluate_strategy``'s
    one-sample case, as a training stage scores itself.

    Completions end at ``</answer>`` as GRPO's rollouts do, so a model is judged on what it was trained to write.
    """
    strategy = Strategy(samples=1, temperature=temperature, max_new_tokens=max_new_tokens, stop=[ANSWER_CLOSE])
    return evaluate_strategy(model, tokenizer, rows, strategy, batch_size, progress, prompt_style, merge_lora)


# The accuracy figures that get a 95% interval over problems (``summarise``), beside every pass@j and maj@j.
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
        figures[f"maj@{j}"] = [float(voted_correct(p["samples"][:j])) for p in problems]
    figures[f"best_of_{k}"] = [float(p["samples"][best_of_n([s["score"] for s in p["samples"]])]["correct"])
                               for p in problems]
    figures[f"weighted_best_of_{k}"] = [float(voted_correct(p["samples"], weights=[s["score"] for s in p["samples"]]))
                                        for p in problems]
    figures["format_rate"] = shares("well_formed")
    figures["reflection_rate"] = shares("reflects")
    figures["mean_tokens"] = shares("tokens")
    figures["tokens_per_problem"] = [p.get("tokens_spent", sum(s["tokens"] for s in p["samples"])) for p in problems]
    return figures


def summarise(problems: list[dict], k: int) -> dict:
    """Every metric of ``per_problem_figures`` over the problems, and under ``ci95`` a 95% interval over problems
    for each accuracy figure; under ``steps``, where the answers write their arithmetic, how their steps went
    (``tasks.steps.step_measures``, pooled over every sample).

    With one sample per problem each figure is a count of problems out of n, and its interval is Wilson's: it stays
    honest at 0% and 100%, where a bootstrap shrinks to a point. With more, a problem's figure can be a fraction,
    and the interval is a bootstrap over problems (2,000 resamples: the bounds move by well under a point).

    >>> metrics = summarise([{"id": 0, "samples": [{"completion": "<think>1 + 1 = 3.</think><answer>3</answer>",
    ...     "correct": False, "well_formed": True, "tokens": 9, "score": 0.0, "answer": "3", "reflects": False}]}], 1)
    >>> metrics["ci95"]["pass@1"], metrics["steps"]["step_accuracy"]
    ([0.0, 0.7934506856227626], 0.0)
    """
    figures = per_problem_figures(problems, k)
    metrics = {"problems": len(problems), "samples_per_problem": k}
    metrics.update({name: sum(values) / len(values) for name, values in figures.items()})
    metrics["ci95"] = {}
    for name, values in figures.items():
        if not name.startswith(_INTERVAL_KEYS):
            continue
        if k == 1:
            metrics["ci95"][name] = list(wilson_interval(round(sum(values)), len(values)))
        else:
            interval = bootstrap_interval(values, resamples=2000)
            metrics["ci95"][name] = [interval["low"], interval["high"]]
    steps = step_measures([sample for problem in problems for sample in problem["samples"]])
    if steps["counts"]["steps"]:
        metrics["steps"] = steps
    return metrics


