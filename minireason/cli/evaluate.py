"""`minireason eval` and `minireason compare`: one model under one inference strategy, and saved runs side by
side."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from minireason.cli.parsing import TaskArgs, fail, parse


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
        if self.n_problems < 1 or self.batch_size < 1:
            raise ValueError(f"n_problems and batch_size must be at least 1, got {self.n_problems} and "
                             f"{self.batch_size}")

    def _from_run(self) -> None:
        """Take the model, adapter, task and prompt style the run was trained with."""
        from minireason.recipes.runs import trained_run

        trained = trained_run(self.run)
        self.model, self.adapter, self.load_in_4bit = trained["model"], trained["adapter"], trained["load_in_4bit"]
        self.task = self.task or trained["task"]
        if self.task == trained["task"] and not self.param:
            self.param = [f"{key}={json.dumps(value)}" for key, value in trained["task_params"].items()]
        self.prompt_style = self.prompt_style or trained["prompt_style"]


@dataclasses.dataclass
class CompareArgs:
    """Read eval.json from each run folder; print one table with 95% intervals over problems, then each run
    against the first on the problems both answered (paired bootstrap of the difference, exact McNemar test);
    write comparison.png (accuracy vs k, accuracy vs tokens) and comparison.md."""

    runs: list[str] = dataclasses.field(default_factory=list, metadata={
        "required": True, "help": "Folders written by `minireason eval --out`, or trained stages' output_dirs "
                                  "(each stage's own greedy evaluation, in its eval/ folder)."})
    out: str = dataclasses.field(default="outputs/eval", metadata={"help": "Where the plot and table go."})
    report_to: str = dataclasses.field(default="none", metadata={"help": "wandb (offline without a key) or none."})
    wandb_project: str = dataclasses.field(default="minireason", metadata={"help": "W&B project."})


@dataclasses.dataclass
class UpgradeArgs:
    """Bring training stages saved by an older minireason to the current format: a stage's evaluation moves from
    summary.json's eval_* fields and eval_samples.jsonl to output_dir/eval (eval.json and samples.jsonl, as
    `minireason eval` writes them). The figures are recounted from the samples and must match the old ones."""

    folders: list[str] = dataclasses.field(default_factory=list, metadata={
        "required": True, "help": "Stage folders, or folders above them (searched through)."})


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
        fail(error)
    model, tokenizer = load_model(args.model, load_in_4bit=args.load_in_4bit, adapter=args.adapter)
    result = evaluate_strategy(model, tokenizer, rows, strategy, batch_size=args.batch_size,
                               prompt_style=args.prompt_style)
    label = args.label or (f"{args.model}+adapter" if args.adapter else args.model)
    config = {"model": args.model, "adapter": args.adapter, "task": task.name, "task_params": task.params(),
              "n_problems": args.n_problems, "seed": args.seed, "prompt_style": result.prompt_style}
    run = save_run(result, args.out, label, config)
    plot_runs([run], Path(args.out) / "accuracy.png")
    Console(width=None if sys.stdout.isatty() else 200).print(comparison_table([run]))
    print(f"wrote {args.out}/eval.json, samples.jsonl and accuracy.png")
    if args.report_to == "wandb":
        log_to_wandb([run], args.wandb_project, result.problems)


def cmd_compare(argv: list[str]) -> None:
    from rich.console import Console

    from minireason.reports.evals import comparison_table, load_runs, log_to_wandb, paired_markdown, plot_runs, runs_markdown

    args = parse("compare", (CompareArgs,), argv, leading="runs")
    try:
        runs = load_runs(args.runs)
    except FileNotFoundError as error:
        fail(error)
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


def cmd_upgrade(argv: list[str]) -> None:
    from minireason.reports.upgrade import old_stages, upgrade_stage

    args = parse("upgrade", (UpgradeArgs,), argv, leading="folders", epilog=(
        "example:\n  minireason upgrade outputs   # every old stage under outputs/"))
    try:
        stages = old_stages(args.folders)
        for stage in stages:
            upgrade_stage(stage)
            print(f"upgraded {stage}: its evaluation is now {stage / 'eval'}")
    except (FileNotFoundError, ValueError) as error:
        fail(error)
    if not stages:
        print(f"nothing to upgrade under {', '.join(args.folders)}")
