"""Every GPU recipe, 3 steps with its own settings on its model's real shapes (random weights, 4-bit where the
recipe says so): peak memory beside `minireason estimate`'s figure, seconds per step, and tokens per second. For a
GRPO recipe, also: a decoded token's time eager and as a CUDA graph beside the arithmetic's, whether both give the
same tokens, the sampler against transformers' `generate`, and the clipped ratio of rollouts that stopped at a stop
string (TRL counts a rollout without an end token as cut off).

    python benchmarks/gpu_recipes.py --check         # `make gpu-check`: the T4 recipe alone, fp16, 2 steps (< 8 min
                                                     # on a T4 by its arithmetic; not yet run on one)
    python benchmarks/gpu_recipes.py                 # on any CUDA machine; no download (weights are random)
    python benchmarks/gpu_recipes.py --size tiny     # the same path on a CPU, on the 2-layer test model
    python benchmarks/gpu_recipes.py --validate      # the estimator against this CPU: tiny and 135M, GRPO and SFT

On a GPU, memory is CUDA's own count (``max_memory_allocated``, ``max_memory_reserved``); on a CPU, the peak of
live tensor bytes. An H100 counts memory as a T4 does, so the memory columns transfer to the recipe's own
card; the speed columns do not. vLLM recipes run without vLLM here unless it is installed.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


from minireason.hardware import bf16_native
from minireason.memory import GIB, GPU_DTYPES_ON_CPU, card_of, estimate, measure, peak
from minireason.models import random_weights_model
from minireason.notebook import tiny_flags
from minireason.recipes import load_recipe
from minireason.recipes.catalog import describe, recipe_names
from minireason.reports.markdown import fill_section, markdown_table
from minireason.reports.training import step_meter

# What `make gpu-check` runs: the free-T4 recipe, in fp16 whatever the card, for few enough steps to fit 8 minutes.
CHECK, CHECK_STEPS = "qwen2.5-3b/grpo-countdown/t4-16gb", 2


def run(name: str, size: str, steps: int, models: Path) -> list[dict]:
    import torch

    stages = load_recipe(name)
    grpo = any(stage.method == "grpo" for stage in stages)
    out = Path(tempfile.mkdtemp(prefix="gpu-recipe-"))
    flags = ["--output_dir", str(out), "--max_steps", str(steps), "--save_strategy", "no", "--n_eval", "0",
             "--report_to", "none", "--include_num_input_tokens_seen", "true", "--logging_steps", "1"]
    if size == "tiny":
        flags = tiny_flags(grpo=grpo) + flags
    else:
        flags += ["--model", str(random_weights_model(stages[-1].model, models))]
    try:
        import vllm  # noqa: F401
    except ImportError:
        if any(getattr(stage, "use_vllm", False) for stage in stages):
            flags += ["--use_vllm", "false"]
    if card_of(name) == "T4 16 GB" and bf16_native():
        flags += ["--precision", "fp16"]  # what a T4 resolves to (fp16 autocast and loss scaling), on whatever card
    if any(getattr(stage, "dataset_path", None) and not Path(stage.dataset_path).exists() for stage in stages):
        flags += ["--dataset_path", _distilled(out / "data")]  # the recipe's data set is not built here
    rows = []
    card = card_of(name) if torch.cuda.is_available() else None  # None: this CPU, what the tiny size measures
    for stage in load_recipe(name, flags):
        if stage.adapter and not Path(stage.adapter).exists():
            continue  # sft-then-grpo's GRPO stage needs the SFT adapter: measured with the SFT stage's settings
        meters, trainers = [], []
        measured = measure(stage, prepare=lambda trainer, meters=meters, trainers=trainers: (
            meters.append(step_meter(trainer)), trainers.append(trainer)))
        timing = meters[0].summary()
        estimated = peak(estimate(stage, card))
        losses = [entry["loss"] for entry in trainers[0].state.log_history if "loss" in entry]
        rows.append({"recipe": name, "stage": stage.method, "precision": stage.precision, "estimate_gib": estimated / GIB,
                     "allocated_gib": measured["allocated"] / GIB, "reserved_gib": measured.get("reserved", 0) / GIB,
                     "error": estimated / measured["allocated"] - 1, "s_per_step": timing["s_per_step"],
                     "generation_tok_s": timing.get("generation_tok_s"), "train_tok_s": timing["train_tok_s"],
                     "losses_finite": bool(losses) and all(math.isfinite(loss) for loss in losses),
                     **(sampler_against_generate(trainers[0]) if stage.method == "grpo" else {}),
                     **(decode_speed(trainers[0], card) if stage.method == "grpo" else {}),
                     **(stopped_rollouts(trainers[0]) if stage.method == "grpo" else {})})
    return rows


def decode_speed(trainer, card: str | None, rows: int = 32, tokens: int = 32) -> dict:
    """A decoded token's time for ``rows`` rollouts, eager and compiled (on a GPU, a CUDA graph), after a warm-up
    that compiles; whether the two give the same greedy tokens; and the arithmetic's figure for the recipe's card."""
    import time

    import torch

    from minireason.memory import decode_seconds
    from minireason.sampling import sample_ids

    model, tokenizer = trainer.accelerator.unwrap_model(trainer.model), trainer.processing_class
    ids = [tokenizer(trainer.train_dataset[i % len(trainer.train_dataset)]["prompt"] if isinstance(
        trainer.train_dataset[0]["prompt"], str) else tokenizer.apply_chat_template(
        trainer.train_dataset[i % len(trainer.train_dataset)]["prompt"], tokenize=False, add_generation_prompt=True),
        add_special_tokens=False)["input_ids"] for i in range(rows)]
    compiled = trainer.compile_decode if trainer.compile_decode is not None else (
        {"mode": "reduce-overhead"} if torch.cuda.is_available() else {"backend": "aot_eager"})
    seconds, samples = {}, {}
    for name, options in (("eager", None), ("graph", compiled)):
        sample_ids(model, ids, tokens, 0.0, tokenizer.pad_token_id, [-1], compile_decode=options)  # warm up
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        samples[name] = sample_ids(model, ids, tokens, 0.0, tokenizer.pad_token_id, [-1], compile_decode=options)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds[name] = (time.perf_counter() - started) / tokens
    estimate = decode_seconds(trainer.args, card)["token"] if card else None
    return {"eager_ms_token": seconds["eager"] * 1e3, "graph_ms_token": seconds["graph"] * 1e3,
            "graph_same_tokens": sum(a == b for a, b in zip(samples["eager"], samples["graph"])) / rows,
            "estimate_ms_token": None if estimate is None else estimate * 1e3}


def stopped_rollouts(trainer, rollouts: int = 8) -> dict:
    """The clipped ratio of rollouts that stopped at a stop string, by TRL's own rule (a last token that is neither
    an end token nor padding). Random weights never write the answer's closing tag, so the stop string here is a
    piece of text the first greedy rollout writes at its fourth token, and the rollouts are greedy: each stops there."""
    from minireason.sampling import sample_ids

    model, tokenizer = trainer.accelerator.unwrap_model(trainer.model), trainer.processing_class
    prompt = trainer.train_dataset[0]["prompt"]
    text = prompt if isinstance(prompt, str) else tokenizer.apply_chat_template(prompt, tokenize=False,
                                                                                 add_generation_prompt=True)
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"]] * rollouts
    free = sample_ids(model, ids[:1], 8, 0.0, tokenizer.pad_token_id, [-1])[0]
    stop, saved = tokenizer.decode(free[2:4]), (trainer.stop_strings, trainer.temperature)
    trainer.stop_strings, trainer.temperature = (stop,), 0.0  # greedy: every rollout writes what the first one did
    try:
        completions, _ = trainer._generate_single_turn(ids, None, {}, rollouts)
    finally:
        trainer.stop_strings, trainer.temperature = saved
    stopped = [c for c in completions if stop in tokenizer.decode(c)]
    ends = [*trainer.eos_token_ids, tokenizer.pad_token_id]
    return {"stopped": len(stopped), "stopped_clipped_ratio": sum(c[-1] not in ends for c in stopped) /
            max(len(stopped), 1)}


def sampler_against_generate(trainer, prompts: int = 4, tokens: int = 16) -> dict:
    """minireason's sampler against transformers' ``generate`` (what TRL samples with otherwise), greedy, on the
    trainer's model and a few of its prompts: the share of completions that agree token for token, and the
    largest gap between generate's log-probability of a token and a plain forward pass's over the sampler's
    tokens (what TRL's loss computes them with)."""
    import torch

    from minireason.sampling import eos_token_ids, sample_ids

    model, tokenizer = trainer.accelerator.unwrap_model(trainer.model), trainer.processing_class
    rows = [trainer.train_dataset[i]["prompt"] for i in range(prompts)]
    texts = [row if isinstance(row, str) else tokenizer.apply_chat_template(row, tokenize=False,
                                                                               add_generation_prompt=True)
             for row in rows]
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    ends = eos_token_ids(model, tokenizer)
    ours = sample_ids(model, ids, tokens, 0.0, tokenizer.pad_token_id, ends)
    device = model.get_input_embeddings().weight.device
    agree, gap = 0, 0.0
    model.eval()
    with torch.no_grad():
        for prompt, completion in zip(ids, ours):
            out = model.generate(input_ids=torch.tensor([prompt], device=device), max_new_tokens=tokens,
                                 do_sample=False, eos_token_id=ends, pad_token_id=tokenizer.pad_token_id,
                                 output_logits=True, return_dict_in_generate=True)
            theirs = out.sequences[0, len(prompt):].tolist()
            agree += theirs == completion
            shared = next((i for i, (a, b) in enumerate(zip(theirs, completion)) if a != b), min(len(theirs),
                                                                                               len(completion)))
            if shared == 0:
                continue
            chosen = torch.tensor(completion[:shared], device=device)
            generated = torch.stack(out.logits[:shared], 1)[0].float().log_softmax(-1)
            forward = model(input_ids=torch.tensor([prompt + completion[:shared]], device=device)).logits
            forward = forward[0, len(prompt) - 1:-1].float().log_softmax(-1)
            gap = max(gap, (generated.gather(-1, chosen[:, None]) - forward.gather(-1, chosen[:, None])).abs().max().item())
    model.train()
    return {"greedy_agreement": agree / len(ids), "max_logprob_gap": gap}


def _distilled(out: Path) -> str:
    """A small verified SFT set from the solver teacher (no model), standing in for the recipe's 17k set."""
    from minireason.distill import DistillConfig, distill

    distill(DistillConfig(out=str(out), sources=[{"task": "countdown", "n": 64}], report_to="none"), progress=False)
    return str(out / "data")


def validate(models: Path = Path("outputs/random-models")) -> list[dict]:
    """One training step of each CPU recipe shape (GRPO and SFT, on the tiny and the embedded 135M model), and of
    the 3B GPU recipes at their real widths in their GPU dtypes (bf16 base weights, QLoRA and LoRA, gradient
    checkpointing), its live tensor bytes counted, beside the estimate for this machine: what docs/memory.md
    reports and tests/test_memory.py holds to ±15%."""
    cases = [(model, recipe, tiny_flags(grpo=method == "grpo") if model == "tiny" else ["--report_to", "none"])
             for model in ("tiny", "smollm2-135m")
             for method, recipe in (("grpo", "smollm2-135m/grpo-arithmetic/cpu"), ("sft", "smollm2-135m/sft/cpu"))]
    three_b = str(random_weights_model("qwen2.5-3b", models, layers=2))
    cases += [("qwen2.5-3b widths, 2 layers, bf16", recipe, ["--model", three_b, "--report_to", "none", *GPU_DTYPES_ON_CPU])
              for recipe in ("qwen2.5-3b/grpo-countdown/t4-16gb", "qwen2.5-3b/grpo-countdown/a100-40gb")]
    rows = []
    for model, recipe, flags in cases:
        flags = [*flags, "--output_dir", tempfile.mkdtemp(prefix="validate-"), "--max_steps", "1", "--save_strategy",
                 "no", "--n_eval", "0"]
        (stage,) = load_recipe(recipe, flags)
        estimated, measured = peak(estimate(stage)), measure(stage)["allocated"]
        rows.append({"model": model, "recipe": recipe, "estimate_gib": estimated / GIB,
                     "allocated_gib": measured / GIB, "error": estimated / measured - 1})
    table = markdown_table(["model", "recipe", "estimate GiB", "measured GiB", "error"],
                           [[r["model"], r["recipe"], f"{r['estimate_gib']:.3f}", f"{r['allocated_gib']:.3f}",
                             f"{r['error']:+.1%}"] for r in rows], numeric=[False, False, True, True, True])
    print("\n## The estimator against one measured training step on this CPU (live tensor bytes)\n\n" + table)
    docs = ROOT / "docs" / "memory.md"
    fill_section(docs, "validate", f"Measured {datetime.date.today()} on this machine ({os.cpu_count()} cores) with "
                 f"`python benchmarks/gpu_recipes.py --validate`; one optimiser step each.\n\n{table}")
    print(f"wrote the table into {docs.relative_to(ROOT)}")
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["real", "tiny"], default="real",
                        help="real: the recipes' own models (random weights); tiny: the 2-layer test model")
    parser.add_argument("--steps", type=int, default=3, help="optimiser steps per recipe (default: %(default)s)")
    parser.add_argument("--recipes", nargs="*", help="recipe names (default: every GPU recipe)")
    parser.add_argument("--models", default="outputs/random-models", help="where the random-weight models go")
    parser.add_argument("--validate", action="store_true", help="only the CPU validation of the estimator")
    parser.add_argument("--check", action="store_true", help=f"the first run on a GPU (`make gpu-check`): {CHECK}, "
                                                             f"{CHECK_STEPS} steps")
    args = parser.parse_args(argv)
    if args.validate:
        return validate(Path(args.models))
    import time

    import torch

    started = time.perf_counter()
    names = args.recipes or [name for name in recipe_names() if card_of(name) and describe(name).method != "distill"]
    names, steps = ([CHECK], CHECK_STEPS) if args.check else (names, args.steps)
    rows = [row for name in names for row in run(name, args.size, steps, Path(args.models))]
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (live tensor bytes)"
    print(f"\n## GPU recipes, {steps} steps each, on {device} ({args.size} size)\n")
    print(markdown_table(
        ["recipe", "stage", "precision", "estimate GiB", "allocated GiB", "reserved GiB", "estimate error", "s/step",
         "generation tok/s", "train tok/s", "losses finite", "greedy = generate", "max log p gap"],
        [[r["recipe"], r["stage"], r["precision"], f"{r['estimate_gib']:.2f}", f"{r['allocated_gib']:.2f}",
          f"{r['reserved_gib']:.2f}", f"{r['error']:+.0%}", f"{r['s_per_step']:.1f}",
          "-" if r["generation_tok_s"] is None else f"{r['generation_tok_s']:.0f}", f"{r['train_tok_s']:.0f}",
          "yes" if r["losses_finite"] else "**no**",
          f"{r['greedy_agreement']:.0%}" if "greedy_agreement" in r else "-",
          f"{r['max_logprob_gap']:.3f}" if "max_logprob_gap" in r else "-"]
         for r in rows], numeric=[False, False, False] + [True] * 7 + [False, True, True]))
    grpo = [r for r in rows if "eager_ms_token" in r]
    if grpo:
        print("\n### Decoding (32 rollouts, greedy) and stopped rollouts\n")
        print(markdown_table(
            ["recipe", "ms a token, eager", "ms a token, CUDA graph", "same tokens", "ms a token, arithmetic",
             "stopped rollouts", "their clipped ratio"],
            [[r["recipe"], f"{r['eager_ms_token']:.1f}", f"{r['graph_ms_token']:.1f}", f"{r['graph_same_tokens']:.0%}",
              "-" if r["estimate_ms_token"] is None else f"{r['estimate_ms_token']:.0f}", r["stopped"],
              f"{r['stopped_clipped_ratio']:.2f}"] for r in grpo], numeric=[False] + [True] * 6))
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    return rows


if __name__ == "__main__":
    main()
