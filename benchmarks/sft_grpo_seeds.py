"""SFT then GRPO (R1) over many seeds: what GRPO adds to its own cold start, judged on every seed.

Trains the R1 recipe once per seed (a cold-start SFT, then GRPO from that adapter), both stages scored greedily on
the same held-out problems. It prints, and writes into the marked section of a docs page:

- per seed: SFT's accuracy, SFT + GRPO's (95% Wilson interval), the gain in points, format rate, training minutes;
- over seeds: mean ± std, the gain's Student-t interval over seeds, the worst seed's gain, and the target
  (>= +15 points at 9 seeds of 10);
- "SFT + GRPO - SFT" paired on the same problems (bootstrap over problems, each carrying all seeds).

    python benchmarks/sft_grpo_seeds.py                                   # seeds 0-9 x 256 problems, ~55 min on 2 cores
    python benchmarks/sft_grpo_seeds.py --seeds 0 1 --docs none --grpo.max_steps 5   # recipe options are passed on
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

from minireason.recipes import load_recipe, run
from minireason.reports.evals import load_run
from minireason.reports.markdown import command_line, publish
from minireason.reports.seeds import sft_grpo_markdown, sft_grpo_summary, training_minutes

RECIPE = "smollm2-135m/sft-then-grpo/cpu"
SECTION = "SFT then GRPO over seeds"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default=RECIPE)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--n-eval", dest="n_eval", type=int, default=256, help="held-out problems per stage")
    parser.add_argument("--out", default="outputs/sft-grpo-seeds")
    parser.add_argument("--docs", default="docs/claims.md",
                        help=f"the page whose section '{SECTION}' gets the table ('none': print only)")
    args, overrides = parser.parse_known_args(argv)

    started, out, runs = time.perf_counter(), Path(args.out), {}
    for seed in args.seeds:
        flags = ["--seed", str(seed), "--n_eval", str(args.n_eval), "--report_to", "none",
                 "--output_dir", str(out / f"seed{seed}"), *overrides]
        stages = load_recipe(args.recipe, flags)
        summaries = dict(zip(("sft", "grpo"), run(stages)))
        runs[seed] = {**{name: load_run(summary["eval"]) for name, summary in summaries.items()},
                      "minutes": {name: training_minutes(stage.output_dir) for name, stage in zip(summaries, stages)}}
    summary = sft_grpo_summary(runs)
    command = command_line("benchmarks/sft_grpo_seeds.py", argv)
    header = (f"Measured {datetime.date.today()} with `{command}` ({(time.perf_counter() - started) / 60:.0f} min "
              f"this invocation; finished seeds under {args.out} are reused): `{args.recipe}` at seeds {args.seeds}, "
              f"each stage scored greedily on the same {args.n_eval} held-out problems.")
    publish(sft_grpo_markdown(summary, header), summary, out, args.docs, SECTION)
    return summary


if __name__ == "__main__":
    main()
