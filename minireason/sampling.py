"""Batched sampling for rollouts and evaluation, tuned for small models on a CPU.

One function, ``sample_ids``, turns prompt token ids into completion token ids. GRPO's rollouts
(``minireason.grpo_trainer``) and every evaluation (``minireason.evaluation.generate``) use it, so a
model is scored the way it was trained. Measured on 2 CPU cores with SmolLM2-135M (docs/benchmarks.md):

- LoRA is merged into fp32 weights while sampling and dropout is off (``inference_mode``): an
  unmerged adapter adds two small matmuls to each of the 210 linear layers at every decode step. Into
  half-precision weights it would round away, so there it stays apart, run lean (``adapters_in``: 83 ms a decode
  step for 16 rows in bf16 here, against 101 through PEFT's forward and 72 without an adapter).
- Sampling draws each token by inverse CDF instead of ``torch.multinomial``: exact, and about 18 ms
  instead of 80 ms per step for 64 rows over a 49k vocabulary.
- Each distinct prompt is read once (a GRPO batch repeats every prompt), a beginning they all share (an
  instruction, a worked example) once for the batch, and the decode loop is a plain cache-and-sample loop
  without ``model.generate``'s per-step work. Rows that have ended leave the batch.
- A completion ends at the task format's closing tag (``</answer>``), as vLLM's ``stop`` does, so
  nobody pays for text after the answer and the format is judged on what was sampled.
"""

from __future__ import annotations

import contextlib
import functools
import math
from typing import TYPE_CHECKING

import torch
from transformers import StopStringCriteria

from minireason.hardware import FP16_OVERFLOW_FIX

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from collections.abc import Callable

    from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase, StaticCache


def draw_tokens(logits: torch.Tensor, temperature: float, uniforms: torch.Tensor | None = None) -> torch.Tensor:
    """One token per row: sampled from ``softmax(logits / temperature)``, or the argmax when the temperature is 0;
    -1 for a row whose logits hold a NaN (or, when sampling, +inf), so that the caller can refuse it.
    ``uniforms``: one draw in [0, 1) a row (default: fresh ones).

    Sampling is by inverse CDF (a cumulative sum and a binary search): exact, and on a CPU several
    times cheaper than ``torch.multinomial`` over a large vocabulary. A NaN cumulative sum would otherwise
    pass through the search as the last vocabulary id, silently.

    >>> _ = torch.manual_seed(0)
    >>> logits = torch.log(torch.tensor([[0.2, 0.0, 0.8]])).repeat(20_000, 1)
    >>> picks = draw_tokens(logits, 1.0)
    >>> round((picks == 2).float().mean().item(), 2), int((picks == 1).sum()), draw_tokens(logits[:1], 0).tolist()
    (0.8, 0, [2])
    >>> broken = torch.tensor([[0.0, float("nan"), 1.0], [0.0, 1.0, 2.0]])
    >>> draw_tokens(broken, 1.0).tolist()[0], draw_tokens(broken, 0).tolist()
    (-1, [-1, 2])
    """
    if temperature <= 0:
        picks = logits.argmax(-1)  # a NaN in a row is its argmax
        return picks.masked_fill_(logits.gather(-1, picks.unsqueeze(-1)).squeeze(-1).isnan(), -1)
    cdf = torch.softmax(logits.float() / temperature, dim=-1).cumsum_(-1)
    if uniforms is None:
        uniforms = torch.rand(cdf.size(0), 1, device=cdf.device)
    draws = uniforms * cdf[:, -1:]
    picks = torch.searchsorted(cdf, draws).squeeze(1).clamp_(max=logits.size(-1) - 1)
    return picks.masked_fill_(cdf[:, -1].isnan(), -1)


@functools.lru_cache(maxsize=8)
def _stop_strings(tokenizer, strings: tuple[str, ...]) -> StopStringCriteria:
    # Building the criterion scans the vocabulary (~0.3 s for 49k tokens): once per tokenizer.
    return StopStringCriteria(tokenizer, list(strings))


def _is_quantized(model) -> bool:
    return any(getattr(model, flag, False) for flag in ("is_loaded_in_4bit", "is_loaded_in_8bit")) or \
        getattr(getattr(model, "config", None), "quantization_config", None) is not None


