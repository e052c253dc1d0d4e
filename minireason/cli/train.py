"""`minireason demo`, `train`, `estimate`, `recipes` and `model prepare`: recipes run, sized and listed."""

from __future__ import annotations

import dataclasses
import json
import sys

from minireason.cli.parsing import fail, parse


@dataclasses.dataclass
class DemoArgs:
    """R1-Zero and R1 side by side on the embedded SmolLM2-135M, on 2 CPU cores, in about 8 minutes.

    Pure RL (GRPO from the base model, from a prompt with one solved example), a cold-start SFT, and GRPO after
    that SFT, each beside the base model on its own prompt, all scored on the same held-out 2-digit additions
    with 95% intervals. Writes report.json and a plot of both GRPO reward curves, and logs each stage to W&B
    (offline without a key). Recipe options can follow and apply to every stage: --seed 3 trains with another
    seed on the same held-out problems (any seed: pure RL was judged on ten), --n_eval 256 scores more."""

    out: str = dataclasses.field(default="outputs/demo", metadata={"help": "Report folder."})
    zero: bool = dataclasses.field(default=False, metadata={
        "help": "Also run R1-Zero from the instruction alone (smollm2-135m/grpo-arithmetic-zero/cpu): pure RL that "
                "must find the format by itself, with a held-out curve of where the format and the accuracy take "
                "off. Adds about 5 minutes on 2 cores: 90 steps (3.5-5.0 min over 10 seeds) and 6 held-out points."})
    verbose: bool = dataclasses.field(default=False, metadata={
        "help": "Print TRL's, transformers' and W&B's own output instead of one progress line a stage."})


@dataclasses.dataclass
class PrepareArgs:
    """Build a built-in model's cache (smollm2-135m or tiny) and print its folder."""

    name: str = dataclasses.field(default="smollm2-135m", metadata={"help": "smollm2-135m or tiny."})


def cmd_model_prepare(argv: list[str]) -> None:
    from minireason.models import resolve_model

    args = parse("model prepare", (PrepareArgs,), argv, leading="name",
                 epilog="examples:\n  minireason model prepare\n  minireason model prepare tiny")
    try:
        print(resolve_model(args.name))
    except ValueError as error:
        fail(error)


def cmd_demo(argv: list[str]) -> None:
    from minireason.demo import run_demo

    args, overrides = parse("demo", (DemoArgs,), argv, partial=True, epilog=(
        "recipes: smollm2-135m/grpo-arithmetic/cpu (pure RL) and smollm2-135m/sft-then-grpo/cpu (SFT, then GRPO)\n"
        "examples:\n  minireason demo\n  minireason demo --seed 3 --out outputs/demo-seed3\n"
        "  minireason demo --zero              # and R1-Zero from the instruction alone, the format found by RL\n"
        "  python benchmarks/pure_rl_seeds.py   # pure RL at seeds 0-9, 256 problems: docs/claims.md"))
    try:
        run_demo(args.out, [*overrides, "--verbose", str(args.verbose).lower()], zero=args.zero)
    except ValueError as error:
        fail(error)


def cmd_train(argv: list[str]) -> None:
    """Train from a recipe: a shipped name (smollm2-135m/sft/cpu; `minireason recipes` lists them) or a YAML file.
    Every field of the recipe's config (TRL's GRPOConfig or SFTConfig, plus minireason's model, task and reward
    options) can follow as a flag. A killed run, started again with the same command, resumes from its last
    checkpoint. `minireason train RECIPE --help` lists the recipe's options with the values it sets."""
    from minireason.recipes import load_recipe, recipe_help, run
    from minireason.recipes.runs import OldRunError
    from minireason.reports.evals import load_run, results_table

    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: minireason train RECIPE [--option value ...]\n\n{cmd_train.__doc__}")
        return
    recipe, overrides = argv[0], argv[1:]
    try:
        if "-h" in overrides or "--help" in overrides:
            print(recipe_help(recipe))
            return
        stages = load_recipe(recipe, overrides)
    except (ValueError, FileNotFoundError) as error:
        fail(error)
    try:
        summaries = run(stages)
    # A data set not built yet, a folder saved by an older minireason, or numbers fp16 could not hold (NaN logits,
    # a NaN loss, the loss scaler skipping step after step): each message names what fixes it.
    except (FileNotFoundError, OldRunError, FloatingPointError) as error:
        fail(error)
    for summary in summaries:
        print(json.dumps(summary, indent=2))
    evaluated = {stage.output_dir: load_run(summary["eval"])["metrics"] for stage, summary in zip(stages, summaries)
                 if "eval" in summary}
    if evaluated:  # each stage's own greedy evaluation on the held-out problems, one line each
        print("\n" + results_table(evaluated))


