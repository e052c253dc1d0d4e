"""Kernel launches per decoded token, counted on the CPU with torch's profiler, and what they cost a GPU.

On a GPU every eager operator is a kernel the host launches: its Python, torch's dispatch, then CUDA's launch call.
A decode step of a 36-layer model runs thousands of them, each on a batch of one token a row, so the GPU finishes
each long before the host has launched the next: the step takes what the host takes. This module counts the
operators that launch a kernel, on a model of the recipe's architecture shrunk in width (the count per layer does
not depend on width), along each path the sampler takes:

- ``4-bit``: nf4 layers with the LoRA adapter apart (it cannot be merged into 4-bit weights), fp16 autocast, and
  the fp32 residual stream of an fp16 run: the T4 recipe;
- ``16-bit``: half-precision layers with the adapter apart (merged into 16-bit weights, a small update rounds
  away: ``sampling.inference_mode``): the A100 recipes.

``benchmarks/decode_launches.py`` prints the counts; ``DECODE_LAUNCHES`` holds them for the step-time arithmetic
(``memory.step_seconds``), and ``tests/test_memory.py`` counts them again.
"""

from __future__ import annotations

import collections
import dataclasses
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from collections.abc import Callable

    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Operators that launch no kernel: views, shape and metadata queries, allocations (a GPU allocation is the caching
# allocator's bookkeeping), and the wrappers whose children are counted instead.
NO_KERNEL = frozenset({
    "aten::view", "aten::reshape", "aten::_reshape_alias", "aten::_unsafe_view", "aten::view_as", "aten::transpose",
    "aten::t", "aten::permute", "aten::unsqueeze", "aten::squeeze", "aten::expand", "aten::expand_as", "aten::slice",
    "aten::select", "aten::narrow", "aten::split", "aten::chunk", "aten::unbind", "aten::as_strided", "aten::alias",
    "aten::detach", "aten::detach_", "aten::lift_fresh", "aten::resolve_conj", "aten::resolve_neg", "aten::flatten",
    "aten::contiguous", "aten::to", "aten::type_as", "aten::result_type", "aten::size", "aten::stride", "aten::dim",
    "aten::is_nonzero", "aten::broadcast_tensors", "aten::empty", "aten::empty_like", "aten::empty_strided",
    "aten::new_empty", "aten::matmul", "aten::linear", "aten::_has_compatible_shallow_copy_type", "aten::set_",
})
# Operators that run as one kernel on a GPU whatever the CPU does inside them: a matmul, and bitsandbytes' ops, whose
# CUDA kernels are one launch each (bitsandbytes/backends/cuda/ops.py; gemm_4bit is its fused nf4 kernel).
ONE_KERNEL = frozenset({"aten::copy_", "aten::addmm", "aten::mm", "aten::bmm"})


def kernel_ops(profile: torch.profiler.profile) -> collections.Counter:
    """The operators of a ``torch.profiler`` run that launch a kernel on a GPU, by name: each top-level operator
    counted through its children, down to the ones that compute (``NO_KERNEL``, ``ONE_KERNEL``)."""
    counts: collections.Counter = collections.Counter()

    def walk(event: torch.autograd.profiler_util.FunctionEvent) -> None:
        name = event.name
        if name.startswith("bitsandbytes::") or name in ONE_KERNEL:
            counts[name] += 1
        elif event.cpu_children:
            for child in event.cpu_children:
                walk(child)
        elif name.startswith("aten::") and name not in NO_KERNEL:
            counts[name] += 1

    for event in profile.events():
        if event.cpu_parent is None:
            walk(event)
    return counts


@dataclasses.dataclass(frozen=True)
class DecodeLaunches:
    """Kernels a decoded token launches: ``per_layer`` in each decoder layer, ``outside`` the layers in the model
    (embeddings, final norm, head, masks), and ``sampler`` in the sampler's own work (drawing, stop strings)."""

    per_layer: int
    outside: int
    sampler: int

    def eager(self, layers: int) -> int:
        """Launches a token on a model of ``layers`` layers, every kernel launched by the host."""
        return self.outside + layers * self.per_layer + self.sampler

    def graphed(self) -> int:
        """Launches a token when the model's step is one CUDA graph (``sample_ids(compile_decode=…)``)."""
        return 1 + self.sampler


# Counted with `python benchmarks/decode_launches.py` (torch 2.13, transformers 5.25, PEFT 0.21, bitsandbytes 0.50,
# on Qwen2 layers); tests/test_memory.py counts them again.
DECODE_LAUNCHES = {"4-bit": DecodeLaunches(per_layer=100, outside=18, sampler=42),
                   "16-bit": DecodeLaunches(per_layer=58, outside=20, sampler=42)}
# What one launch costs: the host's time per eager operator, its Python, torch's dispatch and CUDA's launch call. On
# this 2-core EPYC the decoder layers take 13-15 us an operator (host_seconds_per_launch; with the CPU's own small
# kernels in it, so an upper bound of the Python and dispatch part); CUDA's launch call adds a few microseconds
# (NVIDIA, "Getting Started with CUDA Graphs"). Colab's and Kaggle's hosts are 2-core Xeons of 2.0-2.2 GHz, no
# faster than this one. 20 us, then.
LAUNCH_HOST_SECONDS = 20e-6
# What a kernel costs the GPU inside a CUDA graph, where the host launches nothing: a small kernel's own run time,
# 1.1-1.3 us for a 1,024-element add (pytorch/pytorch#161104), rounded up for kernels that do a little work.
KERNEL_GPU_SECONDS = 2e-6


def qwen2_layers(layers: int, four_bit: bool, lora: bool = True) -> PreTrainedModel:
    """Qwen2.5-3B's architecture (its shipped config.json) with ``layers`` layers, 64 wide, random weights, as the
    recipes load it: 4-bit nf4 computing in fp16 with the fp32 residual stream, or 16-bit; with a LoRA adapter."""
    import tempfile

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from minireason.models import MODEL_CONFIGS, lora_config, quantization_config, residual_in_fp32

    values = json.loads((MODEL_CONFIGS / "qwen2.5-3b.json").read_text())
    values.update(num_hidden_layers=layers, max_window_layers=layers, hidden_size=64, intermediate_size=128,
                  num_attention_heads=4, num_key_value_heads=2, vocab_size=1024, bos_token_id=0, eos_token_id=1)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**values))
    if four_bit:
        folder = tempfile.mkdtemp(prefix="minireason-launches-")
        model.save_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float16, device_map={"": "cpu"},
                                                     quantization_config=quantization_config(torch.float16))
        residual_in_fp32(model)
    if lora:
        from peft import get_peft_model

        model = get_peft_model(model, lora_config({"lora_dropout": 0.0}))
    return model.eval()