def _lean_lora_forward(x: torch.Tensor, *args: object, base: torch.nn.Module, down: torch.Tensor, up: torch.Tensor,
                       after: float, **kwargs: object) -> torch.Tensor:
    update = torch.nn.functional.linear(torch.nn.functional.linear(x, down), up)
    return base(x, *args, **kwargs) + (update if after == 1.0 else update * after)


@contextlib.contextmanager
def adapters_in(dtype: torch.dtype, model: torch.nn.Module):
    """Each plain LoRA layer of ``model`` computes ``base(x) + B(A(x)) * scaling`` with ``A`` and ``B`` cast to
    ``dtype`` once, for as long as the context lasts: what PEFT computes under bf16 autocast, bit for bit (in fp16 to
    within its subnormals), without its per-call work (an fp32 copy of the input, the casts, a separate scaling). A
    bf16 CPU decoded at batch 16 in 83 ms a step so, against 101. Layers that are merged, quantised, off, biased, or
    hold several adapters or a variant (DoRA) keep PEFT's own forward."""
    from peft.tuners.lora.layer import Linear as LoraLinear

    lean = []
    try:
        for layer in model.modules():
            if (type(layer) is not LoraLinear or layer.merged or layer.disable_adapters or layer.lora_variant
                    or type(layer.base_layer) is not torch.nn.Linear or len(layer.active_adapters) != 1
                    or layer.active_adapters[0] not in layer.lora_A or "forward" in vars(layer)):
                continue
            (name,) = layer.active_adapters
            if layer.lora_B[name].bias is not None:
                continue
            scaling = layer.scaling[name]
            # A power of two scales a product exactly, so B may carry it (alpha = 2r, the default); else it follows.
            exact = scaling > 0 and math.frexp(scaling)[0] == 0.5
            down = layer.lora_A[name].weight.detach().to(dtype)
            up = (layer.lora_B[name].weight.detach() * (scaling if exact else 1.0)).to(dtype)
            layer.forward = functools.partial(_lean_lora_forward, base=layer.base_layer, down=down, up=up,
                                              after=1.0 if exact else scaling)
            lean.append(layer)
        yield
    finally:
        for layer in lean:
            del layer.forward


@contextlib.contextmanager
def inference_mode(model: PreTrainedModel, merge_lora: bool = True, lean_adapters: bool = True):
    """Eval mode (no dropout) with LoRA adapters merged into fp32 weights, no gradients, and autocast for a model whose
    weights are half precision; restored on exit.

    Merging into 4-bit weights would re-quantise them, and into 16-bit weights round the update away, so those
    models keep their adapters apart.
    Merging and unmerging round the base weights (w + d - d is not always w in floating point), so a
    measurement that must leave a training run bit-identical passes ``merge_lora=False``.
    ``lean_adapters``: adapters kept apart run lean (``adapters_in``); a compiled decode step passes False, since
    the lean layers are new functions at each entry, which would recompile it every time.
    """
    was_training = model.training
    weights = model.get_input_embeddings().weight
    half = weights.dtype if weights.dtype in (torch.float16, torch.bfloat16) else None
    # Merging only into fp32 weights: a LoRA update is small beside a weight, and half precision keeps ~3 digits,
    # so merged into bf16 or fp16 weights most of it would round away and the rollouts would sample another policy
    # than the one trained (on a bf16 CPU the demo's SFT then GRPO gained +10.9 points so, +20.3 in fp32). Apart,
    # the adapter computes as the loss computes it.
    merge = (merge_lora and hasattr(model, "merge_adapter") and not half
             and not _is_quantized(model.get_base_model()))
    model.eval()
    if merge:
        model.merge_adapter()
    try:
        # Half-precision weights (a bf16 CPU, a GPU) compute under autocast, as a trainer runs them (their fp32
        # adapters, and a T4's fp32 residual stream, meet them there); outside a trainer nothing else turns it on.
        lean = lean_adapters and half and not merge and hasattr(model, "peft_config")
        with torch.no_grad(), torch.autocast(weights.device.type, dtype=half or torch.float32, enabled=bool(half)), \
                adapters_in(half, model) if lean else contextlib.nullcontext():
            yield model
    finally:
        if merge:
            model.unmerge_adapter()
        model.train(was_training)


