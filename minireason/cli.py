"""The ``minireason`` command line. Run ``minireason --help``, or ``minireason COMMAND --help``."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from pathlib import Path

EPILOG = """\
examples:
  minireason demo                                   # the CPU demo on the embedded SmolLM2-135M
  minireason train recipes/smollm2-135m/grpo-countdown/cpu.yaml --max_steps 20
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


_TEACHER_FLAGS = ("base_url", "concurrency", "max_retries", "timeout", "temperature", "max_new_tokens", "batch_size",
                  "adapter")


def _distill_config(args, **fixed):
    """A DistillConfig from --config (if any), then the flags given, then ``fixed``."""
    import os as _os

    from minireason.distill import DistillConfig, read_config

    values: dict = {}
    if getattr(args, "config", None):
        try:
            values = read_config(args.config)
        except (OSError, ValueError) as error:
            raise SystemExit(f"error: {error}") from None
    if args.task:
        values["sources"] = [{"task": args.task, "n": args.n, "params": _parse_params(args.param)}]
    elif not values.get("sources"):
        raise SystemExit("error: give --task and --n, or --config with a sources list")
    if args.task and not args.n:
        raise SystemExit("error: --task needs --n (how many problems)")
    options = dict(values.get("teacher_options") or {})
    options.update({k: getattr(args, k) for k in _TEACHER_FLAGS if getattr(args, k, None) is not None})
    if getattr(args, "api_key_env", None):
        options["api_key"] = _os.environ.get(args.api_key_env)
    values["teacher_options"] = options
    if getattr(args, "rewriter_base_url", None):
        values["rewriter_options"] = {**(values.get("rewriter_options") or {}), "base_url": args.rewriter_base_url,
                                      "api_key": _os.environ.get(args.rewriter_api_key_env)}
    for flag in ("out", "teacher", "samples_per_problem", "keep_per_problem", "rewriter", "seed", "push_to_hub",
                 "chunk_size", "report_to"):
        if getattr(args, flag, None) is not None:
            values[flag] = getattr(args, flag)
    if args.format:
        values["formats"] = args.format
    if "teacher_options" in fixed:
        fixed = {**fixed, "teacher_options": {**options, **fixed["teacher_options"]}}
    values.update(fixed)
    if not values.get("out"):
        raise SystemExit("error: --out is required (or out: in the config)")
    try:
        return DistillConfig(**values)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None


def _run_distill(cfg) -> None:
    from minireason.distill import card_markdown, distill

    try:
        card = distill(cfg)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    print(card_markdown(card))
    print(f"data set, JSONL/parquet and data card in {cfg.out}")


def cmd_data_distill(args) -> None:
    _run_distill(_distill_config(args))


def cmd_data_journey(args) -> None:
    if (args.teacher or "solver") == "solver":
        options = {"style": args.style, "error_rate": args.error_rate, "strategy": args.strategy}
        cfg = _distill_config(args, teacher="solver", samples_per_problem=1, journey=False, teacher_options=options)
    else:  # a model teacher: stitch its rejected and accepted attempts
        if args.style == "shortcut":
            raise SystemExit("error: --style shortcut with a model teacher is plain distillation: "
                             "use `minireason data distill`")
        cfg = _distill_config(args, journey=True, **({} if args.samples_per_problem else {"samples_per_problem": 4}))
    _run_distill(cfg)


def cmd_eval(args) -> None:
    """Sample, score and report one model under one inference strategy."""
    from rich.console import Console

    from minireason.models import load_model
    from minireason.scaling import Strategy, comparison_table, evaluate_strategy, log_to_wandb, plot_runs, save_run

    task = _task(args)
    try:
        strategy = Strategy(prompt=args.prompt, samples=args.samples, temperature=args.temperature,
                            max_new_tokens=args.max_new_tokens, think_budget=args.think_budget, waits=args.waits,
                            answer_tokens=args.answer_tokens, scorer=args.scorer)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    try:
        rows = task.split_rows(args.n_problems, seed=args.seed, held_out=True)  # never a training question
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    model, tokenizer = load_model(args.model, load_in_4bit=args.load_in_4bit, adapter=args.adapter)
    result = evaluate_strategy(model, tokenizer, rows, strategy, batch_size=args.batch_size)
    label = args.label or (f"{args.model}+adapter" if args.adapter else args.model)
    config = {"model": args.model, "adapter": args.adapter, "task": task.name, "task_params": task.params(),
              "n_problems": args.n_problems, "seed": args.seed}
    save_run(result, args.out, label, config)
    run = {"label": label, "config": config, "strategy": result.strategy, "metrics": result.metrics}
    plot_runs([run], Path(args.out) / "accuracy.png")
    Console(width=None if sys.stdout.isatty() else 200).print(comparison_table([run]))
    print(f"wrote {args.out}/eval.json, samples.jsonl and accuracy.png")
    if args.report_to == "wandb":
        log_to_wandb([run], args.wandb_project, result.samples)


