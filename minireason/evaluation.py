"""What every evaluation is made of: batched generation (``generate``), one sample scored (``judge``), and the
result (``Evaluation``).

The one evaluator is ``scaling.evaluate_strategy``; ``scaling.evaluate``, how a stage scores itself, is its greedy
one-sample case. Both return an ``Evaluation``, which ``reports.evals.save_run`` writes.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from minireason.answer_format import is_well_formed, with_prefilled_think
from minireason.sampling import eos_token_ids, sample_ids
from minireason.tasks import task_from_row

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclasses.dataclass
class Evaluation:
    """One evaluation, as every evaluation in the kit returns it and ``reports.evals.save_run`` writes it (eval.json
    and samples.jsonl): how it was run, its figures (``scaling.summarise``), and every sample, grouped by problem."""

    strategy: dict
    metrics: dict
    problems: list[dict]  # one per problem: its id and its k samples
    prompt_style: str  # chat or base: how the prompts were rendered

    @property
    def accuracy(self) -> float:
        """pass@1: the share of samples the verifier accepts."""
        return self.metrics["pass@1"]

    @property
    def format_rate(self) -> float:
        return self.metrics["format_rate"]

    @property
    def seconds(self) -> float:
        return self.metrics["seconds"]


def first_samples(problems: list[dict]) -> list[dict]:
    """Each problem's first sample, with the problem's id: a greedy evaluation's answers, one per problem.

    >>> first_samples([{"id": 7, "samples": [{"correct": True}, {"correct": False}]}])
    [{'id': 7, 'correct': True}]
    """
    return [{"id": problem["id"], **problem["samples"][0]} for problem in problems]


def generate(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str],
             max_new_tokens: int = 256, batch_size: int = 64, temperature: float = 0.0, progress: bool = True,
             stop: list[str] | None = None, merge_lora: bool = True) -> list[tuple[str, int]]:
    """``(text, n_tokens)`` per prompt; greedy when ``temperature`` is 0.

    ``stop``: strings that end a sequence (the text ends with the token that completed one).
    Batches of 64 are what a CPU runs best (SmolLM2-135M: ~2x the tokens/s of batches of 8).
    ``merge_lora=False`` leaves a training model's weights bit-identical (``sampling.inference_mode``).
    """
    from tqdm.auto import tqdm

    outputs: list[tuple[str, int]] = []
    batches = range(0, len(prompts), batch_size)
    for start in tqdm(batches, desc="generating", unit="batch", disable=not progress):
        prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts[start : start + batch_size]]
        for ids in sample_ids(model, prompt_ids, max_new_tokens, temperature, tokenizer.pad_token_id,
                              eos_token_ids(model, tokenizer), tokenizer=tokenizer, stop=tuple(stop or ()),
                              merge_lora=merge_lora):
            outputs.append((tokenizer.decode(ids, skip_special_tokens=True), len(ids)))
    return outputs


def judge(row: dict, prompt: str, text: str, tokens: int) -> dict:
    """One sample, scored: the row's own verifier, and the format (reading the prompt, which may have opened
    ``<think>``). Every evaluation in the kit scores a sample here."""
    task = task_from_row(row["task"], row.get("task_params", ""))
    return {"completion": text, "tokens": tokens, "correct": task.is_correct(text, row),
            "well_formed": is_well_formed(with_prefilled_think(text, prompt))}


