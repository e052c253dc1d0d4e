"""minireason: replicate reasoning LLMs (DeepSeek-R1 ideas) on a small budget.

- ``minireason.tasks``: Countdown, arithmetic and math tasks with exact, safe verifiers.
- ``minireason.answer_format``: the ``<think>…</think><answer>…</answer>`` format, its prompts and its checks.
- ``minireason.rewards``: TRL reward functions (format, accuracy, language consistency, shaping).
- ``minireason.models``: model + tokenizer loading (embedded SmolLM2-135M, 4-bit, LoRA).
- ``minireason.scaling``: the evaluator, from a stage's greedy score to pass@k, maj@k, best-of-N and budget forcing.
- ``minireason.reports``: every reader and writer of results: tables, plots, W&B, docs sections, verdicts.
- ``minireason.recipes``: the recipes' configs, by name (``minireason recipes``), and the code that runs them.
"""

import logging
import warnings

__version__ = "0.1.0"


class _NoOptionalKernelWarning(logging.Filter):
    """On a CPU with AVX-512 bf16, importing bitsandbytes (through peft and TRL) tries to fetch an optional
    faster 4-bit matmul from the Hugging Face hub and warns "Failed to load CPU gemm_4bit_forward from
    kernels-community" when it cannot (no ``kernels`` package, or no network). bitsandbytes then uses its own
    CPU kernel, which is what the QLoRA path here was tested with, so the warning says nothing to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to load CPU gemm_4bit_forward")


logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_NoOptionalKernelWarning())

# PEFT's PeftModel reads ``model.is_gradient_checkpointing``, which transformers renamed ``is_activation_checkpointing``
# and warns about on every adapter a run builds. The call is PEFT's (the kit's own code uses the new names), and
# nothing a user can change silences it, so this one message is left out; any other deprecation still shows.
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