def sample_ids(model: PreTrainedModel, prompt_ids: list[list[int]], max_new_tokens: int, temperature: float,
               pad_token_id: int, eos_token_ids: list[int], tokenizer: PreTrainedTokenizerBase | None = None,
               stop: list[str] | tuple[str, ...] = (), merge_lora: bool = True,
               compile_decode: dict | None = None) -> list[list[int]]:
    """Completion token ids for each prompt, in one batch; greedy when ``temperature`` is 0.

    A completion ends with its first end-of-sequence token (kept, as TRL keeps it) or with the
    token that completes a ``stop`` string (``tokenizer`` needed); nothing after it is returned.
    ``merge_lora``: as in ``inference_mode``.
    Logits that are not numbers (fp16 overflow) raise ``FloatingPointError`` instead of becoming tokens.
    ``compile_decode``: ``torch.compile`` options for the decode step, which then reads and writes a static cache
    (every step the same shapes): ``{"mode": "reduce-overhead"}`` records it as a CUDA graph, so a GPU's host
    launches one graph a token instead of every kernel of every layer (``minireason.launches``). None: eager.

    Each distinct prompt is read once and its cache copied to its repeats: a GRPO batch holds every
    prompt ``num_generations`` times, and reading 64 prompts of 69 tokens costs as much as 28 decode
    steps. A beginning all prompts share (``shared_prefix_length``) is read once: the demo's 128-problem
    evaluation on its one-shot prompt took 14 s so, against 23 s (2 cores, bf16). Eagerly decoded rows that have
    ended leave the cache once they are a quarter of the batch, so a few long rows do not set the cost of all.
    The loop is a plain cache-and-sample loop rather than ``model.generate``, whose own work
    per step cost ~100 ms at batch 64 on 2 cores (measured: 23 s against 17 s for 64 x 48 tokens).
    On a GPU it asks the host nothing per token: the buffers are preallocated, and whether every row has
    ended is read every ``_GPU_SYNC_EVERY`` tokens. A model split over several GPUs works: ids go in on the
    embedding's device, and the bookkeeping stays beside the logits.
    """
    index: dict[tuple, int] = {}
    owner = torch.tensor([index.setdefault(tuple(ids), len(index)) for ids in prompt_ids])
    distinct = list(index)
    device = model.get_input_embeddings().weight.device
    # The prompts' common beginning (an instruction, a worked example) is read once, for all of them. Eager decoding
    # only: a compiled step's static cache and positions assume left padding.
    shared = shared_prefix_length(distinct) if compile_decode is None else 0
    suffix_width = max(len(ids) for ids in distinct) - shared
    width = shared + suffix_width  # the cache's positions before the first sampled token
    input_ids = torch.full((len(distinct), suffix_width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(distinct), width + max_new_tokens), dtype=torch.long)
    attention_mask[:, :shared] = 1
    for row, ids in enumerate(distinct):  # left padding: every prompt ends where sampling starts
        input_ids[row, suffix_width - len(ids) + shared:] = torch.tensor(ids[shared:], dtype=torch.long)
        attention_mask[row, width - len(ids) + shared:width] = 1
    input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
    stopper = _stop_strings(tokenizer, tuple(stop)) if stop else None
    # With a shared prefix the padding sits between it and each prompt's own tokens, so each row's positions are
    # given: its tokens' count so far (without one, the cache's slots, shifted alike along a row by its padding).
    positions = torch.tensor([len(ids) for ids in distinct], device=device).index_select(0, owner.to(device)) \
        if shared else None

    n = len(prompt_ids)
    with inference_mode(model, merge_lora, lean_adapters=compile_decode is None):
        cache = read_shared_beginning(model, distinct, shared, device) if shared else None
        suffix_positions = shared + (attention_mask[:, shared:width].cumsum(-1) - 1).clamp(min=0) if shared else None
        out = model(input_ids=input_ids, attention_mask=attention_mask[:, :width], position_ids=suffix_positions,
                    cache=cache, use_cache=True, logits_to_keep=last_position(suffix_width, device))
        cache = select_rows(_cache_of(out), owner)
        attention_mask = attention_mask.index_select(0, owner.to(device))
        logits = out.logits[:, -1].index_select(0, owner.to(out.logits.device))
        where = logits.device  # the last layer's device, when the model is split
        sync_every = 1 if where.type == "cpu" else _GPU_SYNC_EVERY  # a CPU "sync" costs nothing
        step_fn = _decode_step
        if compile_decode is not None:
            step_fn = _compiled_step(tuple(sorted(compile_decode.items())))
            cache = static_cache(model, cache, width + max_new_tokens)
        eos = torch.tensor(list(eos_token_ids), device=where)
        tokens = torch.full((n, max_new_tokens), pad_token_id, dtype=torch.long, device=where)
        lengths = torch.full((n,), max_new_tokens, dtype=torch.long, device=where)
        rows = None  # the batch's rows still in the cache, in its order, once some have left it (None: all)
        done = torch.zeros(n, dtype=torch.bool, device=where)  # of those rows
        for step in range(max_new_tokens):
            # Every step draws one uniform for each of the n rows, ended or not, so a row's draws do not depend on
            # when others ended and left the batch.
            uniforms = torch.rand(n, 1, device=where) if temperature > 0 else None
            if rows is not None and uniforms is not None:
                uniforms = uniforms.index_select(0, rows)
            token = draw_tokens(logits, temperature, uniforms).masked_fill_(done, pad_token_id)
            if rows is None:  # a GPU's compiled path stays here: no indexing, no extra kernels
                tokens[:, step] = token
                written = tokens[:, :step + 1]
            else:
                tokens[rows, step] = token
                written = tokens.index_select(0, rows)[:, :step + 1]
            ended = ~done & (torch.isin(token, eos) | (token < 0))
            if stopper is not None:
                ended |= ~done & stopper(written, None).to(where)
            if rows is None:
                lengths = torch.where(ended, step + 1, lengths)
            else:
                lengths[rows] = torch.where(ended, step + 1, lengths.index_select(0, rows))
            done |= ended
            if step + 1 == max_new_tokens or (step + 1) % sync_every:
                pass
            elif bool(done.all()):
                break
            elif compile_decode is None and 4 * int(done.sum()) >= len(done):
                # A quarter of the rows have ended: drop them from the cache, so the rest decode at a smaller
                # batch instead of carrying the finished ones to the longest row's end (a few long rows would
                # otherwise set the cost of all). The static cache of a compiled step keeps its shape.
                keep = (~done).nonzero().squeeze(1)
                cache = select_rows(cache, keep)
                attention_mask, token = attention_mask.index_select(0, keep.to(device)), token.index_select(0, keep)
                rows = (torch.arange(n, device=where) if rows is None else rows).index_select(0, keep)
                done = done.index_select(0, keep)
                positions = positions.index_select(0, keep.to(device)) if shared else None
            if step + 1 == max_new_tokens:
                break
            attention_mask[:, width + step] = (~done).to(device)
            token_in = token.clamp(min=0).unsqueeze(1).to(device)
            if compile_decode is None:
                logits = step_fn(model, token_in, attention_mask[:, :width + step + 1], None, cache,
                                 None if positions is None else (positions + step).unsqueeze(1))
                continue
            position = torch.full((1,), width + step, dtype=torch.long, device=device)
            # A new step for CUDA graphs: the last step's logits, already drawn from, may be overwritten in place.
            torch.compiler.cudagraph_mark_step_begin()
            try:  # the whole mask each step: the static cache's length, so the shapes never change
                logits = step_fn(model, token_in, attention_mask, position, cache)
            except Exception as error:  # noqa: BLE001 - a compiler failure must not cost the run: go on eagerly
                if step_fn is _decode_step:
                    raise
                print(f"minireason: the compiled decode step failed ({type(error).__name__}: {str(error)[:200]}); "
                      "sampling eagerly")
                step_fn = _decode_step
                logits = step_fn(model, token_in, attention_mask, position, cache)
    broken = int((tokens < 0).any(1).sum())  # a row ends where it meets them, so its -1 stays in the buffer
    if broken:
        raise FloatingPointError(
            f"{broken} of {n} rollouts met logits that are not numbers (NaN or inf). In fp16 this is an "
            f"overflow (Qwen2 models are known for it): {FP16_OVERFLOW_FIX}.")
    generated = tokens.tolist()
    return [ids[:length] for ids, length in zip(generated, lengths.tolist())]


