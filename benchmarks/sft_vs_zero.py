"""Claim 2 made fair: SFT against pure RL on the same prompt, at equal tokens trained.

The pure-RL arm is R1-Zero from the instruction alone (``smollm2-135m/grpo-arithmetic-zero/cpu``); the SFT arm is
the R1 recipe's cold start (the first stage of ``smollm2-135m/sft-then-grpo/cpu``), on the same prompt style, given
as many training problems as make the pure-RL run's tokens (prompts and completions, as each trainer counts them:
every sampled completion for GRPO, every worked trace for SFT). Each seed's pure-RL run is the one
``benchmarks/pure_rl_seeds.py`` keeps (trained here if it is missing); both arms are scored greedily on the same
held-out problems. It prints, and writes into the marked section of docs/claims.md:

- per seed: each arm's accuracy and format, tokens trained and training minutes;
- "SFT - pure RL" paired on the same problems (bootstrap over problems, each carrying all seeds), each seed's own
  difference, the seeds' t-interval, and the verdict.

    python benchmarks/sft_vs_zero.py                          # seeds 0-2 x 256 problems, ~30 min on 2 cores (RL reused)
    python benchmarks/sft_vs_zero.py --seeds 0 --docs none --grpo.max_steps 10   # --sft./--grpo. flags: one arm's
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

from minireason.recipes import load_recipe, run, stage_flags
from minireason.recipes.data import task_data
from minireason.reports.evals import first_answers, load_run
from minireason.reports.markdown import command_line, markdown_table, publish
from minireason.reports.seeds import training_minutes
from minireason.reports.training import training_compute
from minireason.reports.verdicts import compare, diff_row, diff_table

RL_RECIPE = "smollm2-135m/grpo-arithmetic-zero/cpu"
SFT_RECIPE = "smollm2-135m/sft-then-grpo/cpu"
SECTION = "claim 2, SFT against R1-Zero at equal tokens"


def tokens_per_problem(cfg) -> float:
    """The SFT stage's mean tokens a training example (its prompt and worked trace, as the trainer counts them)."""
    from minireason.models import load_tokenizer
    from minireason.recipes.sft import tokenized_trace
    from minireason.tasks import row_prompt

    task, rows, _ = task_data(cfg)
    tokenizer = load_tokenizer(cfg.model)
    lengths = [len(tokenized_trace(tokenizer, row_prompt(row, cfg.prompt_style), task.reference_completion(row),
                                   cfg.prompt_style)["input_ids"]) for row in rows]
    return sum(lengths) / len(lengths)


def arm_result(output_dir: str | Path, summary: dict) -> dict:
    evaluation = load_run(summary["eval"])
    return {"accuracy": evaluation["metrics"]["pass@1"], "format": evaluation["metrics"]["format_rate"],
            "tokens": training_compute(output_dir)["tokens"], "minutes": training_minutes(Path(output_dir)),
            "correct": first_answers(evaluation)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-eval", dest="n_eval", type=int, default=256, help="held-out problems per arm")
    parser.add_argument("--curve-every", dest="curve_every", type=int, default=15,
                        help="pure RL's held-out curve, as its 10-seed sweep ran it (it does not move the run)")
    parser.add_argument("--rl-out", dest="rl_out", default=f"outputs/pure-rl-seeds/{RL_RECIPE}",
                        help="pure RL's runs, one folder a seed (benchmarks/pure_rl_seeds.py's, reused)")
    parser.add_argument("--out", default="outputs/sft-vs-zero", help="the SFT arm's runs and the summary")
    parser.add_argument("--docs", default="docs/claims.md", help=f"the page whose section '{SECTION}' gets the "
                                                                  "table ('none': print only)")
    args, overrides = parser.parse_known_args(argv)
    flags = stage_flags(overrides, ("sft", "grpo"))

    started, runs = time.perf_counter(), {}
    for seed in args.seeds:
        shared = ["--seed", str(seed), "--n_eval", str(args.n_eval), "--report_to", "none"]
        rl_dir = Path(args.rl_out) / f"seed{seed}"
        (rl,) = load_recipe(RL_RECIPE, [*shared, "--curve_every", str(args.curve_every), "--output_dir", str(rl_dir),
                                        *flags["grpo"]])
        pure = arm_result(rl_dir, run([rl])[0])
        # As many worked problems as make pure RL's tokens, one epoch: the stage's other settings stay the recipe's.
        sft_flags = [*shared, "--output_dir", str(Path(args.out) / f"seed{seed}"), *flags["sft"]]
        problems = max(1, round(pure["tokens"] / tokens_per_problem(load_recipe(SFT_RECIPE, sft_flags)[0])))
        sft = load_recipe(SFT_RECIPE, [*sft_flags, "--n_train", str(problems)])[0]
        runs[seed] = {"pure RL": pure, "SFT": arm_result(sft.output_dir, run([sft])[0]), "sft_problems": problems}

    result = compare([runs[s]["pure RL"]["correct"] for s in runs], [runs[s]["SFT"]["correct"] for s in runs])
    pct = lambda x: f"{x:.1%}"  # noqa: E731
    rows = [[seed, pct(r["pure RL"]["accuracy"]), pct(r["pure RL"]["format"]), f"{r['pure RL']['tokens']:,.0f}",
             f"{r['pure RL']['minutes']:.1f}", pct(r["SFT"]["accuracy"]), pct(r["SFT"]["format"]),
             f"{r['SFT']['tokens']:,.0f}", r["sft_problems"], f"{r['SFT']['minutes']:.1f}"] for seed, r in runs.items()]
    command = command_line("benchmarks/sft_vs_zero.py", argv)
    text = "\n".join([
        f"Measured {datetime.date.today()} with `{command}` ({(time.perf_counter() - started) / 60:.0f} min this "
        f"invocation; finished runs are reused): `{RL_RECIPE}` (pure RL) against the cold-start SFT of "
        f"`{SFT_RECIPE}` given as many tokens, both on the `{sft.prompt_style}` prompt, at seeds {args.seeds}, each "
        f"scored greedily on the same {args.n_eval} held-out problems.", "",
        markdown_table(["seed", "pure RL", "format", "tokens", "min", "SFT", "format", "tokens", "problems", "min"],
                       rows, numeric=[False, *[True] * 9]), "",
        diff_table([diff_row("2. SFT - pure RL, same prompt, equal tokens, accuracy", result)]), ""])
    summary = {"per_seed": {seed: {arm: {k: v for k, v in r[arm].items() if k != "correct"} for arm in ("pure RL", "SFT")}
                            | {"sft_problems": r["sft_problems"]} for seed, r in runs.items()},
               "sft_minus_pure_rl": result}
    publish(text, summary, args.out, args.docs, SECTION)
    return summary


if __name__ == "__main__":
    main()
