"""`minireason tasks`, `data generate`, `data distill`, `data journey` and `score`: task rows, verified traces, and
one completion scored."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from minireason.cli.parsing import TaskArgs, fail, parse, parse_params


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
        rows = task.generate(args.n, seed=args.seed)
    except ValueError as error:
        fail(error)
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
            fail(error)
    yaml_defaults = {k: v for k, v in values.items() if k not in ("sources", "teacher_options")}
    yaml_defaults.update(values.get("teacher_options") or {})
    options, source, teacher_options = parse(prog, classes, argv, description, epilog,
                                             defaults={**command_defaults, **yaml_defaults})
    if source.task and not source.n:
        fail(ValueError("--task needs --n (how many problems)"))
    if source.task:
        try:
            sources = [{"task": source.task, "n": source.n, "params": parse_params(source.param)}]
        except ValueError as error:
            fail(error)
    elif values.get("sources"):
        sources = values["sources"]
    else:
        fail(ValueError("give --task and --n, or --config with a sources list"))
    try:
        return DistillConfig(**dataclasses.asdict(options), sources=sources,
                             teacher_options=dataclasses.asdict(teacher_options))
    except (TypeError, ValueError) as error:
        fail(error)


def _run_distill(cfg) -> None:
    from minireason.distill import distill
    from minireason.reports.cards import card_markdown

    try:
        card = distill(cfg)
    except ValueError as error:
        fail(error)
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
            fail(ValueError("--style shortcut with a model teacher is plain distillation: use `minireason data distill`"))
        try:
            cfg = dataclasses.replace(cfg, journey=True, samples_per_problem=max(cfg.samples_per_problem, 4))
        except ValueError as error:
            fail(error)
    _run_distill(cfg)


def cmd_score(argv: list[str]) -> None:
    args = parse("score", (ScoreArgs,), argv)
    try:
        task = args.make_task()
        row = json.loads(args.row)
    except json.JSONDecodeError as error:
        fail(ValueError(f"--row is not JSON: {error}"))
    except ValueError as error:
        fail(error)
    completion = sys.stdin.read() if args.completion == "-" else args.completion
    print(task.score(completion, row))