def cmd_compare(args) -> None:
    """Put saved eval runs side by side: one table, one plot."""
    from rich.console import Console

    from minireason.scaling import comparison_table, load_runs, log_to_wandb, markdown_table, plot_runs

    try:
        runs = load_runs(args.runs)
    except FileNotFoundError as error:
        raise SystemExit(f"error: {error}") from None
    Path(args.out).mkdir(parents=True, exist_ok=True)
    plot_runs(runs, Path(args.out) / "comparison.png")
    (Path(args.out) / "comparison.md").write_text(markdown_table(runs) + "\n")
    Console(width=None if sys.stdout.isatty() else 200).print(comparison_table(runs))
    print(f"wrote {args.out}/comparison.png and comparison.md")
    if args.report_to == "wandb":
        log_to_wandb(runs, args.wandb_project)


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
    """R1-Zero and R1 side by side on the embedded SmolLM2-135M, on 2 CPU cores, in about 18 minutes.

    The base model, pure RL (GRPO from the base model), a cold-start SFT, and GRPO after that SFT, all
    scored on the same held-out 2-digit additions with 95% intervals. Writes report.json and a plot of
    both GRPO reward curves, and logs each stage to W&B (offline without a key). Recipe options can
    follow and apply to every stage: --seed 1 trains with another seed on the same held-out problems,
    --n_eval 256 scores more problems."""
    from minireason.demo import run_demo

    try:
        run_demo(args.out, args.overrides)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None


