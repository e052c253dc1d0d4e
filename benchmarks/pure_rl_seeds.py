"""Pure RL (R1-Zero) over many seeds: a recipe judged on its mean and its worst seed, never its best.

Trains the pure-RL recipe once per seed, each scored greedily on the same held-out problems, with a held-out
learning curve measured along the way (``--curve_every``; it does not move the run). The base model is scored
once, on the recipe's own prompt. A seed whose folder under ``--out`` already holds a finished run is reused, a
screening run trained without a curve included (copy its ``--output_dir`` there as ``seedN``; its take-off reads
"not measured"). It prints, and writes into the marked section of a docs page:

- per seed: accuracy (95% Wilson interval), format rate, training minutes, and the step at which the format
  and the accuracy took off on the curve;
- over seeds: mean, standard deviation, a Student-t interval, the worst seed, and the targets met or missed;
- "pure RL - base" paired on the same problems (bootstrap over problems, each carrying all seeds);
- the learning curve's mean and range over seeds, as a plot.

    python benchmarks/pure_rl_seeds.py                                  # seeds 0-9 x 256 problems, ~37 min on 2 cores
    python benchmarks/pure_rl_seeds.py --recipe smollm2-135m/grpo-arithmetic-zero/cpu   # R1-Zero from the instruction
    python benchmarks/pure_rl_seeds.py --seeds 0 1 --docs none --max_steps 10   # recipe options are passed on
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

from minireason.recipes import load_recipe, run
from minireason.recipes.data import evaluate_base
from minireason.reports.curves import plot_pure_rl_curves
from minireason.reports.evals import load_run, save_run
from minireason.reports.markdown import command_line, publish
from minireason.reports.seeds import (
    ONE_SHOT_BAR,
    ZERO_SHOT_BAR,
    aha_signals,
    pure_rl_markdown,
    pure_rl_summary,
    training_minutes,
)

# Each pure-RL recipe: its section of docs/claims.md, its plot, its title and the bar its issue set.
RECIPES = {
    "smollm2-135m/grpo-arithmetic/cpu": ("claim 1, pure RL over seeds", "pure-rl-seeds.png",
                                         "Pure RL from a one-shot prompt", ONE_SHOT_BAR),
    "smollm2-135m/grpo-arithmetic-zero/cpu": ("claim 1, R1-Zero from the instruction over seeds", "pure-rl-zero-seeds.png",
                                              "R1-Zero from the instruction alone", ZERO_SHOT_BAR),
}


def base_run(cfg, out: Path) -> dict:
    """The base model's evaluation on the recipe's prompt, evaluated once and kept under ``out/base``."""
    if not (out / "base" / "eval.json").exists():
        save_run(evaluate_base(cfg), out / "base", "base", {"model": cfg.model, "prompt_style": cfg.prompt_style})
    return load_run(out / "base")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default=next(iter(RECIPES)), choices=RECIPES)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--n-eval", dest="n_eval", type=int, default=256, help="held-out problems per seed")
    parser.add_argument("--curve-every", dest="curve_every", type=int, default=10,
                        help="steps between curve points (each 64 problems, greedy: 4-7 s on 2 cores at 32 tokens)")
    parser.add_argument("--out", help="runs' folder (default: outputs/pure-rl-seeds/RECIPE)")
    parser.add_argument("--docs", default="docs/claims.md",
                        help="the page whose section for the recipe gets the table and plot ('none': print only)")
    args, overrides = parser.parse_known_args(argv)
    section, image_name, title, bar = RECIPES[args.recipe]

    started, out, runs = time.perf_counter(), Path(args.out or f"outputs/pure-rl-seeds/{args.recipe}"), {}
    for seed in args.seeds:
        flags = ["--seed", str(seed), "--n_eval", str(args.n_eval), "--curve_every", str(args.curve_every),
                 "--report_to", "none", "--output_dir", str(out / f"seed{seed}"), *overrides]
        (cfg,) = load_recipe(args.recipe, flags)
        summary = run([cfg])[0]
        runs[seed] = {"eval": load_run(summary["eval"]),
                      "curve": summary.get("held_out_curve"), "minutes": training_minutes(out / f"seed{seed}"),
                       "aha": aha_signals(out / f"seed{seed}")}
    summary = pure_rl_summary(base_run(cfg, out), runs, bar)
    command = command_line("benchmarks/pure_rl_seeds.py", argv)
    header = (f"Measured {datetime.date.today()} with `{command}` ({(time.perf_counter() - started) / 60:.0f} min "
              f"this invocation; finished seeds under {out} are reused): `{args.recipe}` at seeds "
              f"{args.seeds}, each scored greedily on the same {args.n_eval} held-out problems.")
    image = out / "curves.png" if args.docs == "none" else Path(args.docs).parent / "img" / image_name
    plot_pure_rl_curves(summary, image, title)
    text = pure_rl_markdown(summary, header, str(image if args.docs == "none" else image.relative_to(Path(args.docs).parent)))
    publish(text, summary, out, args.docs, section)
    return summary


if __name__ == "__main__":
    main()
