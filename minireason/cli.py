"""The ``minireason`` command line. Run ``minireason --help``, or ``minireason COMMAND --help``.

Every subcommand's flags are generated from a typed dataclass (``HfArgumentParser``; TRL's parser for
recipes), so each option has one default and one help text, shared with YAML files and Python.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

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


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples' line breaks and shows every default."""


# -- the dataclasses behind the flags ----------------------------------------------------------

def _param_field():
    return dataclasses.field(default_factory=list, metadata={
        "action": "append", "metavar": "KEY=VALUE",
        "help": "A task parameter, repeatable: --param num_numbers=[3,4] --param max_target=100."})


@dataclasses.dataclass
class TaskArgs:
    task: str = dataclasses.field(metadata={"help": "countdown, arithmetic or math (see `minireason tasks`)."})
    param: list[str] = _param_field()

    def __post_init__(self):
        self.param = [pair for group in self.param for pair in ([group] if isinstance(group, str) else group)]

    def make_task(self):
        from minireason.tasks import get_task

        return get_task(self.task, **parse_params(self.param))


@dataclasses.dataclass
class GenerateArgs(TaskArgs):
    """Generate task rows as JSONL (prompt, answer, solution); the same seed gives the same rows."""

    n: int = dataclasses.field(default=0, metadata={"required": True, "help": "Number of rows."})
    seed: int = dataclasses.field(default=0, metadata={"help": "Random seed."})
    out: str | None = dataclasses.field(default=None, metadata={"help": "Output .jsonl (default: standard output)."})


@dataclasses.dataclass
class ScoreArgs(TaskArgs):
    """Print the verifier's score of one completion: 1.0 correct, 0.1 tagged but wrong, 0.0 no answer tag
    (the task's defaults)."""

    row: str = dataclasses.field(default="", metadata={
        "required": True, "help": "The row as JSON, e.g. '{\"numbers\": [1, 2], \"target\": 3}'."})
    completion: str = dataclasses.field(default="-", metadata={"help": "The completion text, or - to read stdin."})


@dataclasses.dataclass
class DistillSource(TaskArgs):
    task: str | None = dataclasses.field(default=None, metadata={
        "help": "One source instead of --config: countdown, arithmetic or math."})
    n: int | None = dataclasses.field(default=None, metadata={"help": "Problems to generate for --task."})
    config: str | None = dataclasses.field(default=None, metadata={
        "help": "A distill YAML (method: distill) with a sources mix; a shipped name such as solver/distill-17k/cpu "
                "works too. Flags override it."})


@dataclasses.dataclass
class EvalArgs(TaskArgs):
    """Sample k completions per problem under a strategy, score each with the task's verifier, and report pass@1,
    unbiased pass@k, maj@k (votes on the verifier-normalised answer), best-of-N and weighted best-of-N (by
    --scorer), format rate, reflection rate and the tokens spent, with 95% intervals over problems. Writes
    eval.json, samples.jsonl and accuracy.png to --out; `minireason compare` puts runs side by side."""

    task: str | None = dataclasses.field(default=None, metadata={
        "help": "countdown, arithmetic or math; with --run, the run's own task."})
    run: str | None = dataclasses.field(default=None, metadata={
        "help": "A trained run's output_dir: its model, adapter (final/), task, task_params and prompt_style "
                "are read from the run, not guessed."})
    model: str = dataclasses.field(default="smollm2-135m", metadata={
        "help": "smollm2-135m, tiny, an alias, a hub id or a folder."})
    adapter: str | None = dataclasses.field(default=None, metadata={
        "help": "A LoRA adapter folder (e.g. a recipe's output_dir/final)."})
    load_in_4bit: bool = dataclasses.field(default=False, metadata={"help": "nf4 weights (bitsandbytes)."})
    prompt_style: str | None = dataclasses.field(default=None, metadata={
        "help": "chat or base (see minireason.answer_format); default: the run's, else chat when the tokenizer "
                "has a chat template."})
    n_problems: int = dataclasses.field(default=64, metadata={"help": "Held-out problems."})
    seed: int = dataclasses.field(default=0, metadata={
        "help": "Seed of the held-out problems; the recipes evaluate on seed 0, their eval_seed."})
    batch_size: int = dataclasses.field(default=16, metadata={"help": "Prompts per generate call."})
    label: str | None = dataclasses.field(default=None, metadata={"help": "The run's name in tables and plots."})
    out: str = dataclasses.field(default="outputs/eval/run", metadata={"help": "Output folder."})
    report_to: str = dataclasses.field(default="none", metadata={"help": "wandb (offline without a key) or none."})
    wandb_project: str = dataclasses.field(default="minireason", metadata={"help": "W&B project."})

    def __post_init__(self):
        super().__post_init__()
        if self.run:
            self._from_run()
        if not self.task:
            raise ValueError("give --task, or --run with a trained run's folder")

    def _from_run(self) -> None:
        """Take the model, adapter, task and prompt style the run was trained with."""
        path = Path(self.run) / "run_config.json"
        if not path.exists():
            raise ValueError(f"{self.run} holds no run_config.json: not a folder written by `minireason train`")
        config = json.loads(path.read_text())["settings"]
        self.model = config["model"]
        self.adapter = str(Path(self.run) / "final") if config.get("lora", True) else None
        if not config.get("lora", True):
            self.model = str(Path(self.run) / "final")
        self.load_in_4bit = config.get("load_in_4bit", False)
        self.task = self.task or config["task"]
        if self.task == config["task"] and not self.param:
            self.param = [f"{key}={json.dumps(value)}" for key, value in (config.get("task_params") or {}).items()]
        self.prompt_style = self.prompt_style or config.get("prompt_style")