def last_position(width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``logits_to_keep`` for the last of ``width`` positions, as an index, not the int 1. With an int, transformers
    slices the hidden states to a strided view, and under bf16 autocast on a CPU the LM head then multiplies it
    batch by batch, copying the whole head once per row: a 64-prompt prefill took 5.8 s in bf16 against 4.3 s in
    fp32. An index gathers a contiguous row first: 2.3 s."""
    return torch.tensor([width - 1], device=device)


def _decode_step(model: PreTrainedModel, token: torch.Tensor, attention_mask: torch.Tensor,
                 position: torch.Tensor | None, cache: DynamicCache | StaticCache,
                 position_ids: torch.Tensor | None = None) -> torch.Tensor:
    """One token's forward for every row: the last position's logits."""
    return model(input_ids=token, attention_mask=attention_mask, cache=cache, cache_position=position,
                 position_ids=position_ids, use_cache=True).logits[:, -1]


# A shorter common beginning is read with the rest: the batch-of-one pass and the cache copy would cost more.
_MIN_SHARED_PREFIX = 16


def shared_prefix_length(prompts: list[tuple[int, ...]] | list[list[int]]) -> int:
    """How many leading tokens all ``prompts`` share, if that is worth reading once (``_MIN_SHARED_PREFIX``), else 0;
    every prompt keeps at least one token of its own, whose logits start its completion.

    >>> shared_prefix_length([(1,) * 20 + (2, 3), (1,) * 20 + (4,)]), shared_prefix_length([(1,) * 20, (2,) * 20])
    (20, 0)
    >>> shared_prefix_length([(1,) * 30 + (2,), (1,) * 20 + (5,)]), shared_prefix_length([(9,) * 40])
    (20, 0)
    """
    if len(prompts) < 2:
        return 0
    shared = min(len(ids) for ids in prompts) - 1
    first = prompts[0]
    for ids in prompts[1:]:
        shared = next((i for i in range(shared) if ids[i] != first[i]), shared)
    return shared if shared >= _MIN_SHARED_PREFIX else 0


@functools.lru_cache(maxsize=4)
def _compiled_step(options: tuple) -> Callable:
    # One compiled function per set of options; dynamo keeps a graph per model and per shape it meets (a batch whose
    # prompts are longer recompiles once, then treats the length as dynamic).
    return torch.compile(_decode_step, **dict(options))


def static_cache(model: PreTrainedModel, prefix: DynamicCache, length: int) -> StaticCache:
    """A ``StaticCache`` of ``length`` positions holding ``prefix``'s keys and values at its first positions: what a
    compiled decode step reads and writes in place, its tensors at fixed addresses (a CUDA graph replays on them)."""
    from transformers import StaticCache

    cache = StaticCache(config=model.config, max_cache_len=length)
    for index, layer in enumerate(prefix.layers):
        positions = torch.arange(layer.keys.shape[-2], device=layer.keys.device)
        cache.update(layer.keys, layer.values, index, {"cache_position": positions})
    return cache


# On a GPU, check every this many tokens whether all rows have ended: each check waits for the device, and a
# batch that ended early runs at most this many steps too many.
_GPU_SYNC_EVERY = 8


def _cache_of(outputs):
    return getattr(outputs, "cache", None) or outputs.past_key_values


def read_shared_beginning(model: PreTrainedModel, prompts: list, shared: int,
                          device: torch.device | str) -> DynamicCache:
    """The first ``shared`` tokens, which every one of ``prompts`` begins with, read once (gradients flow when
    enabled): a cache of them for each prompt, which reads its own tokens after it."""
    read = model(input_ids=torch.tensor([list(prompts[0][:shared])], device=device), use_cache=True,
                 logits_to_keep=last_position(shared, device))
    return select_rows(_cache_of(read), torch.zeros(len(prompts), dtype=torch.long))


def select_rows(cache: DynamicCache, rows: torch.Tensor):
    """A cache holding ``rows`` of ``cache``'s batch, in that order (rows may repeat)."""
    from transformers import DynamicCache

    # Each layer's cache lives on that layer's device (several, when the model is split over GPUs).
    return DynamicCache(ddp_cache_data=[(layer.keys.index_select(0, rows.to(layer.keys.device)),
                                         layer.values.index_select(0, rows.to(layer.values.device)))
                                        for layer in cache.layers])


def eos_token_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The tokens that end a completion: the tokenizer's end-of-sequence and the model's own (chat models
    often end turns with another token)."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    configured = configured if isinstance(configured, list) else [configured]
    return list(dict.fromkeys(t for t in [tokenizer.eos_token_id, *configured] if t is not None))
