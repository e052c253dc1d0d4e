"""minireason: replicate reasoning LLMs (DeepSeek-R1 ideas) on a small budget.

- ``minireason.tasks``: Countdown, arithmetic and math tasks with exact, safe verifiers.
- ``minireason.rewards``: TRL reward functions (format, accuracy, language consistency, shaping).
- ``minireason.models``: model + tokenizer loading (embedded SmolLM2-135M, 4-bit, LoRA).
- ``minireason.evaluation``: batched generation and scoring.
"""

__version__ = "0.1.0"