@dataclasses.dataclass
class CompareArgs:
    """Read eval.json from each run folder; print one table with 95% intervals over problems, then each run
    against the first on the problems both answered (paired bootstrap of the difference, exact McNemar test);
    write comparison.png (accuracy vs k, accuracy vs tokens) and comparison.md."""

    runs: list[str] = dataclasses.field(default_factory=list, metadata={
        "required": True, "help": "Run folders written by `minireason eval --out`."})
    out: str = dataclasses.field(default="outputs/eval", metadata={"help": "Where the plot and table go."})
    report_to: str = dataclasses.field(default="none", metadata={"help": "wandb (offline without a key) or none."})
    wandb_project: str = dataclasses.field(default="minireason", metadata={"help": "W&B project."})


@dataclasses.dataclass
class DemoArgs:
    """R1-Zero and R1 side by side on the embedded SmolLM2-135M, on 2 CPU cores, in about 15 minutes.

    Pure RL (GRPO from the base model, from a prompt with one solved example), a cold-start SFT, and GRPO after
    that SFT, each beside the base model on its own prompt, all scored on the same held-out 2-digit additions
    with 95% intervals. Writes report.json and a plot of both GRPO reward curves, and logs each stage to W&B
    (offline without a key). Recipe options can follow and apply to every stage: --seed 3 trains with another
    seed on the same held-out problems (any seed: pure RL was judged on ten), --n_eval 256 scores more."""

    out: str = dataclasses.field(default="outputs/demo", metadata={"help": "Report folder."})


def parse_params(pairs: list[str]) -> dict:
    """``key=value`` pairs; values are read as YAML, so ``3``, ``[3, 4]`` and ``add`` work.

    >>> parse_params(["op=add", "digits=[2, 3]"])
    {'op': 'add', 'digits': [2, 3]}
    """
    import yaml

    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param expects key=value, got {pair!r}")
        params[key.strip()] = yaml.safe_load(value)
    return params


def parse(prog: str, classes: tuple, argv: list[str], description: str | None = None, epilog: str | None = None,
          defaults: dict | None = None, partial: bool = False, leading: str | None = None):
    """The dataclasses ``classes`` from flags (``defaults`` first: YAML values). Bad input exits with the
    parser's message. ``partial`` returns the flags left over instead of refusing them. ``leading`` names the
    field that bare words before the first flag fill (``compare A B``, ``estimate NAME``)."""
    if leading and argv and not argv[0].startswith("-"):
        argv = [f"--{leading}", *argv]
    from transformers import HfArgumentParser

    parser = HfArgumentParser(classes, prog=f"minireason {prog}", description=description or classes[0].__doc__,
                              epilog=epilog, formatter_class=_HelpFormatter, allow_abbrev=False)
    if defaults:
        parser.set_defaults(**defaults)
    try:
        *configs, rest = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    if rest and not partial:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return (*configs, rest) if partial else (configs[0] if len(configs) == 1 else configs)


def _fail(error: Exception):
    raise SystemExit(f"error: {error}") from None


# -- the commands -------------------------------------------------------------------------------

def cmd_tasks(argv: list[str]) -> None:
    """List the tasks and their parameters."""
    from minireason.tasks import describe_tasks

    parse("tasks", (), argv, description=cmd_tasks.__doc__)
    print(describe_tasks())


