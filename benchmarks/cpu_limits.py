"""This CPU's limits for the kit's CPU recipes, fp32 beside bf16, and the sampler against the bare forward pass.

Rows, each timed after a warm-up, on the embedded SmolLM2-135M with the recipes' LoRA adapter:

- a matmul of the decode's shape class (1024 x 576 x 2304), in GFLOP/s;
- prefill: 64 prompts of 48 tokens, tokens a second;
- decode: a bare loop of forward passes over a cache, greedy, at the demo's rollout batch (16: 4 prompts x 4
  completions) and at 64, against ``minireason.sampling.sample_ids`` decoding the same rows (its sampling and
  bookkeeping included): tokens a second from the extra time of 32 tokens over 8, so the prefill drops out;
- training: the forward and backward pass of 16 sequences of 64 tokens, tokens a second.

The decode rows use the task's own prompts, as the R1 arm asks them (the question alone, ~35 tokens). A second
table times the bf16 model's attention both ways, torch's bf16 kernel against the kit's choice on a CPU
(``hardware.attention_implementation``: fp32 copies of the queries, keys and values), on that prompt and on pure
RL's one-shot prompt, ~3 times longer: the attention's share grows with the keys it reads.

bf16 is a bf16 copy of the weights (the recipes' frozen base weights where the CPU has bf16 instructions) under
bf16 autocast; fp32 is the same model in fp32. Which the recipes use follows ``hardware.cpu_bf16_native``.

    python benchmarks/cpu_limits.py                # ~8 min on 2 cores
    python benchmarks/cpu_limits.py --model tiny   # seconds (tests/test_benchmarks.py)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from minireason.hardware import FP32_ATTENTION, cpu_bf16_native
from minireason.models import load_model
from minireason.reports.markdown import markdown_table
from minireason.sampling import inference_mode, last_position, sample_ids
from minireason.tasks import get_task, render_prompt

REPEATS = 2  # timings a figure, the best taken; main() sets it from --repeats


def timed(work, repeats: int | None = None) -> float:
    """The best of ``repeats`` (``REPEATS``) timings of ``work()``, after one run that warms caches up."""
    repeats = repeats or REPEATS
    work()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def matmul_gflops(dtype: torch.dtype) -> float:
    a, b = torch.randn(1024, 576, dtype=dtype), torch.randn(576, 2304, dtype=dtype)
    return 2 * 1024 * 576 * 2304 / timed(lambda: a @ b, repeats=20) / 1e9


def prefill_tok_s(model, rows: int = 64, length: int = 48) -> float:
    ids = torch.randint(100, 30000, (rows, length))
    with inference_mode(model):
        return rows * length / timed(lambda: model(input_ids=ids, use_cache=True,
                                                   logits_to_keep=last_position(length)))


def bare_decode(model, prompts: list[list[int]], tokens: int) -> None:
    """Prefill, then ``tokens`` forward passes over a cache, greedy: what a decode step costs with nothing around it."""
    width = max(map(len, prompts))
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    with inference_mode(model):
        out = model(input_ids=ids, use_cache=True, logits_to_keep=last_position(width))
        cache, token = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
        for _ in range(tokens - 1):
            token = model(input_ids=token, cache=cache, use_cache=True).logits[:, -1].argmax(-1, keepdim=True)


def decode_tok_s(generate, rows: int, short: int = 8, long: int = 32) -> float:
    """Decoded tokens a second, prefill left out: the rows' extra tokens over the extra time of a longer run."""
    return rows * (long - short) / (timed(lambda: generate(long)) - timed(lambda: generate(short)))


def train_tok_s(model, rows: int = 16, length: int = 64) -> float:
    ids = torch.randint(100, 30000, (rows, length))
    model.train()

    def step():
        model(input_ids=ids, labels=ids).loss.backward()
        model.zero_grad(set_to_none=True)

    half = model.get_input_embeddings().weight.dtype == torch.bfloat16
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=half):
        return rows * length / timed(step)


