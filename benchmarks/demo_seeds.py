"""The CPU demo at several seeds, scored on 256 held-out problems: the table and plot in docs/grpo-on-cpu.md.

Each seed runs ``minireason demo --seed S --n_eval N`` (the base model, pure RL, SFT, SFT then GRPO).
Every seed is scored on the same held-out problems, so stages compare problem by problem:

- each stage's accuracy and format rate, per seed and as mean ± standard deviation over seeds;
- the paired differences "pure RL - base" and "SFT + GRPO - SFT", with 95% bootstrap intervals over
  problems (each problem carrying all its seeds);
- each GRPO arm's training reward, mean of its first five steps against its last five;
- both arms' reward curves, every seed, in one plot.

    python benchmarks/demo_seeds.py                                  # 3 seeds x 256 problems, ~28 min on 2 cores
    python benchmarks/demo_seeds.py --seeds 0 1 --n-eval 128 --docs none
    python benchmarks/demo_seeds.py --model tiny --max_steps 2 ...   # any recipe option is passed on
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from minireason.demo import run_demo
from minireason.reports.markdown import command_line, publish
from minireason.reports.seeds import demo_seeds_markdown, demo_seeds_summary, plot_reward_curves


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-eval", dest="n_eval", type=int, default=256, help="held-out problems per stage")
    parser.add_argument("--out", default="outputs/demo-seeds")
    parser.add_argument("--docs", default="docs/grpo-on-cpu.md",
                        help="the page whose marked section gets the table and plot ('none': print only)")
    args, overrides = parser.parse_known_args(argv)

    started = time.perf_counter()
    runs = {}
    for seed in args.seeds:
        runs[seed] = Path(args.out) / f"seed{seed}"
        run_demo(runs[seed], ["--seed", str(seed), "--n_eval", str(args.n_eval), *overrides])
    summary = demo_seeds_summary(runs)
    minutes = (time.perf_counter() - started) / 60
    command = command_line("benchmarks/demo_seeds.py", argv)
    image = Path(args.out) / "reward_curves.png"
    if args.docs != "none":
        image = Path(args.docs).parent / "img" / "grpo-on-cpu.png"
    plot_reward_curves(summary["curves"], image)
    text = demo_seeds_markdown(summary, args.seeds, command, minutes,
                    str(image.relative_to(Path(args.docs).parent)) if args.docs != "none" else str(image))
    publish(text, summary, args.out, args.docs, "demo_seeds")
    return summary


if __name__ == "__main__":
    main()