def cmd_data_generate(argv: list[str]) -> None:
    from tqdm.auto import tqdm

    args = parse("data generate", (GenerateArgs,), argv)
    try:
        task = args.make_task()
    except ValueError as error:
        _fail(error)
    rows = task.generate(args.n, seed=args.seed)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    try:
        for row in tqdm(rows, desc="writing", unit="row", disable=not args.out):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if args.out:
            out.close()
            print(f"wrote {len(rows)} {task.name} rows to {args.out}", file=sys.stderr)


DISTILL_EPILOG = """\
examples:
  minireason data distill --task countdown --n 17000 --teacher solver --out data/countdown
  minireason data distill --config solver/distill-17k/cpu
  vllm serve Qwen/QwQ-32B --reasoning-parser deepseek_r1 &
  minireason data distill --task countdown --n 17000 --samples-per-problem 4 \\
      --teacher openai:Qwen/QwQ-32B --base-url http://localhost:8000/v1 --out data/qwq-countdown
  minireason data distill --task math --param path=gsm8k.jsonl --n 500 --teacher hf:smollm2-135m \\
      --samples-per-problem 8 --out data/toy"""

JOURNEY_EPILOG = """\
examples:
  minireason data journey --task countdown --n 17000 --error-rate 0.5 --out data/journey
  minireason data journey --task countdown --n 17000 --style shortcut --out data/shortcut
  minireason data journey --task arithmetic --param op=mul --n 2000 --error-rate 0.3 --out data/mul
  minireason data journey --task arithmetic --param op=add --param digits=3 --n 2000 --error-rate 0.3 \\
      --catch-style every_step --same-endings true --out data/checked
  minireason data journey --task countdown --n 2000 --strategy search --out data/searches
  minireason data journey --task countdown --n 500 --teacher hf:smollm2-135m --samples-per-problem 8 --out data/stitched"""


def _distill_config(prog: str, argv: list[str], description: str, epilog: str, command_defaults: dict):
    """A DistillConfig from --config (if any), the command's own defaults, then the flags."""
    from minireason.distill import DistillConfig, DistillOptions, read_config
    from minireason.recipes.catalog import find_recipe
    from minireason.teachers import TeacherOptions

    classes = (DistillOptions, DistillSource, TeacherOptions)
    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument("--config")
    config_path = probe.parse_known_args(argv)[0].config
    values = {}
    if config_path:
        try:
            values = read_config(find_recipe(config_path))
        except (OSError, ValueError) as error:
            _fail(error)
    yaml_defaults = {k: v for k, v in values.items() if k not in ("sources", "teacher_options")}
    yaml_defaults.update(values.get("teacher_options") or {})
    options, source, teacher_options = parse(prog, classes, argv, description, epilog,
                                             defaults={**command_defaults, **yaml_defaults})
    if source.task and not source.n:
        _fail(ValueError("--task needs --n (how many problems)"))
    if source.task:
        try:
            sources = [{"task": source.task, "n": source.n, "params": parse_params(source.param)}]
        except ValueError as error:
            _fail(error)
    elif values.get("sources"):
        sources = values["sources"]
    else:
        _fail(ValueError("give --task and --n, or --config with a sources list"))
    try:
        return DistillConfig(**dataclasses.asdict(options), sources=sources,
                             teacher_options=dataclasses.asdict(teacher_options))
    except (TypeError, ValueError) as error:
        _fail(error)


def _run_distill(cfg) -> None:
    from minireason.distill import card_markdown, distill

    try:
        card = distill(cfg)
    except ValueError as error:
        _fail(error)
    print(card_markdown(card))
    print(f"data set, JSONL/parquet and data card in {cfg.out}")


def cmd_data_distill(argv: list[str]) -> None:
    _run_distill(_distill_config(
        "data distill", argv, "Sky-T1/R1-Distill style data: the teacher writes K traces per problem, each is put in "
        "the <think>…</think><answer>…</answer> format, kept only if the task's verifier accepts it, deduplicated, "
        "and saved with a data card (counts, yield, reject reasons, settings). Killed and started again with the "
        "same command, it resumes where it stopped.", DISTILL_EPILOG, {}))


def cmd_data_journey(argv: list[str]) -> None:
    # The same run as distill; this command's defaults make journey traces with the solver.
    cfg = _distill_config(
        "data journey", argv, "O1 Replication Journey style SFT data. With the solver teacher (the default): "
        "Countdown searches that hit dead ends and backtrack, arithmetic with slips that a check catches; --style "
        "shortcut writes the same problems with only the clean path. With a model teacher (--teacher hf:… or "
        "openai:…): a rejected attempt, a reflection and an accepted attempt stitched into one trace. Every trace "
        "ends in a verified answer; rows record their errors and corrections.", JOURNEY_EPILOG,
        {"style": "journey", "error_rate": 0.5})
    if cfg.teacher != "solver":
        if cfg.teacher_options["style"] == "shortcut":
            _fail(ValueError("--style shortcut with a model teacher is plain distillation: use `minireason data distill`"))
        try:
            cfg = dataclasses.replace(cfg, journey=True, samples_per_problem=max(cfg.samples_per_problem, 4))
        except ValueError as error:
            _fail(error)
    _run_distill(cfg)