@dataclasses.dataclass
class EstimateArgs:
    """Peak accelerator memory of a recipe, by component, and whether it fits each common card: before anything
    is downloaded or loaded. The model's shape comes from its config.json (shipped for the recipes' models); the
    token counts from the recipe and its task's prompts. ESTIMATES: docs/memory.md says how close they came to
    measured peaks."""

    recipe: str = dataclasses.field(default="", metadata={"required": True, "help": "A shipped name or a YAML path."})
    card: str | None = dataclasses.field(default=None, metadata={
        "help": "Break the estimate down on this card: T4 16 GB, L4 24 GB, A100 40 GB, A100 80 GB or H100 80 GB "
                "(default: the card the recipe's name says, e.g. t4-16gb)."})


def cmd_estimate(argv: list[str]) -> None:
    from minireason.memory import CARDS, card_of, report
    from minireason.recipes import load_recipe

    args, overrides = parse("estimate", (EstimateArgs,), argv, partial=True, leading="recipe", epilog=(
        "examples:\n  minireason estimate qwen2.5-3b/grpo-countdown/t4-16gb\n"
        "  minireason estimate qwen2.5-3b/grpo-countdown/t4-16gb --card 'L4 24 GB' --max_completion_length 768\n"
        "Recipe options can follow, as for `minireason train`."))
    card = args.card or card_of(args.recipe) or "T4 16 GB"
    if card not in CARDS:
        fail(ValueError(f"card must be one of {', '.join(CARDS)}, got {card!r}"))
    try:
        stages = load_recipe(args.recipe, overrides)
        print(f"recipe {args.recipe}: ESTIMATES (minireason.memory; validated on CPU, docs/memory.md)\n")
        print(report(stages, card))
    except (ValueError, FileNotFoundError) as error:
        fail(error)


@dataclasses.dataclass
class RecipesArgs:
    """List the shipped recipes (name, method, model, memory, the command that runs each, and what to expect), or
    `copy NAME DEST` to write an editable copy to train from."""

    action: list[str] = dataclasses.field(default_factory=list, metadata={
        "metavar": "WORD", "help": "Nothing (or list): the table. copy NAME DEST: write recipe NAME to DEST, a file "
                                   "or a folder."})


def cmd_recipes(argv: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from minireason.recipes.catalog import copy_recipe, describe, recipe_names

    args = parse("recipes", (RecipesArgs,), argv, leading="action", epilog=(
        "examples:\n  minireason recipes\n  minireason recipes copy qwen2.5-3b/grpo-countdown/t4-16gb my-countdown.yaml\n"
        "  minireason train my-countdown.yaml"))
    if args.action[:1] == ["copy"]:
        if len(args.action) != 3:
            fail(ValueError("copy needs NAME and DEST: minireason recipes copy NAME DEST"))
        name, dest = args.action[1:]
        try:
            print(f"wrote {copy_recipe(name, dest)}; train it with: minireason train {dest}")
        except (FileNotFoundError, FileExistsError) as error:
            fail(error)
        return
    if args.action not in ([], ["list"]):
        fail(ValueError(f"unknown action {' '.join(args.action)!r}: minireason recipes [list | copy NAME DEST]"))
    table = Table(title="shipped recipes", show_lines=True)
    infos = list(map(describe, recipe_names()))
    table.add_column("name", no_wrap=True, min_width=max(len(info.name) for info in infos))  # one line: copy it whole
    for column in ("method", "model", "memory", "run with", "expected (time, metric; from the header)"):
        table.add_column(column, overflow="fold")
    for info in infos:
        memory = info.memory.split(" (")[0] + (" (estimate)" if "estimate" in info.memory else "")
        table.add_row(info.name, info.method, info.model, memory, info.launch, info.expected)
    Console(width=None if sys.stdout.isatty() else 200).print(table)
