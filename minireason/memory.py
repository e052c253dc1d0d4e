"""Peak accelerator memory of a recipe, by component, before anything is downloaded or loaded.

``minireason estimate RECIPE`` prints it for each common card. The model's shape comes from a config.json
(shipped for the recipes' models in ``minireason/model_configs``; any local folder's works too); the token
counts come from the recipe and the task's own prompts. What is counted:

- **weights** in their dtype, or nf4 with double quantisation (0.5 byte a parameter plus ~1/64 byte of scales)
  for the linear layers with the embeddings, head and norms left in 16 bits;
- **LoRA** parameters with their gradients and AdamW's two moments, all in fp32 (PEFT keeps adapters in fp32);
  with full fine-tuning, every weight's gradient and moments instead;
- **activations** kept for the backward pass, per token and layer (``layer_activation_bytes``), or only each
  layer's input plus one layer's worth when gradient checkpointing recomputes the rest;
- the **logits** of the loss: all of them with three fp32 copies on FastGRPOTrainer's plain path (divided by
  the temperature, log-softmax, exp), or one 4,096-token × 32,768-column tile and its softmax on TRL's fused
  LM head (SFT always; GRPO under gradient checkpointing, as on a GPU, or when the logits are many);
- the **generation KV cache** of a batch of rollouts, which is freed before the loss runs;
- **vLLM's** share of the card when the recipe colocates it, and ~0.5 GiB of CUDA context on a GPU.

Validated on CPU against the live tensor bytes of real training steps (``benchmarks/gpu_recipes.py --validate``,
``tests/test_memory.py``); on a GPU, ``benchmarks/gpu_recipes.py`` prints the estimate beside
``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

from minireason.grpo_trainer import PLAIN_LOGITS_LIMIT
from minireason.hardware import CARDS, GIB, fp32_residual_stream
from minireason.models import MODEL_CONFIGS

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from collections.abc import Callable, Iterable

    import torch
    from transformers import Trainer

    from minireason.recipes.config import RecipeArgs

CUDA_CONTEXT = 0.5 * GIB
# A GPU recipe's own dtypes and checkpointing on a CPU, for two rollouts of 16 tokens: bf16 base weights and
# compute (2 bytes, as fp16 on a T4), fp32 adapters, checkpointed layers. With a model of the recipe's widths and
# two of its layers (``models.random_weights_model``), every term the estimate has is exercised at its real size
# per layer; `benchmarks/gpu_recipes.py --validate` and tests/test_memory.py measure it against the estimate.
GPU_DTYPES_ON_CPU = ["--precision", "bf16", "--activation_checkpointing", "true", "--max_completion_length", "16",
                     "--num_generations", "2", "--per_device_train_batch_size", "2", "--gradient_accumulation_steps", "1",
                     "--use_vllm", "false"]
FUSED_TILE_TOKENS, FUSED_TILE_COLUMNS = 4096, 32768  # TRL's fused LM head scores one such tile at a time


@dataclasses.dataclass
class ModelShape:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool
    qkv_bias: bool

    @classmethod
    def from_config(cls, config: dict) -> ModelShape:
        heads = config["num_attention_heads"]
        hidden = config["hidden_size"]
        return cls(hidden=hidden, intermediate=config["intermediate_size"], layers=config["num_hidden_layers"],
                   heads=heads, kv_heads=config.get("num_key_value_heads", heads),
                   head_dim=config.get("head_dim") or hidden // heads, vocab=config["vocab_size"],
                   tied=config.get("tie_word_embeddings", False),
                   qkv_bias=config.get("attention_bias", config.get("model_type") == "qwen2"))

    def linears(self) -> list[tuple[int, int]]:
        """``(in, out)`` of each linear layer in one decoder layer: q, k, v, o, gate, up, down."""
        h, q, kv, i = self.hidden, self.heads * self.head_dim, self.kv_heads * self.head_dim, self.intermediate
        return [(h, q), (h, kv), (h, kv), (q, h), (h, i), (h, i), (i, h)]

    def parameters(self) -> dict[str, int]:
        """Parameter counts: the linear layers (what 4-bit quantises and LoRA adapts), and the rest."""
        linear = self.layers * sum(n_in * n_out for n_in, n_out in self.linears())
        bias = self.layers * (self.heads + 2 * self.kv_heads) * self.head_dim if self.qkv_bias else 0
        norms = (2 * self.layers + 1) * self.hidden
        embeddings = self.vocab * self.hidden * (1 if self.tied else 2)
        return {"linear": linear, "other": bias + norms + embeddings}


def model_shape(model: str) -> ModelShape:
    """The shape of a recipe's model from its config.json: shipped for the aliases, else the folder's own."""
    from minireason.models import MODEL_ALIASES, resolve_model

    shipped, local = MODEL_CONFIGS / f"{model}.json", Path(model) / "config.json"
    if shipped.exists() or local.exists():
        return ModelShape.from_config(json.loads((shipped if shipped.exists() else local).read_text()))
    if model == "tiny":  # the test model: built locally, in seconds, with random weights
        return ModelShape.from_config(json.loads((Path(resolve_model("tiny")) / "config.json").read_text()))
    known = ", ".join(sorted(p.stem for p in MODEL_CONFIGS.glob("*.json")))
    raise ValueError(f"no config.json for {model!r} ({MODEL_ALIASES.get(model, model)}): the shipped ones are "
                     f"{known}; pass a local folder that holds a config.json")


def layer_activation_bytes(shape: ModelShape, compute_bytes: int, lora_r: int, lora_dropout: bool = False) -> int:
    """Bytes one token keeps for the backward pass in one decoder layer (no checkpointing).

    Each RMSNorm keeps its input in fp32 and its normalised output; attention keeps q and k after the rotary
    embedding, v, its output and a log-sum-exp per head, and the output again, reshaped, as the o projection's
    input; the MLP keeps the gate and up projections, the activation and their product; each LoRA-adapted
    linear keeps its rank-r intermediate, and with LoRA dropout its own dropped-out copy of the input and the
    mask (one byte an element).
    """
    h, i, a = shape.hidden, shape.intermediate, compute_bytes
    q, kv = shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim
    norms = 2 * (4 * h + 4 * h + a * h)  # fp32 input, fp32 normalised, output in the compute dtype
    attention = a * (q + 2 * kv) + 2 * a * q + 4 * shape.heads
    mlp = 4 * a * i
    lora = 7 * lora_r * a
    if lora_dropout:
        lora += sum(n_in for n_in, _ in shape.linears()) * (a + 1)
    return norms + attention + mlp + lora


@dataclasses.dataclass
class Workload:
    """What one optimiser step processes on one device."""

    train_sequences: int  # sequences in one forward/backward (per device, per accumulation step)
    prompt_tokens: int
    completion_tokens: int
    distinct_prompts: int  # prompts run once each when the loss shares a prompt across its group
    generation_sequences: int  # rollouts sampled at once (0: no generation, SFT)


def on_card(stage: RecipeArgs, card: str | None) -> tuple[str, bool, str]:
    """``(precision, activation_checkpointing, weights' dtype)`` of ``stage`` when it runs on ``card`` (None: this
    CPU): what the hardware decided where the stage was built is decided again for the card, as it would be there
    (``minireason.hardware``); what the recipe or a flag set is kept."""
    from minireason.hardware import cpu_bf16_native, resolve_precision, weights_dtype

    gpu = card is not None
    auto = set(getattr(stage, "hardware_defaults", ()))
    precision = resolve_precision("auto", gpu, CARDS[card].bf16 if gpu else cpu_bf16_native()) \
        if "precision" in auto else stage.precision
    checkpointing = gpu if "activation_checkpointing" in auto else stage.activation_checkpointing
    dtype = weights_dtype(precision, not stage.lora) if "dtype" in auto else stage.model_init_kwargs["dtype"]
    return precision, checkpointing, dtype


def estimate(stage: RecipeArgs, card: str | None = None, workload: Workload | None = None) -> dict[str, float]:
    """Peak memory in bytes by component for one stage config on ``card`` (None: this machine, a CPU), with the
    settings the card decides (``on_card``)."""
    workload = workload or workload_of(stage)
    shape = model_shape(stage.model)
    gpu = card is not None
    precision, checkpointing, dtype = on_card(stage, card)
    compute = 4 if precision == "fp32" else 2
    weight_bytes = 4 if dtype == "float32" else 2  # every weight, or what 4-bit leaves unquantised
    # The residual stream between layers: in the embeddings' dtype, or fp32 around fp16 weights (the layer inputs
    # checkpointing keeps, and the keys and values the projections return into it).
    stream = 4 if weight_bytes == 4 or fp32_residual_stream(precision) else 2
    counts = shape.parameters()

    parts: dict[str, float] = {}
    if stage.load_in_4bit:
        parts["weights"] = counts["linear"] * (0.5 + 1 / 64 + 4 / (64 * 256)) + counts["other"] * weight_bytes
    else:
        parts["weights"] = (counts["linear"] + counts["other"]) * weight_bytes
    if stage.lora:
        lora_params = shape.layers * sum(stage.lora_r * (n_in + n_out) for n_in, n_out in shape.linears())
        parts["lora + grads + AdamW"] = lora_params * 16
    else:
        full = counts["linear"] + counts["other"]
        parts["grads + AdamW"] = full * weight_bytes * 3

    rows = workload.train_sequences
    shared = getattr(stage, "share_prompt_prefix", False) and not checkpointing and workload.distinct_prompts
    tokens = (workload.distinct_prompts * workload.prompt_tokens + rows * workload.completion_tokens if shared
              else rows * (workload.prompt_tokens + workload.completion_tokens))
    per_layer = layer_activation_bytes(shape, compute, stage.lora_r if stage.lora else 0,
                                       stage.lora and stage.lora_dropout > 0)
    if checkpointing:  # each layer's input kept, one layer recomputed at a time
        parts["activations"] = tokens * (shape.layers * shape.hidden * stream + per_layer)
    else:
        parts["activations"] = tokens * shape.layers * per_layer
    scored = rows * workload.completion_tokens if workload.generation_sequences else tokens
    plain = shared and scored * shape.vocab <= PLAIN_LOGITS_LIMIT  # FastGRPOTrainer's plain log-softmax
    if plain:  # the logits, then in fp32: divided by the temperature, their log-softmax, and its exp (the entropy)
        parts["logits (loss)"] = scored * shape.vocab * (compute + 3 * 4)
    else:  # TRL's fused LM head (SFT; GRPO under checkpointing): one tile of scores at a time. On a GPU a Triton
        # kernel folds each tile in place (not yet measured); elsewhere its torch fallback holds ~8 fp32 copies of
        # the tile at once in the backward pass (y, z, log p, p, the gradient, the one-hot target and two terms).
        tile = min(scored if gpu else tokens, FUSED_TILE_TOKENS) * min(shape.vocab, FUSED_TILE_COLUMNS)
        parts["logits (loss)"] = tile * (compute + (4 if gpu else 8.25 * 4))
    if workload.generation_sequences:
        length = workload.prompt_tokens + workload.completion_tokens
        kv_cache = workload.generation_sequences * length * shape.layers * 2 * shape.kv_heads * shape.head_dim
        # Keys and values come out of the projections in the stream's dtype (a 4-bit layer returns its input's).
        parts["generation KV cache"] = kv_cache * stream + workload.generation_sequences * shape.vocab * 4 * 2
    if getattr(stage, "use_vllm", False) and getattr(stage, "vllm_mode", "") == "colocate" and gpu:
        parts["vLLM (reserved share)"] = stage.vllm_gpu_memory_utilization * CARDS[card].memory_gib * GIB
        parts.pop("generation KV cache", None)  # vLLM samples inside its own share
    if gpu:
        parts["CUDA context"] = CUDA_CONTEXT
    return parts


def peak(parts: dict[str, float]) -> float:
    """The peak: everything but the generation cache and the loss's tensors, plus the larger of the two (rollouts
    are sampled, and their cache freed, before the loss runs)."""
    training = parts.get("activations", 0) + parts.get("logits (loss)", 0)
    generation = parts.get("generation KV cache", 0)
    rest = sum(v for k, v in parts.items() if k not in ("activations", "logits (loss)", "generation KV cache"))
    return rest + max(training, generation)


def workload_of(stage: RecipeArgs) -> Workload:
    """The tokens one step of ``stage`` handles: prompts measured with the embedded model's tokenizer on the
    task's own rows (the Qwen tokenizer is not on disk; both split these prompts alike, within a few tokens)."""
    from minireason.tasks import get_task, render_prompt

    tokenizer = _tokenizer()
    task = get_task(stage.task, **stage.task_params)
    train_rows = task.split_rows(32, stage.seed) if stage.task != "math" or not stage.dataset_path else []
    prompts = [render_prompt(tokenizer, row, stage.prompt_style) for row in train_rows]
    prompt_tokens = max(len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts)
    rows = stage.per_device_train_batch_size
    if stage.method == "grpo":
        steps = getattr(stage, "steps_per_generation", None) or stage.gradient_accumulation_steps
        return Workload(rows, prompt_tokens, stage.max_completion_length, max(rows // stage.num_generations, 1),
                        rows * steps)
    if stage.dataset_path and Path(stage.dataset_path).exists():  # the longest example decides a batch's padding
        return Workload(rows, 0, _longest_example(stage.dataset_path, tokenizer, stage.max_length), 0, 0)
    if stage.dataset_path or not train_rows:  # a data set not built yet: as long as max_length allows
        completion = max((stage.max_length or 1024) - prompt_tokens, 0)
    else:
        completion = max(len(tokenizer(task.reference_completion(row), add_special_tokens=False)["input_ids"])
                         for row in train_rows)
    return Workload(rows, prompt_tokens, completion, 0, 0)


# Until a GPU has run these recipes, a step's time is arithmetic on the card's datasheet, with these assumptions:
# the loss reaches 30% of the tensor cores' peak (LoRA on a 3B model, 4-bit dequantisation included); decoding moves
# its bytes at half the memory bandwidth; and the host launches every kernel of an eager decode step, at
# ``launches.LAUNCH_HOST_SECONDS`` each, while the GPU runs them (a CUDA graph launches once: ``KERNEL_GPU_SECONDS``
# each on the GPU). vLLM's own CUDA graphs and weights are its business: it is counted by bandwidth alone.
TRAIN_EFFICIENCY, DECODE_EFFICIENCY = 0.3, 0.5
# bitsandbytes 0.50 decodes an nf4 layer with its fused kernel (0.5 byte a weight and its scales) up to some rows,
# and above them dequantises to 16 bits and multiplies (0.5 read, 2 written, 2 read). Its per-card tiers
# (backends/cuda/ops.py, _gemm_4bit_use_custom_cuda) keep every Qwen2.5-3B layer on the fused kernel up to 32 rows
# on a T4 (sm75: 64) and an L4 (sm89; only the small k and v projections leave it).
FUSED_NF4_ROWS, FUSED_NF4_BYTES, DEQUANTISED_NF4_BYTES = 32, 0.5 + 1 / 64 + 4 / (64 * 256), 4.5


def decode_seconds(stage: RecipeArgs, card: str, workload: Workload | None = None) -> dict[str, float]:
    """Seconds one decoded token of a batch of rollouts takes on ``card``, by arithmetic: the GPU's time to move the
    weights and the cache, and the host's to launch the step's kernels (``minireason.launches``), which overlap;
    plus the launches a token makes. An estimate, never a measurement."""
    from minireason.launches import DECODE_LAUNCHES, KERNEL_GPU_SECONDS, LAUNCH_HOST_SECONDS

    workload = workload or workload_of(stage)
    spec, shape = CARDS[card], model_shape(stage.model)
    counts = shape.parameters()
    precision, _, dtype = on_card(stage, card)
    weight_bytes = 4 if dtype == "float32" else 2
    stream = 4 if weight_bytes == 4 or fp32_residual_stream(precision) else 2
    rows = max(workload.generation_sequences, 1)
    per_weight = weight_bytes
    if stage.load_in_4bit and not stage.use_vllm:
        per_weight = FUSED_NF4_BYTES if rows <= FUSED_NF4_ROWS else DEQUANTISED_NF4_BYTES
    context = workload.prompt_tokens + workload.completion_tokens / 2  # the cache's length, on average
    cache = rows * context * shape.layers * 2 * shape.kv_heads * shape.head_dim * stream
    memory = (counts["linear"] * per_weight + counts["other"] * weight_bytes + cache) / \
        (spec.bandwidth_gbs * 1e9 * DECODE_EFFICIENCY)
    if stage.use_vllm:
        return {"token": memory, "memory": memory, "host": 0.0, "launches": 0}
    path = DECODE_LAUNCHES["4-bit" if stage.load_in_4bit else "16-bit"]
    kernels = path.eager(shape.layers)
    if on_card_compiles(stage, card):
        launches = path.graphed()
        gpu = memory + kernels * KERNEL_GPU_SECONDS
    else:
        launches, gpu = kernels, memory
    host = launches * LAUNCH_HOST_SECONDS
    return {"token": max(gpu, host), "memory": memory, "host": host, "launches": launches}


def step_seconds(stage: RecipeArgs, card: str, workload: Workload | None = None) -> dict[str, float]:
    """Seconds one optimiser step of a GRPO ``stage`` would take on ``card``, by arithmetic (see above): the
    rollouts, each decoded to ``max_completion_length`` (``decode_seconds``), and the loss (6 FLOPs a parameter and
    token with gradient checkpointing: forward, recompute, backward through the activations; 4 without). An
    estimate, never a measurement: ``notebook.timing`` reports the measured pace."""
    workload = workload or workload_of(stage)
    spec, shape = CARDS[card], model_shape(stage.model)
    counts = shape.parameters()
    _, checkpointing, _ = on_card(stage, card)
    rollouts = stage.per_device_train_batch_size * stage.gradient_accumulation_steps
    batches = max(rollouts // max(workload.generation_sequences, 1), 1)
    decode = decode_seconds(stage, card, workload)
    flops = (6 if checkpointing else 4) * (counts["linear"] + counts["other"]) * rollouts * \
        (workload.prompt_tokens + workload.completion_tokens)
    parts = {"rollouts": batches * workload.completion_tokens * decode["token"],
             "loss": flops / (spec.tflops * 1e12 * TRAIN_EFFICIENCY)}
    return {**parts, "step": sum(parts.values()), "token_ms": decode["token"] * 1e3, "launches": decode["launches"]}


def on_card_compiles(stage: RecipeArgs, card: str | None) -> bool:
    """Whether ``stage`` decodes its rollouts as a CUDA graph on ``card``: its ``compile_rollouts``, or, left to the
    hardware, on any GPU (``recipes.grpo``)."""
    if "compile_rollouts" in getattr(stage, "hardware_defaults", ()):
        return card is not None
    return bool(getattr(stage, "compile_rollouts", False))


def card_of(recipe_name: str) -> str | None:
    """The card a recipe is written for, from its hardware name (``t4-16gb`` → ``T4 16 GB``); None for ``cpu``.

    >>> card_of("qwen2.5-3b/grpo-countdown/a100-40gb"), card_of("smollm2-135m/sft/cpu")
    ('A100 40 GB', None)
    """
    hardware = Path(recipe_name).stem
    for card in CARDS:
        chip, size = card.split()[0].lower(), card.split()[1]
        if hardware == f"{chip}-{size}gb":
            return card
    return None


def report(stages: list, card: str | None = None) -> str:
    """The breakdown of each stage on ``card`` (None: every card's total), then a verdict per card."""
    from minireason.reports.markdown import markdown_table

    lines = []
    shown = [card] if card else []
    workloads = [workload_of(stage) for stage in stages]  # the prompts and data are tokenised once, not per card
    for stage, workload in zip(stages, workloads):
        label = f"stage {stage.method} ({stage.output_dir})" if len(stages) > 1 else f"{stage.method}"
        for name in shown:
            parts = estimate(stage, name, workload)
            rows = [[part, f"{value / GIB:.2f}"] for part, value in parts.items()]
            rows.append(["**peak** (generation and the loss never overlap)", f"**{peak(parts) / GIB:.2f}**"])
            lines += [f"{label} on {name}:", "", markdown_table(["component", "GiB"], rows, numeric=[False, True]), ""]
            if stage.method == "grpo":
                time = step_seconds(stage, name, workload)
                lines += [f"step time on {name}, by the card's arithmetic (not measured): ~{time['step']:.0f} s "
                          f"(rollouts {time['rollouts']:.0f} s at {time['token_ms']:.0f} ms a token, "
                          f"{time['launches']:,} kernel launches a token; loss {time['loss']:.0f} s)", ""]
    rows = [[v["card"], f"{v['peak_gib']:.1f}", f"{CARDS[v['card']].memory_gib:.1f}",
             "fits" if v["fits"] else "does not fit"] for v in verdicts(stages, workloads)]
    lines += ["every card (the largest stage decides):", "",
              markdown_table(["card", "peak GiB (estimate)", "usable GiB", "verdict"], rows,
                             numeric=[False, True, True, False])]
    return "\n".join(lines)


def _longest_example(path: str, tokenizer, max_length: int | None, sample: int = 2000) -> int:
    """Tokens in the longest of the first ``sample`` examples of an SFT data set (cut at ``max_length``)."""
    from minireason.recipes.sft import load_sft_data

    dataset = load_sft_data(path)
    dataset = dataset.select(range(min(sample, len(dataset))))

    def text(value: str | list[dict]) -> str:
        return value if isinstance(value, str) else " ".join(m.get("content", "") for m in value)

    lengths = [len(tokenizer(text(example.get("prompt", "")) + text(example.get("completion", example.get("messages"))),
                             add_special_tokens=False)["input_ids"]) for example in dataset]
    return min(max(lengths), max_length or max(lengths))


@functools.lru_cache(maxsize=1)
def _tokenizer():
    from minireason.models import load_tokenizer

    return load_tokenizer("smollm2-135m")


def verdicts(stages: list, workloads: list[Workload] | None = None) -> list[dict]:
    """For each card: each stage's peak and whether it fits (the largest stage decides). ``workloads``, one per
    stage, spare measuring the same prompts and data again for every card."""
    workloads = workloads or [workload_of(stage) for stage in stages]
    rows = []
    for card, spec in CARDS.items():
        peaks = [peak(estimate(stage, card, workload)) for stage, workload in zip(stages, workloads)]
        rows.append({"card": card, "peak_gib": max(peaks) / GIB, "fits": max(peaks) <= spec.total_memory,
                     "per_stage_gib": [p / GIB for p in peaks]})
    return rows


class LiveTensorBytes:
    """Counts the bytes of every tensor storage alive, and their peak, while it is entered: the CPU stand-in for
    ``torch.cuda.max_memory_allocated``. Storages made before (the weights) are counted by ``add``; each new one
    is seen as an operator returns it (a ``TorchDispatchMode``) and dropped when Python frees it."""

    def __init__(self):
        import weakref

        from torch.utils._python_dispatch import TorchDispatchMode

        tracker = self

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                tracker._see(out)
                return out

        self._mode, self._weakref = _Mode(), weakref
        self.live: dict[int, int] = {}
        self.current = self.peak = 0

    def _see(self, value) -> None:
        import torch
        from torch.utils._pytree import tree_flatten

        for item in tree_flatten(value)[0]:
            if isinstance(item, torch.Tensor) and item.device.type != "meta":
                storage = item.untyped_storage()
                key = id(storage)
                if key not in self.live:
                    self.live[key] = storage.nbytes()
                    self.current += storage.nbytes()
                    self.peak = max(self.peak, self.current)
                    self._weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.current -= self.live.pop(key, 0)

    def add(self, tensors: Iterable[torch.Tensor]) -> None:
        self._see(list(tensors))

    def __enter__(self):
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        return self._mode.__exit__(*exc)


def measure(stage: RecipeArgs, prepare: Callable[[Trainer], object] | None = None) -> dict[str, float]:
    """Train ``stage`` for its ``max_steps`` and return its measured peak: ``allocated`` and ``reserved`` from
    CUDA's allocator on a GPU; on a CPU, the peak of live tensor bytes (``LiveTensorBytes``), which is what
    ``estimate`` predicts for a CPU. Pass a stage loaded with ``--max_steps``, ``--save_strategy no`` and
    ``--report_to none``. ``prepare(trainer)``, if given, sees the trainer first (a timer, say)."""
    import torch

    from minireason.recipes import grpo, sft

    build = grpo.build_trainer if stage.method == "grpo" else sft.build_trainer
    trainer, _ = build(stage)
    if prepare:
        prepare(trainer)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        trainer.train()
        return {"allocated": torch.cuda.max_memory_allocated(), "reserved": torch.cuda.max_memory_reserved()}
    tracker = LiveTensorBytes()
    tracker.add([*trainer.model.parameters(), *trainer.model.buffers()])
    with tracker:
        trainer.train()
    return {"allocated": tracker.peak}
