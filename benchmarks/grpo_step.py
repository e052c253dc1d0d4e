"""A GRPO step, minireason's recipe against TRL's GRPOTrainer with its defaults, side by side.

Both get the same model with the same LoRA adapter, the same data (the recipe's problems and
prompts), the same rewards, group size, completion length and temperature. "TRL defaults" is
``GRPOConfig`` left as it comes, bf16 and gradient checkpointing included (bf16 only where this CPU has bf16
instructions: without them torch emulates it, slower than fp32): one prompt (8 completions) a step,
``model.generate`` rollouts, and a loss that re-reads the prompt for every completion. The recipe's precision
follows the CPU the same way. The other rows are the
recipe, then the recipe with one of its speed-ups turned off, to show what each is worth.

For each: seconds per step; generation tok/s (completion tokens / time in rollouts); train tok/s
(completion tokens / the rest of the step: loss, backward, optimizer, rewards); throughput
(completion tokens / wall time). Steps after the first are averaged (the first warms caches up).

    python benchmarks/grpo_step.py                                    # SmolLM2-135M, ~8 min on 2 cores
    python benchmarks/grpo_step.py --model tiny --steps 2             # under a minute (tests/test_benchmarks.py)
    python benchmarks/grpo_step.py --recipe recipes/smollm2-135m/sft-then-grpo/cpu.yaml
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


from minireason.reports.markdown import markdown_table
from minireason.reports.training import StepMeter

DEFAULT_RECIPE = ROOT / "recipes" / "smollm2-135m" / "grpo-arithmetic" / "cpu.yaml"


def trl_defaults(recipe, out: Path, steps: int):
    """TRL's GRPOTrainer as its docs show it, on the recipe's model, data, rewards and group."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from minireason.hardware import cpu_bf16_native
    from minireason.models import load_tokenizer, resolve_model
    from minireason.recipes.data import task_data
    from minireason.rewards import get_reward
    from minireason.tasks import row_prompt

    config = GRPOConfig(
        output_dir=str(out), max_steps=steps, num_generations=recipe.num_generations,
        max_completion_length=recipe.max_completion_length, temperature=recipe.temperature,
        learning_rate=recipe.learning_rate, seed=recipe.seed, report_to="none", save_strategy="no",
        logging_steps=1, bf16=cpu_bf16_native(), use_cpu=True)
    _, rows, _ = task_data(recipe)
    dataset = Dataset.from_list([{**row, "prompt": row_prompt(row, recipe.prompt_style)} for row in rows])
    return GRPOTrainer(model=resolve_model(recipe.model), reward_funcs=[get_reward(n) for n in recipe.reward_funcs],
                       args=config, train_dataset=dataset, processing_class=load_tokenizer(recipe.model),
                       peft_config=recipe.peft_config())


def recipe_trainer(recipe_path: str, out: Path, steps: int, model: str, extra: list[str]):
    from minireason.recipes import load_recipe
    from minireason.recipes.grpo import build_trainer

    stages = load_recipe(recipe_path, ["--model", model, "--max_steps", str(steps), "--n_eval", "0",
                                       "--report_to", "none", "--save_strategy", "no", "--output_dir", str(out),
                                       "--num_completions_to_print", "0", "--log_completions", "false", *extra])
    grpo = [stage for stage in stages if stage.method == "grpo"][-1]
    grpo.adapter = None  # an SFT-then-GRPO recipe: time its GRPO stage from fresh LoRA, no SFT needed
    return build_trainer(grpo)[0], grpo


def measure(trainer) -> dict:
    meter = StepMeter(trainer)
    trainer.add_callback(meter)
    trainer.train()
    return meter.summary()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default=str(DEFAULT_RECIPE), help="a GRPO or SFT-then-GRPO recipe")
    parser.add_argument("--model", default="smollm2-135m", help="smollm2-135m (embedded) or tiny")
    parser.add_argument("--steps", type=int, default=3, help="steps per row; the first is left out of the means")
    parser.add_argument("--no-ablations", action="store_true", help="only TRL's defaults and the recipe")
    args = parser.parse_args(argv)

    out = Path(tempfile.mkdtemp(prefix="grpo-step-"))
    rows = {}
    trainer, recipe = recipe_trainer(args.recipe, out / "recipe", args.steps, args.model, [])
    rows["minireason recipe"] = measure(trainer)
    rows["TRL GRPOTrainer defaults"] = measure(trl_defaults(recipe, out / "trl", args.steps))
    if not args.no_ablations:
        for label, flags in (("recipe, TRL's rollouts", ["--fast_rollouts", "false"]),
                             ("recipe, no shared prompt prefix", ["--share_prompt_prefix", "false"]),
                             ("recipe, one prompt a step", ["--per_device_train_batch_size",
                                                            str(recipe.num_generations)])):
            trainer, _ = recipe_trainer(args.recipe, out / label.replace(" ", "_"), args.steps, args.model, flags)
            rows[label] = measure(trainer)

    base = rows["TRL GRPOTrainer defaults"]["throughput_tok_s"]
    print(f"\n## GRPO step, {args.model}: group {recipe.num_generations}, up to {recipe.max_completion_length} "
          f"completion tokens, T={recipe.temperature}, LoRA r={recipe.lora_r}; mean of steps 2..{args.steps}")
    print(f"recipe: {Path(args.recipe).relative_to(ROOT) if Path(args.recipe).is_relative_to(ROOT) else args.recipe}\n")
    table = [[label, row["completions_per_step"], f"{row['s_per_step']:.1f}", f"{row['generation_tok_s']:.0f}",
              f"{row['train_tok_s']:.0f}", f"{row['throughput_tok_s']:.1f}", f"{row['throughput_tok_s'] / base:.2f}x"]
             for label, row in rows.items()]
    print(markdown_table(["trainer", "completions/step", "s/step", "generation tok/s", "train tok/s",
                          "throughput tok/s", "vs TRL"], table, numeric=[False] + [True] * 6))
    return rows


if __name__ == "__main__":
    main()