def cmd_train(args) -> None:
    """Train from a recipe YAML; any recipe option can follow as a flag (--max_steps 2)."""
    from minireason.recipes import load_recipe, run

    try:
        stages = load_recipe(args.recipe, args.overrides)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None
    summaries = run(stages)
    for summary in summaries:
        print(json.dumps(summary, indent=2))
    if len(summaries) > 1:  # a comparison (journey-vs-shortcut) or a pipeline (sft-then-grpo): one line each
        print("\n| stage | data | eval accuracy | format rate | mean tokens |\n|---|---|---:|---:|---:|")
        for stage, summary in zip(stages, summaries):
            print(f"| {stage.output_dir} | {summary.get('data', '-')} | {summary.get('eval_accuracy', 0):.1%} | "
                  f"{summary.get('eval_format_rate', 0):.1%} | {summary.get('eval_mean_tokens', 0):.0f} |")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minireason",
        description="Reasoning LLMs on a small budget: R1-Zero style RL, SFT then RL, distillation and "
                    "inference-time scaling, with exact verifiers for Countdown, arithmetic and math.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the CPU demo on the embedded SmolLM2-135M (~18 min on 2 cores)",
                               description=inspect.cleandoc(cmd_demo.__doc__),
                               epilog="recipes: recipes/smollm2-135m/grpo-arithmetic/cpu.yaml (pure RL) and "
                                      "recipes/smollm2-135m/sft-then-grpo/cpu.yaml (SFT, then GRPO)\n"
                                      "examples:\n  minireason demo\n  minireason demo --seed 1 --out outputs/demo-seed1\n"
                                      "  python benchmarks/demo_seeds.py   # three seeds, 256 problems: "
                                      "docs/grpo-on-cpu.md",
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--out", default="outputs/demo", help="report folder (default: %(default)s)")
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

    def output_options(sub):
        sub.add_argument("--out", help="output folder: records.jsonl, data/ (save_to_disk), data.jsonl, "
                                       "data.parquet, data_card.json, README.md")
        sub.add_argument("--seed", type=int, help="seed of the generated problems (default: 0)")
        sub.add_argument("--format", action="append", choices=["disk", "jsonl", "parquet"],
                         help="output format, repeatable (default: all three)")
        sub.add_argument("--push-to-hub", dest="push_to_hub", metavar="REPO", help="also push the data set to the hub")
        sub.add_argument("--chunk-size", dest="chunk_size", type=int,
                         help="problems per teacher call and per write (default: 64)")
        sub.add_argument("--report-to", dest="report_to", choices=["wandb", "none"],
                         help="log counts and samples to W&B (default: wandb, offline without a key)")

    def teacher_options(sub, default_samples: str):
        sub.add_argument("--teacher", help="solver (no model; countdown/arithmetic), hf:MODEL (local transformers "
                                           "model, e.g. hf:smollm2-135m) or openai:MODEL (OpenAI-compatible server)")
        sub.add_argument("--samples-per-problem", dest="samples_per_problem", type=int,
                         help=f"traces asked per problem, K (default: {default_samples})")
        sub.add_argument("--base-url", dest="base_url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
        sub.add_argument("--api-key-env", dest="api_key_env", default="OPENAI_API_KEY",
                         help="environment variable holding the API key (default: %(default)s)")
        sub.add_argument("--concurrency", type=int, help="requests in flight (openai teacher; default: 8)")
        sub.add_argument("--max-retries", dest="max_retries", type=int,
                         help="retries per request on 429/5xx/timeouts/garbage, with backoff (default: 5)")
        sub.add_argument("--timeout", type=float, help="seconds per request (default: 120)")
        sub.add_argument("--temperature", type=float, help="sampling temperature (default: 0.7)")
        sub.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, help="tokens per trace (default: 1024)")
        sub.add_argument("--batch-size", dest="batch_size", type=int, help="prompts per generate call (hf teacher)")
        sub.add_argument("--adapter", help="LoRA adapter on top of the hf teacher")

    distill = data.add_parser(
        "distill", help="teacher traces → verifier (rejection sampling) → SFT data set with a data card",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Sky-T1/R1-Distill style data: the teacher writes K traces per problem, each is put in the "
                    "<think>…</think><answer>…</answer> format, kept only if the task's verifier accepts it, "
                    "deduplicated, and saved with a data card (counts, yield, reject reasons, settings). Killed and "
                    "started again with the same command, it resumes where it stopped.",
        epilog="examples:\n"
               "  minireason data distill --task countdown --n 17000 --teacher solver --out data/countdown\n"
               "  minireason data distill --config recipes/solver/distill-17k/cpu.yaml\n"
               "  vllm serve Qwen/QwQ-32B --reasoning-parser deepseek_r1 &\n"
               "  minireason data distill --task countdown --n 17000 --samples-per-problem 4 \\\n"
               "      --teacher openai:Qwen/QwQ-32B --base-url http://localhost:8000/v1 --out data/qwq-countdown\n"
               "  minireason data distill --task math --param path=gsm8k.jsonl --n 500 --teacher hf:smollm2-135m \\\n"
               "      --samples-per-problem 8 --out data/toy")
    distill.add_argument("--config", help="a distill YAML (method: distill) with a sources mix; flags override it")
    distill.add_argument("--task", help="one source instead of --config: countdown, arithmetic or math")
    distill.add_argument("--param", action="append", metavar="KEY=VALUE", help="task parameter, repeatable")
    distill.add_argument("--n", type=int, help="problems to generate for --task")
    teacher_options(distill, "1")
    distill.add_argument("--keep-per-problem", dest="keep_per_problem", type=int,
                         help="verified distinct traces kept per problem (default: 1)")
    distill.add_argument("--rewriter", help="hf:MODEL or openai:MODEL that rewrites kept traces (re-verified), "
                                            "as Sky-T1 did with GPT-4o-mini")
    distill.add_argument("--rewriter-base-url", dest="rewriter_base_url",
                         help="the rewriter's endpoint, if not OpenAI's (e.g. http://localhost:8001/v1)")
    distill.add_argument("--rewriter-api-key-env", dest="rewriter_api_key_env", default="OPENAI_API_KEY",
                         help="environment variable holding the rewriter's key (default: %(default)s)")
    output_options(distill)
    distill.set_defaults(func=cmd_data_distill)

    journey = data.add_parser(
        "journey", help="journey-learning traces (mistakes caught and corrected) or shortcut traces",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="O1 Replication Journey style SFT data. With the solver teacher (the default): Countdown "
                    "searches that hit dead ends and backtrack, arithmetic with slips that a check catches; "
                    "--style shortcut writes the same problems with only the clean path. With a model teacher: "
                    "a rejected attempt, a reflection and an accepted attempt stitched into one trace. Every "
                    "trace ends in a verified answer; rows record their errors and corrections.",
        epilog="examples:\n"
               "  minireason data journey --task countdown --n 17000 --error-rate 0.5 --out data/journey\n"
               "  minireason data journey --task countdown --n 17000 --style shortcut --out data/shortcut\n"
               "  minireason data journey --task arithmetic --param op=mul --n 2000 --error-rate 0.3 --out data/mul\n"
               "  minireason data journey --task countdown --n 500 --teacher hf:smollm2-135m "
               "--samples-per-problem 8 --out data/stitched")
    journey.add_argument("--task", required=True, help="countdown or arithmetic (any task with a model teacher)")
    journey.add_argument("--param", action="append", metavar="KEY=VALUE", help="task parameter, repeatable")
    journey.add_argument("--n", type=int, required=True, help="problems")
    journey.add_argument("--style", choices=["journey", "shortcut"], default="journey",
                         help="journey (errors and corrections) or shortcut (clean path) (default: %(default)s)")
    journey.add_argument("--error-rate", dest="error_rate", type=float, default=0.5,
                         help="chance per step of a mistake that is then caught (default: %(default)s)")
    journey.add_argument("--strategy", choices=["dfs", "greedy"], default="dfs",
                         help="Countdown search order for wrong turns: dfs (any dead end) or greedy (the dead end "
                              "nearest the target) (default: %(default)s)")
    teacher_options(journey, "1 with the solver; give 4 or more with a model teacher")
    output_options(journey)
    journey.set_defaults(func=cmd_data_journey)

    def wandb_options(sub):
        sub.add_argument("--report-to", dest="report_to", choices=["wandb", "none"], default="none",
                         help="also log to W&B, offline without a key (default: %(default)s)")
        sub.add_argument("--wandb-project", dest="wandb_project", default="minireason", help="W&B project")

    evaluate = commands.add_parser(
        "eval", help="accuracy vs inference compute: pass@k, maj@k, best-of-N, budget forcing",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Sample k completions per problem under a strategy, score each with the task's verifier, and "
                    "report pass@1, unbiased pass@k, maj@k (votes on the verifier-normalised answer), best-of-N and "
                    "weighted best-of-N (by --scorer), format rate, reflection rate and the tokens spent. Writes "
                    "eval.json, samples.jsonl and accuracy.png to --out; `minireason compare` puts runs side by side.",
        epilog="examples:\n"
               "  minireason eval --task arithmetic --param op=add --param digits=3 --samples 8 --out outputs/eval/base\n"
               "  minireason eval --task arithmetic --param op=add --param digits=3 --adapter outputs/sft/final \\\n"
               "      --samples 8 --label sft --out outputs/eval/sft\n"
               "  minireason eval --task countdown --prompt direct --samples 1 --temperature 0 --out outputs/eval/direct\n"
               "  minireason eval --task countdown --think-budget 64 --waits 1 --out outputs/eval/budget64  # s1\n"
               "  minireason compare outputs/eval/* --out outputs/eval")
    evaluate.add_argument("--model", default="smollm2-135m", help="smollm2-135m, tiny, an alias, hub id or folder "
                                                                  "(default: %(default)s)")
    evaluate.add_argument("--adapter", help="a LoRA adapter folder (e.g. a recipe's output_dir/final)")
    evaluate.add_argument("--load-in-4bit", dest="load_in_4bit", action="store_true", help="nf4 weights")
    task_options(evaluate)
    evaluate.add_argument("--n-problems", dest="n_problems", type=int, default=64, help="problems (default: %(default)s)")
    evaluate.add_argument("--seed", type=int, default=0,
                          help="seed of the held-out problems; the recipes evaluate on seed 0, their eval_seed "
                               "(default: %(default)s)")
    evaluate.add_argument("--prompt", choices=["cot", "direct"], default="cot",
                          help="cot: reason in <think> first; direct: answer only (default: %(default)s)")
    evaluate.add_argument("--samples", type=int, default=8, help="samples per problem, k (default: %(default)s)")
    evaluate.add_argument("--temperature", type=float, default=0.7, help="0 for greedy (default: %(default)s)")
    evaluate.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, default=256,
                          help="token limit per sample (default: %(default)s)")
    evaluate.add_argument("--think-budget", dest="think_budget", type=int,
                          help="s1 budget forcing: cap thinking at N tokens, then force the answer")
    evaluate.add_argument("--waits", type=int, default=0,
                          help="s1: when thinking ends early, append 'Wait,' this many times (default: 0)")
    evaluate.add_argument("--answer-tokens", dest="answer_tokens", type=int, default=32,
                          help="tokens for a forced answer (default: %(default)s)")
    evaluate.add_argument("--scorer", default="accuracy",
                          help="best-of-N scorer: accuracy (the verifier: an oracle), a reward name (format, "
                               "repetition, ...) or module:function with TRL's reward signature (default: %(default)s)")
    evaluate.add_argument("--batch-size", dest="batch_size", type=int, default=16, help="prompts per generate call")
    evaluate.add_argument("--label", help="the run's name in tables and plots (default: the model)")
    evaluate.add_argument("--out", default="outputs/eval/run", help="output folder (default: %(default)s)")
    wandb_options(evaluate)
    evaluate.set_defaults(func=cmd_eval)

    compare = commands.add_parser("compare", help="put saved eval runs side by side: one table, one plot",
                                  description="Read eval.json from each run folder; print one table, write "
                                              "comparison.png (accuracy vs k, accuracy vs tokens) and comparison.md.")
    compare.add_argument("runs", nargs="+", help="run folders written by `minireason eval --out`")
    compare.add_argument("--out", default="outputs/eval", help="where the plot and table go (default: %(default)s)")
    wandb_options(compare)
    compare.set_defaults(func=cmd_compare)

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
