"""What every evaluation is made of: batched generation (``generate``), one sample scored (``judge``), and a
training stage's result (``EvalResult``: accuracy, the share of completions the verifier accepts, with its Wilson
interval; format rate, the share well formed; mean completion length in tokens; every sample).

The one evaluator is ``scaling.evaluate_strategy``; ``scaling.evaluate``, how a stage scores itself, is its greedy
one-sample case.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from minireason.answer_format import is_well_formed, with_prefilled_think
from minireason.reports.samples import save_samples
from minireason.sampling import eos_token_ids, sample_ids
from minireason.stats import wilson_interval
from minireason.tasks import task_from_row

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclasses.dataclass
class EvalResult:
    accuracy: float
    format_rate: float
    mean_tokens: float
    seconds: float
    samples: list[dict]

    def summary(self) -> dict:
        """The figures, with the accuracy's 95% Wilson interval (``ci95``)."""
        figures = sample_figures(self.samples)
        return {**{key: figures[key] for key in ("accuracy", "ci95", "format_rate", "mean_tokens", "n")},
                "seconds": round(self.seconds, 1)}

    def save_samples(self, path: str | Path) -> None:
        """One JSON line per problem (``reports.samples``): its id, completion, token count, and whether it is
        correct and well formed."""
        save_samples(path, self.samples)


def sample_figures(samples: list[dict]) -> dict:
    """Accuracy and format rate of scored samples, each with its 95% Wilson interval, and their mean length.

    >>> sample_figures([{"correct": True, "well_formed": True, "tokens": 4},
    ...                 {"correct": False, "well_formed": True, "tokens": 6}])["accuracy"]
    0.5
    """
    n = len(samples)
    correct, formed = sum(s["correct"] for s in samples), sum(s["well_formed"] for s in samples)
    return {"accuracy": correct / n, "ci95": list(wilson_interval(correct, n)), "format_rate": formed / n,
            "format_ci95": list(wilson_interval(formed, n)), "mean_tokens": sum(s["tokens"] for s in samples) / n,
            "n": n}


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


