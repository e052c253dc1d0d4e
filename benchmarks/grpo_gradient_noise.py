"""How much of one GRPO step is signal: gradients from disjoint batches of prompts, compared.

From one model (by default the demo's SFT adapter), sample ``--generations`` completions for each of
``--prompts`` training problems, score them with the recipe's rewards, and compute each prompt's GRPO
policy gradient (advantages normalised within the group, as TRL does). Then, for batches of 1, 2, 4,
8 and 16 prompts, compare the summed gradients of two disjoint batches: their cosine similarity
estimates how far one step's direction carries over to the next problems. Near 0, a step is mostly
noise; Adam still moves every weight by about the learning rate, so noise steps wander away from the
SFT solution. Also printed: the spread of a step's mean reward that comes from which problems it drew.

    python benchmarks/grpo_gradient_noise.py --adapter outputs/demo/sft-then-grpo/sft/final   # ~5 min
    python benchmarks/grpo_gradient_noise.py --model tiny --prompts 8 --generations 4         # seconds
"""

from __future__ import annotations

import argparse
import random
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from minireason.reports.markdown import markdown_table

DEFAULT_RECIPE = ROOT / "recipes" / "smollm2-135m" / "sft-then-grpo" / "cpu.yaml"


def prompt_gradients(model, tokenizer, rows, prompts, reward_funcs, weights, generations, max_tokens, temperature):
    """Per prompt: the flattened gradient of its group's GRPO loss, its mean reward, its reward spread."""
    import torch

    from minireason.answer_format import ANSWER_CLOSE
    from minireason.sampling import eos_token_ids, sample_ids

    params = [p for p in model.parameters() if p.requires_grad]
    results = []
    for row, prompt in zip(rows, prompts):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        completions = sample_ids(model, [prompt_ids] * generations, max_tokens, temperature, tokenizer.pad_token_id,
                                 eos_token_ids(model, tokenizer), tokenizer=tokenizer, stop=(ANSWER_CLOSE,))
        texts = [tokenizer.decode(ids, skip_special_tokens=True) for ids in completions]
        columns = {key: [value] * generations for key, value in row.items() if key != "prompt"}
        rewards = torch.zeros(generations)
        for function, weight in zip(reward_funcs, weights):
            rewards += weight * torch.tensor(function(texts, prompts=[prompt] * generations, completion_ids=completions,
                                                      **columns))
        advantages = (rewards - rewards.mean()) / (rewards.std() + 1e-4)
        model.zero_grad()
        model.train()
        loss = 0.0
        for ids, advantage in zip(completions, advantages):
            if not ids or advantage == 0:
                continue
            sequence = torch.tensor([prompt_ids + ids])
            logits = model(input_ids=sequence).logits[0, len(prompt_ids) - 1 : -1].float() / temperature
            logps = torch.log_softmax(logits, -1).gather(-1, torch.tensor(ids)[:, None]).squeeze(-1)
            loss = loss - advantage * logps.mean() / generations
        if torch.is_tensor(loss):
            loss.backward()
        gradient = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params])
        results.append({"gradient": gradient.clone(), "mean_reward": rewards.mean().item(),
                        "reward_std": rewards.std().item()})
    return results


def cosine_by_batch(gradients, sizes, trials: int = 200, seed: int = 0) -> dict[int, tuple[float, float]]:
    """For each batch size, the mean and standard deviation of the cosine between two disjoint batches' sums."""
    import torch

    rng = random.Random(seed)
    out = {}
    for size in sizes:
        if 2 * size > len(gradients):
            continue
        cosines = []
        for _ in range(trials):
            picked = rng.sample(range(len(gradients)), 2 * size)
            first = torch.stack([gradients[i] for i in picked[:size]]).sum(0)
            second = torch.stack([gradients[i] for i in picked[size:]]).sum(0)
            cosines.append(torch.nn.functional.cosine_similarity(first, second, dim=0).item())
        out[size] = (statistics.mean(cosines), statistics.stdev(cosines))
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default=str(DEFAULT_RECIPE), help="its GRPO stage gives rewards, data, T, lengths")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--adapter", help="a LoRA adapter to start from (the demo's SFT: .../sft/final)")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--generations", type=int, default=8)
    args = parser.parse_args(argv)

    import torch

    from minireason.models import load_model
    from minireason.recipes import load_recipe
    from minireason.recipes.data import task_data
    from minireason.rewards import get_reward
    from minireason.tasks import row_prompt

    torch.manual_seed(0)
    stage = [s for s in load_recipe(args.recipe, ["--model", args.model, "--report_to", "none"])
             if s.method == "grpo"][-1]
    model, tokenizer = load_model(args.model, lora={"lora_dropout": 0.0}, adapter=args.adapter)
    _, rows, _ = task_data(stage)
    rows = rows[: args.prompts]
    prompts = [row_prompt(row, stage.prompt_style) for row in rows]
    if stage.prompt_style == "chat":
        prompts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    weights = stage.reward_weights or [1.0] * len(stage.reward_funcs)
    results = prompt_gradients(model, tokenizer, rows, prompts, [get_reward(n) for n in stage.reward_funcs],
                               weights[: len(stage.reward_funcs)], args.generations, stage.max_completion_length,
                               stage.temperature)
    means = [r["mean_reward"] for r in results]
    cosines = cosine_by_batch([r["gradient"] for r in results], [1, 2, 4, 8, 16])
    print(f"\n## GRPO gradient noise: {args.model}{' + ' + args.adapter if args.adapter else ''}, "
          f"{len(results)} prompts x {args.generations} completions, T={stage.temperature}")
    print(f"a prompt's mean reward: mean {statistics.mean(means):.3f}, spread across prompts (std) "
          f"{statistics.stdev(means):.3f}; so a step's mean reward varies by ±{statistics.stdev(means):.3f} / "
          "sqrt(prompts a step) from the draw of problems alone")
    print(f"groups with no spread (no gradient): {sum(r['reward_std'] == 0 for r in results)} of {len(results)}\n")
    print(markdown_table(["prompts a step", "cosine of two disjoint steps' gradients (mean ± std)"],
                         [[size, f"{mean:.3f} ± {std:.3f}"] for size, (mean, std) in cosines.items()],
                         numeric=[True, False]))
    return {"reward_std_across_prompts": statistics.stdev(means), "cosines": cosines}


if __name__ == "__main__":
    main()
