"""The accelerator a run will use, and every decision the kit takes from it, in one place.

Precision, the weights' dtype, the 4-bit compute dtype and the recipe a notebook picks all follow from
three facts read here: is there a CUDA GPU, how much memory does it report, and does it do bf16 *natively*.
``tests/simulated_gpu.py`` presents the cards below to torch by patching these same queries, so every GPU
decision is tested on a CPU.

>>> CARDS["T4 16 GB"].bf16, round(CARDS["T4 16 GB"].memory_gib, 2), CARDS["A100 40 GB"].bf16
(False, 14.74, True)
"""

from __future__ import annotations

import dataclasses

GIB = 2**30


@dataclasses.dataclass(frozen=True)
class Card:
    """A GPU as torch reports it (its name, ``total_memory`` in GiB, compute capability), and its datasheet's
    dense half-precision tensor throughput and memory bandwidth, for arithmetic on step times."""

    name: str
    memory_gib: float
    capability: tuple[int, int]
    tflops: float
    bandwidth_gbs: float

    @property
    def total_memory(self) -> int:
        return int(self.memory_gib * GIB)

    @property
    def bf16(self) -> bool:
        """bf16 in hardware (Ampere, sm80, and later). A T4 (sm75) creates bf16 tensors, so torch's default
        ``is_bf16_supported()`` says True there, but its matmuls are emulated, several times slower than fp16."""
        return self.capability >= (8, 0)


# What each card reports as total_memory: a card sold as N GB shows 0.92-0.99 N GiB. The T4's is a Colab T4's
# 15,828,320,256 bytes; the others are the totals torch's out-of-memory messages print, to 0.01 GiB.
CARDS = {
    "T4 16 GB": Card("Tesla T4", 15_828_320_256 / GIB, (7, 5), tflops=65, bandwidth_gbs=320),
    "L4 24 GB": Card("NVIDIA L4", 22.03, (8, 9), tflops=121, bandwidth_gbs=300),
    "A100 40 GB": Card("NVIDIA A100-SXM4-40GB", 39.39, (8, 0), tflops=312, bandwidth_gbs=1555),
    "A100 80 GB": Card("NVIDIA A100-SXM4-80GB", 79.15, (8, 0), tflops=312, bandwidth_gbs=2039),
    "H100 80 GB": Card("NVIDIA H100 80GB HBM3", 79.11, (9, 0), tflops=989, bandwidth_gbs=3350),
}
# A recipe named for an N GB card runs on any card reporting at least this share of N in GiB: the smallest
# share above is the T4's 0.92 (16 GB sold, 14.74 GiB reported).
REPORTED_SHARE = 0.9


def fits_recipe(recipe_gb: int, memory_gib: float) -> bool:
    """Whether a card reporting ``memory_gib`` GiB is one a recipe written for ``recipe_gb`` GB can use.

    >>> fits_recipe(16, CARDS["T4 16 GB"].memory_gib), fits_recipe(40, CARDS["L4 24 GB"].memory_gib)
    (True, False)
    >>> fits_recipe(16, 12.0)   # a 12 GB card: below what any 16 GB card reports
    False
    """
    return memory_gib >= REPORTED_SHARE * recipe_gb


def card_named(name: str, memory_gib: float) -> str | None:
    """The entry of ``CARDS`` for a GPU torch names ``name`` with ``memory_gib`` GiB, or None for another card.

    >>> card_named("Tesla T4", 14.74), card_named("NVIDIA A100-SXM4-80GB", 79.15), card_named("NVIDIA A10G", 22.0)
    ('T4 16 GB', 'A100 80 GB', None)
    """
    for key, card in CARDS.items():
        if key.split()[0] in name and abs(card.memory_gib - memory_gib) < 0.1 * card.memory_gib:
            return key
    return None