EVAL_EPILOG = """\
examples:
  minireason eval --task arithmetic --param op=add --param digits=3 --samples 8 --out outputs/eval/base
  minireason eval --run outputs/sft --samples 8 --label sft --out outputs/eval/sft   # a trained run, as trained
  minireason eval --task countdown --prompt direct --samples 1 --temperature 0 --out outputs/eval/direct
  minireason eval --task countdown --think-budget 64 --waits 1 --out outputs/eval/budget64  # s1 budget forcing
  minireason eval --run outputs/sft --search beam --samples 4 --beam-width 4 --scorer step --out outputs/eval/beam
      # beam search over steps ranked by the step reward; best-of-4 by the same reward: --samples 4 --scorer step
  minireason compare outputs/eval/* --out outputs/eval   # intervals, and each run against the first, paired"""


def cmd_eval(argv: list[str]) -> None:
    """Sample, score and report one model under one inference strategy."""
    from rich.console import Console

    from minireason.models import load_model
    from minireason.reports.evals import comparison_table, log_to_wandb, plot_runs, save_run
    from minireason.scaling import Strategy, evaluate_strategy

    args, strategy = parse("eval", (EvalArgs, Strategy), argv, epilog=EVAL_EPILOG)
    try:
        task = args.make_task()
        rows = task.split_rows(args.n_problems, seed=args.seed, held_out=True)  # never a training question
    except ValueError as error:
        _fail(error)
    model, tokenizer = load_model(args.model, load_in_4bit=args.load_in_4bit, adapter=args.adapter)
    result = evaluate_strategy(model, tokenizer, rows, strategy, batch_size=args.batch_size,
                               prompt_style=args.prompt_style)
    label = args.label or (f"{args.model}+adapter" if args.adapter else args.model)
    config = {"model": args.model, "adapter": args.adapter, "task": task.name, "task_params": task.params(),
              "n_problems": args.n_problems, "seed": args.seed, "prompt_style": result.prompt_style}
    save_run(result, args.out, label, config)
    run = {"label": label, "config": config, "strategy": result.strategy, "metrics": result.metrics}
    plot_runs([run], Path(args.out) / "accuracy.png")
    Console(width=None if sys.stdout.isatty() else 200).print(comparison_table([run]))
    print(f"wrote {args.out}/eval.json, samples.jsonl and accuracy.png")
    if args.report_to == "wandb":
        log_to_wandb([run], args.wandb_project, result.samples)


def cmd_compare(argv: list[str]) -> None:
    from rich.console import Console

    from minireason.reports.evals import comparison_table, load_runs, log_to_wandb, paired_markdown, plot_runs, runs_markdown

    args = parse("compare", (CompareArgs,), argv, leading="runs")
    try:
        runs = load_runs(args.runs)
    except FileNotFoundError as error:
        _fail(error)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    plot_runs(runs, Path(args.out) / "comparison.png")
    paired = paired_markdown(runs) if len(runs) > 1 else ""
    (Path(args.out) / "comparison.md").write_text(runs_markdown(runs) + "\n" + (f"\n{paired}\n" if paired else ""))
    Console(width=None if sys.stdout.isatty() else 200).print(comparison_table(runs))
    if paired:
        print(f"\nEach run against {runs[0]['label']}, paired on the problems both answered:\n{paired}")
    print(f"wrote {args.out}/comparison.png and comparison.md")
    if args.report_to == "wandb":
        log_to_wandb(runs, args.wandb_project)


def cmd_score(argv: list[str]) -> None:
    args = parse("score", (ScoreArgs,), argv)
    try:
        task = args.make_task()
        row = json.loads(args.row)
    except json.JSONDecodeError as error:
        _fail(ValueError(f"--row is not JSON: {error}"))
    except ValueError as error:
        _fail(error)
    completion = sys.stdin.read() if args.completion == "-" else args.completion
    print(task.score(completion, row))


def cmd_model_prepare(argv: list[str]) -> None:
    """Build a built-in model's cache (smollm2-135m or tiny) and print its folder."""
    from minireason.models import resolve_model

    probe = argparse.ArgumentParser(prog="minireason model prepare", description=cmd_model_prepare.__doc__)
    probe.add_argument("name", nargs="?", default="smollm2-135m", help="smollm2-135m or tiny (default: %(default)s)")
    print(resolve_model(probe.parse_args(argv).name))