def main(argv: list[str] | None = None) -> dict[str, list[list]]:
    global REPEATS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m", help="smollm2-135m (embedded) or tiny (the tests)")
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help="timings a figure, the best taken: the decode rows vary by tens of percent from run to "
                             "run, and more repeats steady them")
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 64],
                        help="rollout batches to decode at: the demo's (4 prompts x 4 completions) and a larger one")
    args = parser.parse_args(argv)
    model_name, REPEATS = args.model, args.repeats
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown") if Path("/proc/cpuinfo").exists() else "unknown"
    print(f"CPU: {cpu}, {torch.get_num_threads()} threads, bf16 instructions: {cpu_bf16_native()}; "
          f"torch {torch.__version__}\n")
    rows = [["matmul 1024 x 576 x 2304, GFLOP/s", *(f"{matmul_gflops(d):.0f}" for d in (torch.float32,
                                                                                         torch.bfloat16))]]
    models = {precision: load_model(model_name, lora={"lora_dropout": 0.0}, precision=precision)
              for precision in ("fp32", "bf16")}
    tokenizer = models["fp32"][1]
    rows.append(["prefill 64 x 48 tokens, tok/s", *(f"{prefill_tok_s(m):.0f}" for m, _ in models.values())])
    prompts = {style: task_prompts(tokenizer, style) for style in ("base", "base_example")}
    for batch in args.batches:
        batch_ids = rollout_batch(prompts["base"], batch)
        bare = [decode_tok_s(lambda n, m=m, ids=batch_ids: bare_decode(m, ids, n), batch) for m, _ in models.values()]
        sampled = [sampler_tok_s(m, prompts["base"], batch, tokenizer.pad_token_id) for m, _ in models.values()]
        rows.append([f"decode, bare forward, batch {batch}, tok/s", *(f"{b:.0f}" for b in bare)])
        rows.append([f"decode, sample_ids, batch {batch}, tok/s (share of bare)",
                     *(f"{s:.0f} ({s / b:.0%})" for s, b in zip(sampled, bare))])
    rows.append(["training forward + backward, 16 x 64 tokens, tok/s",
                 *(f"{train_tok_s(m):.0f}" for m, _ in models.values())])
    print(markdown_table(["operation", "fp32", "bf16"], rows, numeric=[False, True, True]))
    attention = attention_rows(models["bf16"][0], prompts, tokenizer.pad_token_id, args.batches)
    print("\n" + markdown_table(["bf16 model, tok/s", "torch's bf16 attention", "attention on fp32 copies"],
                                 attention, numeric=[False, True, True]))
    return {"limits": rows, "attention": attention}


def task_prompts(tokenizer, style: str, distinct: int = 4) -> list[list[int]]:
    """The token ids of ``distinct`` held-out 2-digit additions in a prompt style, as the CPU recipes ask them."""
    rows = get_task("arithmetic", op="add", digits=2).split_rows(distinct, held_out=True)
    return [tokenizer(render_prompt(tokenizer, row, style), add_special_tokens=False)["input_ids"] for row in rows]


def rollout_batch(distinct: list[list[int]], batch: int) -> list[list[int]]:
    """A rollout batch: each prompt repeated for its group, as GRPO samples them."""
    return [distinct[i % len(distinct)] for i in range(batch)]


def sampler_tok_s(model, distinct: list[list[int]], batch: int, pad_token_id: int) -> float:
    return decode_tok_s(lambda n: sample_ids(model, rollout_batch(distinct, batch), n, 0.7, pad_token_id, [-1]), batch)


def attention_rows(model, prompts: dict[str, list[list[int]]], pad_token_id: int, batches: list[int]) -> list[list]:
    """The sampler's decode at each batch on each prompt, and training on the longer one, each timed with SDPA
    in bf16 and then at once with ``FP32_ATTENTION``, so that the two figures of a row are neighbours in time."""
    long = max(map(len, prompts["base_example"])) + 32  # the one-shot prompt and a completion, as pure RL trains
    work = {f"decode, sample_ids, batch {batch}, {style} prompt":
            lambda distinct=distinct, batch=batch: sampler_tok_s(model, distinct, batch, pad_token_id)
            for style, distinct in prompts.items() for batch in batches}
    work[f"training forward + backward, 16 x {long} tokens"] = lambda: train_tok_s(model, length=long)
    config = model.get_base_model().config
    rows = []
    for name, measure in work.items():
        figures = []
        for attention in ("sdpa", FP32_ATTENTION):
            config._attn_implementation = attention
            figures.append(f"{measure():.0f}")
        rows.append([name, *figures])
    return rows


if __name__ == "__main__":
    main()
