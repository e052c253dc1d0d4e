"""Batched generation and scoring of a model on task rows: the kit's basic yardstick.

``evaluate`` reports accuracy (share of completions the verifier accepts), format rate
(share well formed), and mean completion length in tokens, plus every sample.
"""

from __future__ import annotations

import dataclasses
import time

from minireason.rewards import is_well_formed, with_prefilled_think
from minireason.tasks import task_from_row


@dataclasses.dataclass
class EvalResult:
    accuracy: float
    format_rate: float
    mean_tokens: float
    seconds: float
    samples: list[dict]

    def summary(self) -> dict:
        return {"accuracy": self.accuracy, "format_rate": self.format_rate, "mean_tokens": self.mean_tokens,
                "n": len(self.samples), "seconds": round(self.seconds, 1)}


def render_prompt(tokenizer, row: dict, chat: bool | None = None) -> str:
    """The row's chat prompt through the model's chat template, or its base-model prompt."""
    if chat is None:
        chat = tokenizer.chat_template is not None
    if chat:
        return tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    return row["prompt_base"]


def generate(model, tokenizer, prompts: list[str], max_new_tokens: int = 256, batch_size: int = 16,
             temperature: float = 0.0, progress: bool = True, stop: list[str] | None = None) -> list[tuple[str, int]]:
    """``(text, n_tokens)`` per prompt; greedy when ``temperature`` is 0.

    ``stop``: strings that end a sequence early (the text may run a few characters past one, up
    to the end of the token that completed it).
    """
    import torch
    from tqdm.auto import tqdm

    outputs: list[tuple[str, int]] = []
    sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    if stop:
        sampling.update(stop_strings=stop, tokenizer=tokenizer)
    model.eval()
    batches = range(0, len(prompts), batch_size)
    for start in tqdm(batches, desc="generating", unit="batch", disable=not progress):
        batch = prompts[start : start + batch_size]
        encoded = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.no_grad():
            generated = model.generate(**encoded, max_new_tokens=max_new_tokens,
                                       pad_token_id=tokenizer.pad_token_id, **sampling)
        for ids in generated[:, encoded["input_ids"].shape[1] :]:
            ids = ids.tolist()
            n_tokens = next((i + 1 for i, t in enumerate(ids) if t in (tokenizer.eos_token_id, tokenizer.pad_token_id)),
                            len(ids))
            outputs.append((tokenizer.decode(ids[:n_tokens], skip_special_tokens=True), n_tokens))
    return outputs


def evaluate(model, tokenizer, rows: list[dict], max_new_tokens: int = 256, batch_size: int = 16,
             temperature: float = 0.0, chat: bool | None = None, progress: bool = True) -> EvalResult:
    """Generate one completion per row and score it with the row's own task verifier."""
    if not rows:
        raise ValueError("evaluate needs at least one row")
    started = time.perf_counter()
    prompts = [render_prompt(tokenizer, row, chat) for row in rows]
    completions = generate(model, tokenizer, prompts, max_new_tokens, batch_size, temperature, progress)
    samples = []
    for row, prompt, (text, n_tokens) in zip(rows, prompts, completions):
        task = task_from_row(row["task"], row.get("task_params", ""))
        samples.append({
            "id": row.get("id"), "completion": text, "tokens": n_tokens,
            "correct": task.is_correct(text, row),
            "well_formed": is_well_formed(with_prefilled_think(text, prompt)),
        })
    n = len(samples)
    return EvalResult(
        accuracy=sum(s["correct"] for s in samples) / n,
        format_rate=sum(s["well_formed"] for s in samples) / n,
        mean_tokens=sum(s["tokens"] for s in samples) / n,
        seconds=time.perf_counter() - started,
        samples=samples,
    )