def gpu() -> dict | None:
    """This process's GPU: name, memory in GiB (unrounded), native bf16, and how many GPUs are visible; None
    without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return {"name": props.name, "memory_gib": props.total_memory / GIB, "bf16": bf16_native(),
            "count": torch.cuda.device_count()}


def bf16_native() -> bool:
    """The device a run would use computes bf16 in hardware: a CUDA GPU of sm80 or later (False on a T4, where
    torch's default answer counts emulation), or without one, a CPU with AVX512-BF16 or AMX (``cpu_bf16_native``)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return cpu_bf16_native()


def cpu_bf16_native() -> bool:
    """This CPU has bf16 instructions (AVX512-BF16 or AMX), as torch's own probes report. With them a bf16 matmul
    runs ~2.2x an fp32 one on an AMD EPYC and a training step under bf16 autocast 1.7x (docs/grpo-on-cpu.md);
    without them torch emulates bf16 and autocast runs several times slower than fp32."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


# A recipe's ``precision``: ``auto`` leaves it to the hardware (``resolve_precision``).
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
# What a run that meets numbers fp16 cannot hold should do instead; the sampler's and the training guard's errors say it.
FP16_OVERFLOW_FIX = ("train in bf16 on a card that has it (--precision bf16), or in fp32 (--precision fp32: on a T4 "
                     "about half the speed, and more memory for activations)")


def resolve_precision(asked: str, gpu: bool, bf16_supported: bool) -> str:
    """The precision a run computes in: ``asked``, or for ``auto`` bf16 on a device that computes in it, fp16 (with
    loss scaling) on a GPU that does not (a T4), and fp32 on a CPU that does not.

    >>> resolve_precision("auto", gpu=False, bf16_supported=False)   # a CPU without bf16 instructions
    'fp32'
    >>> resolve_precision("auto", gpu=False, bf16_supported=True)    # AVX512-BF16 or AMX
    'bf16'
    >>> resolve_precision("auto", gpu=True, bf16_supported=False)    # T4
    'fp16'
    >>> resolve_precision("auto", gpu=True, bf16_supported=True)     # A100, H100
    'bf16'
    >>> resolve_precision("fp32", gpu=True, bf16_supported=False)    # asked for: kept
    'fp32'
    """
    if asked not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {asked!r}")
    if asked != "auto":
        return asked
    if bf16_supported:
        return "bf16"
    return "fp16" if gpu else "fp32"


def compute_dtype(precision: str) -> str:
    """The dtype a precision computes in: autocast's, and the 4-bit layers' compute dtype.

    >>> compute_dtype("fp16"), compute_dtype("bf16"), compute_dtype("fp32")
    ('float16', 'bfloat16', 'float32')
    """
    return {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}[precision]


def weights_dtype(precision: str, trains_base_weights: bool) -> str:
    """The dtype the base weights load in, the 4-bit layers' aside (TRL's loader defaults to float32 on every device).

    Weights that train keep float32, the optimizer's master copy (fp16 gradients cannot be unscaled, and bf16
    updates round away). Frozen weights under LoRA load in the compute dtype: half the memory, and what autocast
    computes in anyway.

    >>> weights_dtype("fp16", trains_base_weights=False), weights_dtype("bf16", False)
    ('float16', 'bfloat16')
    >>> weights_dtype("bf16", trains_base_weights=True), weights_dtype("fp32", False)
    ('float32', 'float32')
    """
    if trains_base_weights or precision == "fp32":
        return "float32"
    return compute_dtype(precision)


def fp32_residual_stream(precision: str) -> bool:
    """Whether a run keeps the residual stream (the sum every layer adds to) in fp32 around half-precision weights.

    Under fp16 it does: the stream would otherwise be held in fp16, whose range (65,504) Qwen2's activations are
    known to pass. Its norms' weights go to fp32 and the embeddings' output is cast up (``models.residual_in_fp32``);
    the embedding matrix, which is also the tied LM head, stays fp16 (in fp32, autocast would cast all 311 M of a
    3B model's to fp16 at every decoded token: 1.9 GB of traffic). PEFT's ``prepare_model_for_kbit_training`` casts
    every unquantised weight to fp32 instead. Under bf16 (fp32's range) nothing changes.

    >>> fp32_residual_stream("fp16"), fp32_residual_stream("bf16"), fp32_residual_stream("fp32")
    (True, False, False)
    """
    return precision == "fp16"


# torch's attention on fp32 copies of the queries, keys and values (``models.fp32_attention``).
FP32_ATTENTION = "sdpa_fp32"


def attention_implementation(precision: str, gpu: bool) -> str:
    """The attention a model runs: torch's SDPA, or on a CPU that computes in half precision, SDPA on fp32 copies of
    its inputs. torch's CPU attention kernel is slow in bf16: on an AMD EPYC with AVX512-BF16 (2 cores) it took 5x
    fp32's time at decode shapes and 1.9x for a training forward + backward. The SmolLM2-135M decode step at batch 64
    took 150 ms so against 182, and a 16 x 110-token training forward + backward 13% less (scratch timings,
    docs/grpo-on-cpu.md); ``python benchmarks/cpu_limits.py``, on shorter contexts, finds no gain. A GPU's fused
    bf16 and fp16 kernels are its fastest: left as they are.

    >>> attention_implementation("bf16", gpu=False)
    'sdpa_fp32'
    >>> attention_implementation("bf16", gpu=True), attention_implementation("fp32", gpu=False)
    ('sdpa', 'sdpa')
    """
    return FP32_ATTENTION if not gpu and precision in ("bf16", "fp16") else "sdpa"


def release_memory() -> None:
    """Give back what a finished stage or a freed model held: objects caught in reference cycles (a Trainer and its
    callbacks hold each other, so a stage's model outlives it until Python's rare full collection), the GPU's cached
    blocks, and on glibc the heap pages its allocator keeps after frees (``malloc_trim``): on a CPU they stay in
    the resident set, so stage after stage a process holds the sum of their peaks, not the largest."""
    import ctypes
    import ctypes.util
    import gc
    import platform

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if platform.libc_ver()[0] == "glibc":
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)