def cmd_demo(argv: list[str]) -> None:
    from minireason.demo import run_demo

    args, overrides = parse("demo", (DemoArgs,), argv, partial=True, epilog=(
        "recipes: smollm2-135m/grpo-arithmetic/cpu (pure RL) and smollm2-135m/sft-then-grpo/cpu (SFT, then GRPO)\n"
        "examples:\n  minireason demo\n  minireason demo --seed 3 --out outputs/demo-seed3\n"
        "  python benchmarks/pure_rl_seeds.py   # pure RL at seeds 0-9, 256 problems: docs/claims.md"))
    try:
        run_demo(args.out, overrides)
    except ValueError as error:
        _fail(error)


def cmd_train(argv: list[str]) -> None:
    """Train from a recipe: a shipped name (smollm2-135m/sft/cpu; `minireason recipes` lists them) or a YAML file.
    Every field of the recipe's config (TRL's GRPOConfig or SFTConfig, plus minireason's model, task and reward
    options) can follow as a flag. A killed run, started again with the same command, resumes from its last
    checkpoint. `minireason train RECIPE --help` lists the recipe's options with the values it sets."""
    from minireason.recipes import load_recipe, recipe_help, run
    from minireason.reports.markdown import markdown_table

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
        _fail(error)
    summaries = run(stages)
    for summary in summaries:
        print(json.dumps(summary, indent=2))
    if len(summaries) > 1:  # a comparison (journey-vs-shortcut) or a pipeline (sft-then-grpo): one line each
        rows = [[stage.output_dir, summary.get("data", "-"), f"{summary.get('eval_accuracy', 0):.1%}",
                 f"{summary.get('eval_format_rate', 0):.1%}", f"{summary.get('eval_mean_tokens', 0):.0f}"]
                for stage, summary in zip(stages, summaries)]
        print("\n" + markdown_table(["stage", "data", "eval accuracy", "format rate", "mean tokens"], rows,
                                    numeric=[False, False, True, True, True]))


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
        _fail(ValueError(f"card must be one of {', '.join(CARDS)}, got {card!r}"))
    try:
        stages = load_recipe(args.recipe, overrides)
        print(f"recipe {args.recipe}: ESTIMATES (minireason.memory; validated on CPU, docs/memory.md)\n")
        print(report(stages, card))
    except (ValueError, FileNotFoundError) as error:
        _fail(error)


def cmd_recipes(argv: list[str]) -> None:
    """List the shipped recipes (name, method, model, hardware and what to expect), or `copy NAME DEST` to write
    an editable copy to train from."""
    from rich.console import Console
    from rich.table import Table

    from minireason.recipes.catalog import copy_recipe, describe, recipe_names

    parser = argparse.ArgumentParser(prog="minireason recipes", description=cmd_recipes.__doc__,
                                     epilog="examples:\n  minireason recipes\n  minireason recipes copy "
                                            "qwen2.5-3b/grpo-countdown/t4-16gb my-countdown.yaml\n"
                                            "  minireason train my-countdown.yaml",
                                     formatter_class=_HelpFormatter)
    parser.add_argument("action", nargs="?", choices=["list", "copy"], default="list")
    parser.add_argument("name", nargs="?", help="copy: the recipe to copy")
    parser.add_argument("dest", nargs="?", help="copy: the file (or folder) to write")
    args = parser.parse_args(argv)
    if args.action == "copy":
        if not (args.name and args.dest):
            parser.error("copy needs NAME and DEST")
        try:
            print(f"wrote {copy_recipe(args.name, args.dest)}; train it with: minireason train {args.dest}")
        except (FileNotFoundError, FileExistsError) as error:
            _fail(error)
        return
    table = Table(title="shipped recipes (minireason train NAME)", show_lines=True)
    for column in ("name", "method", "model", "hardware", "memory", "expected (time, metric; from the header)"):
        table.add_column(column, overflow="fold")
    for info in map(describe, recipe_names()):
        memory = info.memory.split(" (")[0] + (" (estimate)" if "estimate" in info.memory else "")
        table.add_row(info.name, info.method, info.model, info.hardware, memory, info.expected)
    Console(width=None if sys.stdout.isatty() else 200).print(table)


COMMANDS = {  # name: (one line for `minireason --help`, function)
    "demo": ("run the CPU demo on the embedded SmolLM2-135M (~18 min on 2 cores)", cmd_demo),
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
