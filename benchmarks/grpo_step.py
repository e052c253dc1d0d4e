"""Time per GRPO step: minireason's recipe vs TRL's GRPOTrainer with the same model, data and config.

Both sides get the same model, LoRA settings, data set, rewards (accuracy + format) and
GRPO settings. minireason adds its zero-weight reflection metric and the cost callback;
the ratio shows what that costs. The first step (warm-up) is left out of the mean.

    python benchmarks/grpo_step.py --model smollm2-135m --steps 4     # ~5 min on 2 CPU cores
    python benchmarks/grpo_step.py --model tiny --steps 6             # seconds
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transformers import TrainerCallback  # noqa: E402


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times, self.started = [], None

    def on_step_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self.started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--completion-tokens", type=int, default=64)
    parser.add_argument("--generations", type=int, default=8)
    args = parser.parse_args()

    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from minireason.models import load_tokenizer, resolve_model
    from minireason.recipes import load_recipe
    from minireason.recipes.grpo import build_trainer
    from minireason.rewards import REWARDS

    out = Path(tempfile.mkdtemp())
    settings = {"method": "grpo", "model": args.model, "task": "arithmetic", "task_params": {"op": "add", "digits": 2},
                "n_train": 64, "n_eval": 0, "max_steps": args.steps, "num_generations": args.generations,
                "per_device_train_batch_size": args.generations, "max_completion_length": args.completion_tokens,
                "report_to": "none", "save_strategy": "no", "logging_steps": 1, "log_completions": False,
                "seed": 0}
    (cfg,) = load_recipe({**settings, "output_dir": str(out / "minireason")})
    ours, _ = build_trainer(cfg)
    ours_timer = StepTimer()
    ours.add_callback(ours_timer)
    ours.train()

    # The same thing written directly against TRL.
    (twin,) = load_recipe({**settings, "output_dir": str(out / "trl")})
    trl_config = GRPOConfig(
        output_dir=str(out / "trl"), max_steps=args.steps, num_generations=args.generations,
        per_device_train_batch_size=args.generations, max_completion_length=args.completion_tokens,
        learning_rate=twin.learning_rate, report_to="none", save_strategy="no", logging_steps=1, seed=0,
        bf16=twin.bf16, gradient_checkpointing=twin.gradient_checkpointing, model_init_kwargs=twin.model_init_kwargs,
    )
    from minireason.recipes.common import task_data

    _, rows, _ = task_data(twin)
    theirs = GRPOTrainer(model=resolve_model(args.model), reward_funcs=[REWARDS["accuracy"], REWARDS["format"]],
                         args=trl_config, train_dataset=Dataset.from_list(rows),
                         processing_class=load_tokenizer(args.model), peft_config=twin.peft_config())
    theirs_timer = StepTimer()
    theirs.add_callback(theirs_timer)
    theirs.train()

    def mean(times):
        steady = times[1:] or times
        return sum(steady) / len(steady)

    print(f"\n## GRPO step time, {args.model}, {args.generations} completions x {args.completion_tokens} tokens, "
          f"LoRA r={twin.lora_r}, mean of steps 2..{args.steps}")
    print(f"{'trainer':<26}{'s/step':>10}")
    print(f"{'minireason recipe':<26}{mean(ours_timer.times):>10.2f}")
    print(f"{'TRL GRPOTrainer':<26}{mean(theirs_timer.times):>10.2f}")
    print(f"ratio (minireason / TRL): {mean(ours_timer.times) / mean(theirs_timer.times):.3f}")


if __name__ == "__main__":
    main()
