"""Kernel launches per decoded token, on each path the sampler takes, and the GPU step time they make by arithmetic.

The profiler counts, on this CPU, the operators a decoded token runs that would each launch a kernel on a GPU
(``minireason.launches``), on Qwen2.5-3B's layers shrunk in width: per layer, outside the layers, and in the
sampler. Beside them: this CPU's host time per operator (the basis of ``LAUNCH_HOST_SECONDS``), then what the T4
recipe's decode and step come to by arithmetic (``memory.decode_seconds``, ``step_seconds``), eager and as a CUDA
graph, at the recipe's shape and at that of Unsloth's free-T4 GRPO notebook (1 prompt x 8 completions x 200
tokens: 250 steps in 6,054 s there, ~24 s a step, measured by Unsloth). Every GPU figure is arithmetic.

    python benchmarks/decode_launches.py          # ~30 s on 2 cores
"""

from __future__ import annotations

from minireason.launches import DECODE_LAUNCHES, count_decode, host_seconds_per_launch, qwen2_layers
from minireason.memory import decode_seconds, step_seconds
from minireason.models import load_tokenizer
from minireason.recipes import load_recipe
from minireason.reports.markdown import markdown_table

T4_RECIPE, CARD, LAYERS = "qwen2.5-3b/grpo-countdown/t4-16gb", "T4 16 GB", 36
UNSLOTH_SHAPE = ["--gradient_accumulation_steps", "1", "--max_completion_length", "200"]


def main() -> None:
    tokenizer = load_tokenizer("tiny")
    rows = []
    for path, four_bit in (("4-bit", True), ("16-bit", False)):
        make = lambda layers, four_bit=four_bit: qwen2_layers(layers, four_bit)
        counted = count_decode(make, tokenizer)
        rows.append([path, counted.per_layer, counted.outside, counted.sampler, f"{counted.eager(LAYERS):,}",
                     counted.graphed(), "yes" if counted == DECODE_LAUNCHES[path] else "NO: update launches.py",
                     f"{host_seconds_per_launch(make) * 1e6:.1f}"])
    print("Kernel launches a decoded token (the profiler, this CPU):\n")
    print(markdown_table(["path", "per layer", "outside the layers", "sampler", f"eager, {LAYERS} layers",
                          "as a CUDA graph", "as in launches.py", "host us an operator, this CPU"], rows))

    shapes = [("recipe: 4 prompts x 8 x 384 tokens", []), ("Unsloth's: 1 prompt x 8 x 200 tokens", UNSLOTH_SHAPE)]
    rows = []
    for label, shape in shapes:
        for decode in ("eager", "CUDA graph"):
            (stage,) = load_recipe(T4_RECIPE, [*shape, "--compile_rollouts", str(decode != "eager").lower()])
            token, step = decode_seconds(stage, CARD), step_seconds(stage, CARD)
            rows.append([label, decode, f"{token['launches']:,}", f"{token['memory'] * 1e3:.0f}",
                         f"{token['host'] * 1e3:.0f}", f"{token['token'] * 1e3:.0f}", f"{step['rollouts']:.1f}",
                         f"{step['loss']:.1f}", f"{step['step']:.1f}", f"{3600 / step['step']:.0f}"])
    print(f"\n{T4_RECIPE} on a {CARD}, by arithmetic (not measured; Unsloth measured ~24 s a step at its shape):\n")
    print(markdown_table(["shape", "decode", "launches a token", "GPU ms a token (bytes)", "host ms a token",
                          "ms a token", "rollouts s", "loss s", "s a step", "steps an hour"], rows))


if __name__ == "__main__":
    main()
