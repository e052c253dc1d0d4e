"""The ``minireason`` command line. Run ``minireason --help``, or ``minireason COMMAND --help``.

Every subcommand's flags are generated from a typed dataclass (``HfArgumentParser``; TRL's parser for
recipes), so each option has one default and one help text, shared with YAML files and Python. The commands
live by subject (``data``, ``evaluate``, ``train``); ``parsing`` is what they share.
"""

from __future__ import annotations

import argparse
import os
import sys

from minireason.cli.data import cmd_data_distill, cmd_data_generate, cmd_data_journey, cmd_score, cmd_tasks
from minireason.cli.evaluate import cmd_compare, cmd_eval, cmd_upgrade
from minireason.cli.train import cmd_demo, cmd_estimate, cmd_model_prepare, cmd_recipes, cmd_train

EPILOG = """\
examples:
  minireason demo                                   # the CPU demo on the embedded SmolLM2-135M
  minireason recipes                                # every shipped recipe: method, model, hardware, expected cost
  minireason train smollm2-135m/grpo-countdown/cpu --max_steps 20
  minireason train qwen2.5-3b/grpo-countdown/t4-16gb --help   # the recipe's every option, as it sets them
  minireason recipes copy qwen2.5-3b/grpo-countdown/t4-16gb my-run.yaml && minireason train my-run.yaml
  minireason estimate qwen2.5-3b/grpo-countdown/t4-16gb  # peak GPU memory by component, per card: no download
  minireason tasks                                  # list tasks and their parameters
  minireason data generate --task countdown --n 17000 --out countdown.jsonl
  minireason data generate --task arithmetic --param op=add --param digits=2 --n 5
  minireason data distill --task countdown --n 17000 --teacher solver --out data/countdown
  minireason data journey --task countdown --n 17000 --error-rate 0.5 --out data/journey
  minireason score --task countdown --row '{"numbers": [2, 3, 4], "target": 20}' \\
      --completion '<think>…</think><answer>(2 + 3) * 4</answer>'
  minireason eval --task arithmetic --param op=add --samples 8 --out outputs/eval/base   # pass@k, maj@k
  minireason compare outputs/eval/base outputs/eval/sft --out outputs/eval
  minireason model prepare smollm2-135m             # build the embedded model's cache

the pieces, in Python:
  from minireason.tasks import get_task             # generate rows, score completions
  from minireason.rewards import REWARDS            # TRL reward functions
  from minireason.models import load_model          # model + tokenizer (4-bit, LoRA)
"""


COMMANDS = {  # name: (one line for `minireason --help`, function)
    "demo": ("run the CPU demo on the embedded SmolLM2-135M (~8 min on 2 cores with bf16 instructions)", cmd_demo),
    "train": ("train from a recipe: GRPO, SFT, or SFT then GRPO", cmd_train),
    "recipes": ("list the shipped recipes, or copy one to edit", cmd_recipes),
    "estimate": ("a recipe's peak GPU memory by component, and which cards it fits, before you rent one",
                 cmd_estimate),
    "tasks": ("list the tasks and their parameters", cmd_tasks),
    "data generate": ("write generated task rows as JSONL (prompt, answer, solution)", cmd_data_generate),
    "data distill": ("teacher traces → verifier (rejection sampling) → SFT data set with a data card",
                     cmd_data_distill),
    "data journey": ("journey-learning traces (mistakes caught and corrected) or shortcut traces", cmd_data_journey),
    "eval": ("accuracy vs inference compute: pass@k, maj@k, best-of-N, budget forcing", cmd_eval),
    "compare": ("put saved eval runs side by side: one table, one plot", cmd_compare),
    "upgrade": ("bring training stages saved by an older minireason to the current format", cmd_upgrade),
    "score": ("score one completion with a task's verifier", cmd_score),
    "model prepare": ("build a built-in model's cache and print its folder", cmd_model_prepare),
}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    argv = list(sys.argv[1:] if argv is None else argv)
    listing = "\n".join(f"  {name:<15} {line}" for name, (line, _) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="minireason", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Reasoning LLMs on a small budget: R1-Zero style RL, SFT then RL, distillation and "
                    f"inference-time scaling, with exact verifiers for Countdown, arithmetic and math.\n\n"
                    f"commands (minireason COMMAND --help for each):\n{listing}", epilog=EPILOG)
    parser.add_argument("command", nargs="?", metavar="COMMAND")
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        raise SystemExit(0 if argv else 2)
    name = " ".join(argv[:2]) if " ".join(argv[:2]) in COMMANDS else argv[0]
    if name not in COMMANDS:
        actions = [command for command in COMMANDS if command.startswith(name + " ")]
        if actions:
            parser.exit(2, f"minireason {name}: choose an action: {', '.join(actions)}\n")
        parser.error(f"unknown command {name!r}; commands: {', '.join(COMMANDS)}")
    COMMANDS[name][1](argv[len(name.split()):])


if __name__ == "__main__":
    main()
