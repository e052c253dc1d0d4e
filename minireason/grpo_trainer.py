"""TRL's ``GRPOTrainer`` with a cheaper step on small hardware: the same algorithm, less work.

Two overrides, each falling back to TRL's own code wherever it does not apply:

- **Rollouts** (``_generate_single_turn``) go through ``minireason.sampling.sample_ids``: the LoRA
  adapter merged into fp32 weights while sampling (kept apart from 16-bit and 4-bit ones), exact inverse-CDF
  sampling, and completions that stop at the answer format's closing tag. Used for plain temperature sampling
  with ``model.generate`` (no vLLM, no top-k/top-p/min-p, no multimodal inputs, no sharded weights). A rollout
  that stopped at the closing tag, from this sampler or from vLLM's stop strings, gets the end-of-sequence token
  after it, so TRL counts it as finished, not truncated (``end_stopped_rollouts``).
- **Loss** (``_get_per_token_logps_and_entropies``): a GRPO batch holds each prompt
  ``num_generations`` times, and TRL runs the model over prompt + completion for every one of them.
  Here each distinct prompt runs once; its key/value cache, gradients included, is shared by its
  completions. The log-probabilities are the same (tested to 1e-4), the prompt costs 1/G of before,
  and while the logits are small they come from a plain log-softmax instead of TRL's fused LM head.
  Used when gradient checkpointing is off (checkpointed layers keep no cache) and the model is text-only.

``benchmarks/grpo_step.py`` measures both against TRL with its defaults.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import torch
from accelerate.utils import DistributedType
from trl import GRPOTrainer

from minireason.answer_format import ANSWER_CLOSE
from minireason.console import no_completion_tables
from minireason.sampling import last_position, read_shared_beginning, sample_ids, select_rows, shared_prefix_length
from minireason.training_guard import GuardedTraining

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from transformers import PreTrainedModel, PreTrainedTokenizerBase
    from trl import GRPOConfig

# Up to this many logits (completions x tokens x vocabulary) the loss takes a plain log-softmax, which on a
# CPU runs the LM head's forward and backward in half the time of TRL's fused head (measured: 1,472 tokens x
# 49k vocabulary, 4.0 s against 8.8 s). Above it (a 3B model's 151k vocabulary over long completions), the
# fused head, which never holds all the logits at once.
PLAIN_LOGITS_LIMIT = 2**28


class FastGRPOTrainer(GuardedTraining, GRPOTrainer):
    """``GRPOTrainer`` plus ``fast_rollouts``, ``stop_strings``, ``share_prompt_prefix`` and ``compile_rollouts`` (see
    the module and ``sampling.sample_ids``), stopped when its numbers go wrong (``minireason.training_guard``)."""

    def __init__(self, *args, fast_rollouts: bool = True, stop_strings: tuple[str, ...] = (ANSWER_CLOSE,),
                 share_prompt_prefix: bool = True, compile_rollouts: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fast_rollouts, self.stop_strings, self.share_prompt_prefix = fast_rollouts, tuple(stop_strings), \
            share_prompt_prefix
        # On a GPU the compiled step is recorded as a CUDA graph; elsewhere it is compiled, nothing more.
        self.compile_decode = ({"mode": "reduce-overhead"} if torch.cuda.is_available() else {}) \
            if compile_rollouts else None

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        # Unless verbose, TRL's completion tables go to W&B and the completions folder, not to the console.
        with contextlib.nullcontext() if getattr(self.args, "verbose", True) else no_completion_tables():
            super().log(logs, start_time)

    # -- rollouts ------------------------------------------------------------------------
    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        engine = rollout_engine(self.args, self.fast_rollouts, self.accelerator.distributed_type)
        if engine == "minireason" and images is None and not multimodal_fields:
            completion_ids, logprobs = sample_ids(
                self.accelerator.unwrap_model(self.model), prompt_ids, self.max_completion_length, self.temperature,
                self._tokenizer.pad_token_id, self.eos_token_ids, tokenizer=self._tokenizer,
                stop=self.stop_strings, compile_decode=self.compile_decode), None
            stop = self.stop_strings
        else:
            completion_ids, logprobs = super()._generate_single_turn(prompt_ids, images, multimodal_fields,
                                                                     num_generations, has_tool_images)
            kwargs = self.args.generation_kwargs or {}
            # vLLM's stop strings (the recipe's ``stop_at_answer``); TRL's generate has none.
            stop = tuple(kwargs.get("stop") or ()) if engine == "vllm" and kwargs.get("include_stop_str_in_output") \
                else ()
        return end_stopped_rollouts(completion_ids, logprobs, self._tokenizer, stop, self.eos_token_ids)

    # -- loss ----------------------------------------------------------------------------
    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, **multimodal):
        shareable = (self.share_prompt_prefix and not compute_aux_loss and not self.args.activation_checkpointing
                     and all(value is None for value in multimodal.values()))
        if not shareable:
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size, compute_entropy, compute_aux_loss,
                **multimodal)
        batch_size = batch_size or input_ids.size(0)
        vocab = self.accelerator.unwrap_model(model).config.get_text_config().vocab_size
        logps, entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            chunk = slice(start, start + batch_size)
            logits = input_ids[chunk].size(0) * (logits_to_keep + 1) * vocab
            temperature = self.temperature if logits <= PLAIN_LOGITS_LIMIT else None
            chunk_logps, chunk_entropies = shared_prefix_forward(
                model, input_ids[chunk], attention_mask[chunk], logits_to_keep, temperature,
                entropy_grad=self.entropy_coef != 0.0 or self.use_adaptive_entropy)
            logps.append(chunk_logps)
            entropies.append(chunk_entropies)
        return torch.cat(logps), (torch.cat(entropies) if compute_entropy else None), None


def end_stopped_rollouts(completion_ids: list[list[int]], logprobs: list[list[float]] | None,
                         tokenizer: PreTrainedTokenizerBase, stop: tuple[str, ...],
                         eos_token_ids: list[int]) -> tuple[list[list[int]], list[list[float]] | None]:
    """Each rollout that ended at a ``stop`` string, given the end-of-sequence token after it.

    TRL counts a completion as truncated when its last token is neither an end token nor padding
    (``completions/clipped_ratio``, and ``mask_truncated_completions`` drops it from the loss). A rollout that
    stopped at ``</answer>`` carries no end token, so every well-formed answer read as cut off. With the end token
    appended it reads as what it is: finished. The policy then also learns to end there, as it learns from a
    sampled end token. Its sampling log-probability is 0 (the stop rule emits it with certainty), as TRL records
    for the tokens a tool inserts.

    >>> class Text:  # a tokenizer whose ids are characters
    ...     def decode(self, ids, skip_special_tokens=False): return "".join(chr(i) for i in ids)
    >>> ids = [[ord(c) for c in text] for text in ("<a>7</a>", "<a>7</", "<a>7</a>")]
    >>> ids[2].append(0)  # ended by the model's own end token
    >>> ended, _ = end_stopped_rollouts(ids, None, Text(), ("</a>",), eos_token_ids=[0])
    >>> [row[-1] for row in ended]
    [0, 47, 0]
    >>> end_stopped_rollouts([[55]], [[-0.5]], Text(), ("7",), eos_token_ids=[0])
    ([[55, 0]], [[-0.5, 0.0]])
    """
    if not stop:
        return completion_ids, logprobs
    ended, ended_logprobs = [], [] if logprobs is not None else None
    for row, ids in enumerate(completion_ids):
        stopped = bool(ids) and ids[-1] not in eos_token_ids and \
            any(text in tokenizer.decode(ids, skip_special_tokens=False) for text in stop)
        ended.append([*ids, eos_token_ids[0]] if stopped else ids)
        if logprobs is not None:
            ended_logprobs.append([*logprobs[row], 0.0] if stopped else logprobs[row])
    return ended, ended_logprobs


def rollout_engine(args: GRPOConfig, fast_rollouts: bool = True,
                   distributed_type: DistributedType = DistributedType.NO) -> str:
    """What samples a GRPO run's rollouts: ``vllm``, ``minireason`` (``sample_ids``: plain temperature sampling
    that stops at the stop strings) or ``transformers`` (TRL's own ``generate``, for everything else).

    >>> from types import SimpleNamespace as Args
    >>> plain = dict(use_vllm=False, use_transformers_continuous_batching=False, top_k=0, top_p=1.0, min_p=None,
    ...              repetition_penalty=1.0, generation_kwargs=None)
    >>> rollout_engine(Args(**plain)), rollout_engine(Args(**{**plain, "top_p": 0.9}))
    ('minireason', 'transformers')
    >>> rollout_engine(Args(**{**plain, "use_vllm": True})), rollout_engine(Args(**plain), fast_rollouts=False)
    ('vllm', 'transformers')
    """
    if args.use_vllm:
        return "vllm"
    plain = (fast_rollouts and not args.use_transformers_continuous_batching and not args.top_k
             and args.top_p == 1.0 and args.min_p is None and args.repetition_penalty == 1.0
             and not args.generation_kwargs
             and distributed_type not in (DistributedType.DEEPSPEED, DistributedType.FSDP))
    return "minireason" if plain else "transformers"


def shared_prefix_forward(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                          completion_length: int, temperature: float | None = None,
                          entropy_grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs and entropies of the last ``completion_length`` tokens of each row (0 where
    masked), running each distinct prompt once, and a beginning all prompts share once.

    The prompt's last token goes with the completion, so its output scores the first completion token;
    rows whose prompts are equal (same ids, same padding) share one prefix pass and its cache. With a
    ``temperature``, the log-probs come from plain logits (``log_softmax(logits / temperature)``), and the
    entropies carry gradients only with ``entropy_grad`` (TRL's entropy bonus); without one, from TRL's
    fused LM head, which ``model`` must carry (``add_fused_lm_head``).
    """
    split = input_ids.size(1) - completion_length - 1
    prefix = torch.cat([input_ids[:, :split], attention_mask[:, :split]], dim=1)
    distinct, owner = torch.unique(prefix, dim=0, return_inverse=True)
    prompts = [ids[mask.bool()].tolist() for ids, mask in zip(distinct[:, :split], distinct[:, split:])]
    common = shared_prefix_length(prompts)
    positions = None
    if common:
        # A beginning every prompt shares (an instruction, a worked example) is read once for all, with its
        # gradient; each prompt's own tokens follow it, left-padded, so the padding sits between the two and each
        # row's positions are given: its tokens' count so far.
        device = distinct.device
        cache = read_shared_beginning(model, prompts, common, device)
        own_ids = torch.full((len(prompts), split - common), 0, dtype=input_ids.dtype, device=device)
        own_mask = torch.zeros_like(own_ids)
        for row, ids in enumerate(prompts):
            own_ids[row, own_ids.size(1) - len(ids) + common:] = torch.tensor(ids[common:], device=device)
            own_mask[row, own_mask.size(1) - len(ids) + common:] = 1
        distinct_mask = torch.cat([torch.ones((len(prompts), common), dtype=own_mask.dtype, device=device),
                                   own_mask], dim=1)
        prefix_out = model(input_ids=own_ids, attention_mask=distinct_mask, cache=cache, use_cache=True,
                           position_ids=(distinct_mask.cumsum(-1) - 1).clamp(min=0)[:, common:],
                           logits_to_keep=last_position(split - common, device))  # its logits go unused
        attention_mask = torch.cat([distinct_mask.index_select(0, owner), attention_mask[:, split:]], dim=1)
        positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    else:
        prefix_out = model(input_ids=distinct[:, :split], attention_mask=distinct[:, split:], use_cache=True,
                           logits_to_keep=last_position(split, distinct.device))  # its logits go unused
    cache = getattr(prefix_out, "cache", None) or prefix_out.past_key_values
    shared = select_rows(cache, owner)
    suffix, suffix_mask = input_ids[:, split:], attention_mask[:, split:]
    suffix_positions = None if positions is None else positions[:, split:]
    if temperature is None:
        labels = suffix.masked_fill(suffix_mask == 0, -100)
        labels[:, 0] = -100  # the prompt's last token: its output is the first completion token's score
        out = model(input_ids=suffix, attention_mask=attention_mask, position_ids=suffix_positions, cache=shared,
                    labels=labels, fused_lm_head=True)
        return out.log_probs, out.entropy
    logits = model(input_ids=suffix, attention_mask=attention_mask, position_ids=suffix_positions,
                   cache=shared).logits[:, :-1]
    log_probs = torch.log_softmax(logits.float() / temperature, dim=-1)
    scored = suffix_mask[:, 1:].to(log_probs.dtype)
    with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
        entropy = -(log_probs.exp() * log_probs).sum(-1) * scored
    return log_probs.gather(-1, suffix[:, 1:].unsqueeze(-1)).squeeze(-1) * scored, entropy
