"""The ``minireason`` command line. Run ``minireason --help``, or ``minireason COMMAND --help``."""

from __future__ import annotations

import argparse
import json
import os
import sys

EPILOG = """\
examples:
  minireason demo                                   # the CPU demo on the embedded SmolLM2-135M
  minireason train recipes/smollm2-135m/grpo-countdown/cpu.yaml --max_steps 20
  minireason tasks                                  # list tasks and their parameters
  minireason data generate --task countdown --n 17000 --out countdown.jsonl
  minireason data generate --task arithmetic --param op=add --param digits=2 --n 5
  minireason score --task countdown --row '{"numbers": [2, 3, 4], "target": 20}' \\
      --completion '<think>…</think><answer>(2 + 3) * 4</answer>'
  minireason model prepare smollm2-135m             # build the embedded model's cache

the pieces, in Python:
  from minireason.tasks import get_task             # generate rows, score completions
  from minireason.rewards import REWARDS            # TRL reward functions
  from minireason.models import load_model          # model + tokenizer (4-bit, LoRA)
"""


def _parse_params(pairs: list[str]) -> dict:
    """``key=value`` pairs; values are read as YAML, so ``3``, ``[3, 4]`` and ``add`` work."""
    import yaml

    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--param expects key=value, got {pair!r}")
        params[key.strip()] = yaml.safe_load(value)
    return params


def _task(args):
    from minireason.tasks import get_task

    try:
        return get_task(args.task, **_parse_params(args.param))
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None


def cmd_tasks(args) -> None:
    from minireason.tasks import describe_tasks

    print(describe_tasks())


def cmd_data_generate(args) -> None:
    from tqdm.auto import tqdm

    task = _task(args)
    rows = task.generate(args.n, seed=args.seed)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    try:
        for row in tqdm(rows, desc="writing", unit="row", disable=not args.out):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if args.out:
            out.close()
            print(f"wrote {len(rows)} {task.name} rows to {args.out}", file=sys.stderr)


def cmd_score(args) -> None:
    task = _task(args)
    try:
        row = json.loads(args.row)
    except json.JSONDecodeError as error:
        raise SystemExit(f"error: --row is not JSON: {error}") from None
    completion = sys.stdin.read() if args.completion == "-" else args.completion
    print(task.score(completion, row))


def cmd_model_prepare(args) -> None:
    from minireason.models import resolve_model

    print(resolve_model(args.name))


def cmd_demo(args) -> None:
    """The R1 story on the embedded SmolLM2-135M, on CPU, in about 15 minutes: evaluate the base model on
    held-out 2-digit additions, cold-start SFT, GRPO, evaluate again; print a before/after table and
    write a reward curve (PNG) and a JSON report. Recipe options can follow (e.g. --max_steps 20)."""
    from minireason.demo import run_demo

    try:
        run_demo(args.out, args.overrides, pure_rl=args.pure_rl)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None


def cmd_train(args) -> None:
    """Train from a recipe YAML; any recipe option can follow as a flag (--max_steps 2)."""
    from minireason.recipes import load_recipe, run

    try:
        stages = load_recipe(args.recipe, args.overrides)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None
    for summary in run(stages):
        print(json.dumps(summary, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minireason",
        description="Reasoning LLMs on a small budget: R1-Zero style RL, SFT then RL, distillation and "
                    "inference-time scaling, with exact verifiers for Countdown, arithmetic and math.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the CPU demo on the embedded SmolLM2-135M (~15 min)",
                               description=cmd_demo.__doc__,
                               epilog="recipe: recipes/smollm2-135m/sft-then-grpo/cpu.yaml; "
                                      "example: minireason demo --pure-rl --max_steps 20")
    demo.add_argument("--out", default="outputs/demo", help="report folder (default: %(default)s)")
    demo.add_argument("--pure-rl", action="store_true",
                      help="also run GRPO from the base model without the cold start (R1-Zero; ~10 more minutes)")
    demo.set_defaults(func=cmd_demo, takes_overrides=True)

    train = commands.add_parser(
        "train", help="train from a recipe: GRPO, SFT, or SFT then GRPO",
        description="Train from a recipe YAML (recipes/<model>/<method>/<hardware>.yaml). Every field of the "
                    "recipe's config (TRL's GRPOConfig/SFTConfig plus minireason's model, task and reward "
                    "options) can be overridden by a flag after the file. A killed run, started again with the "
                    "same command, resumes from its last checkpoint.",
        epilog="example: minireason train recipes/smollm2-135m/grpo-countdown/cpu.yaml --max_steps 20 "
               "--learning_rate 2e-5")
    train.add_argument("recipe", help="recipe YAML file")
    train.set_defaults(func=cmd_train, takes_overrides=True)

    tasks = commands.add_parser("tasks", help="list the tasks and their parameters")
    tasks.set_defaults(func=cmd_tasks)

    def task_options(sub):
        sub.add_argument("--task", required=True, help="countdown, arithmetic or math (see `minireason tasks`)")
        sub.add_argument("--param", action="append", metavar="KEY=VALUE",
                         help="task parameter, repeatable: --param num_numbers=[3,4] --param max_target=100")

    data = commands.add_parser("data", help="build data sets").add_subparsers(dest="data_command", metavar="ACTION")
    generate = data.add_parser("generate", help="write generated task rows as JSONL (prompt, answer, solution)",
                               description="Generate task rows as JSONL; the same seed gives the same rows.")
    task_options(generate)
    generate.add_argument("--n", type=int, required=True, help="number of rows")
    generate.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    generate.add_argument("--out", help="output .jsonl (default: standard output)")
    generate.set_defaults(func=cmd_data_generate)

    score = commands.add_parser("score", help="score one completion with a task's verifier",
                                description="Print the verifier's score: 1.0 correct, 0.1 tagged but wrong, 0.0 "
                                            "no answer tag (the task's defaults).")
    task_options(score)
    score.add_argument("--row", required=True, help="the row as JSON, e.g. '{\"numbers\": [1, 2], \"target\": 3}'")
    score.add_argument("--completion", required=True, help="the completion text, or - to read standard input")
    score.set_defaults(func=cmd_score)

    model = commands.add_parser("model", help="model utilities").add_subparsers(dest="model_command", metavar="ACTION")
    prepare = model.add_parser("prepare", help="build a built-in model's cache and print its folder")
    prepare.add_argument("name", nargs="?", default="smollm2-135m", help="smollm2-135m or tiny (default: %(default)s)")
    prepare.set_defaults(func=cmd_model_prepare)
    return parser


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    # demo and train pass unknown --options on to the recipe config, which checks them.
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "takes_overrides", False):
        args.overrides = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not hasattr(args, "func"):
        parser.print_help()
        raise SystemExit(0 if args.command is None else 2)
    args.func(args)


if __name__ == "__main__":
    main()