def count_decode(make_model: Callable[[int], PreTrainedModel], tokenizer: PreTrainedTokenizerBase,
                 tokens: tuple[int, int] = (4, 8), rows: int = 8) -> DecodeLaunches:
    """Count a path's launches: ``make_model(layers)`` builds its model; 2 and 4 layers give the count per layer,
    ``sample_ids`` at two lengths the sampler's count per token (``tokens``), stopping at the answer's closing tag
    as the recipes do (``tokenizer`` reads it)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from minireason.answer_format import ANSWER_CLOSE
    from minireason.sampling import inference_mode, sample_ids

    prompts = [[5 + row, 17, 23 + row, 42] for row in range(rows)]
    per_forward, per_token = {}, {}
    for layers in (2, 4):
        model = make_model(layers)
        with inference_mode(model):  # the sampler's own context: merged adapter, autocast where it applies
            cache = model(input_ids=torch.tensor(prompts), use_cache=True).past_key_values
            token = torch.tensor([[7]] * rows)
            model(input_ids=token, cache=cache, use_cache=True)  # warm up
            with profile(activities=[ProfilerActivity.CPU]) as forward:
                model(input_ids=token, cache=cache, use_cache=True)
        per_forward[layers] = sum(kernel_ops(forward).values())
        counted = []
        for length in tokens:
            with profile(activities=[ProfilerActivity.CPU]) as run:
                sample_ids(model, prompts, length, 1.0, pad_token_id=0, eos_token_ids=[-1], tokenizer=tokenizer,
                           stop=(ANSWER_CLOSE,))
            counted.append(sum(kernel_ops(run).values()))
        per_token[layers] = (counted[1] - counted[0]) / (tokens[1] - tokens[0])
    per_layer = (per_forward[4] - per_forward[2]) // 2
    return DecodeLaunches(per_layer=per_layer, outside=per_forward[2] - 2 * per_layer,
                          sampler=round(per_token[2] - per_forward[2]))


def host_seconds_per_launch(make_model: Callable[[int], PreTrainedModel], repeats: int = 50, rows: int = 8) -> float:
    """This CPU's time per launched operator inside the decoder layers of a decode step, on a model of
    ``make_model``'s path: the layers' wall time (4 against 2 layers, so the head and sampling drop out) over their
    operators. It includes the CPU running each small kernel itself, so it overstates the host's share on a GPU."""
    import time

    import torch
    from torch.profiler import ProfilerActivity, profile

    from minireason.sampling import inference_mode

    seconds, launched = {}, {}
    prompts = torch.tensor([[5 + row, 17, 23 + row, 42] for row in range(rows)])
    for layers in (2, 4):
        model = make_model(layers)
        with inference_mode(model):
            cache = model(input_ids=prompts, use_cache=True).past_key_values
            token = torch.tensor([[7]] * rows)
            for _ in range(5):
                model(input_ids=token, cache=cache, use_cache=True)
            with profile(activities=[ProfilerActivity.CPU]) as forward:
                model(input_ids=token, cache=cache, use_cache=True)
            launched[layers] = sum(kernel_ops(forward).values())
            started = time.perf_counter()
            for _ in range(repeats):
                model(input_ids=token, cache=cache, use_cache=True)
            seconds[layers] = (time.perf_counter() - started) / repeats
    return (seconds[4] - seconds[2]) / (launched[4] - launched[2])
