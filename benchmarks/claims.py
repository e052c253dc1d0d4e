"""The seed's four claims, reproduced at CPU scale over several seeds with 95% intervals: docs/claims.md.

1. Pure RL with rule-based rewards teaches format and accuracy (R1-Zero): the demo's base model against
   its pure-RL arm.
2. For a small model, SFT beats pure RL at equal compute: the demo's cold-start SFT (and SFT then GRPO)
   against pure RL, with the compute of each as wall time and as tokens trained.
3. Journey learning vs shortcut learning (O1 Replication Journey; Stream of Search): two SFT runs on the
   same problems, one on clean traces, one on traces whose slips are caught (arithmetic) or whose searches
   backtrack (Countdown). The shortcut arm runs for more epochs so that both train on the same number of
   trace tokens.
4. Inference-time scaling, on each seed's SFT-then-GRPO model: CoT against direct answers, pass@k and maj@k
   for k = 1…16, a budget-forcing sweep, best-of-N and weighted best-of-N with the verifier as the reward
   model, and beam search over steps ranked by the step reward beside best-of-N by the same reward.

Every comparison is paired (the same held-out problems for every arm and seed): the mean difference with a
95% bootstrap interval over problems (each carrying all its seeds), each seed's own difference, and a 95%
Student-t interval over the seeds (how far another training seed could land). A claim "holds" when the
bootstrap interval excludes zero in its direction and every seed agrees; "mixed" when the interval does but
a seed disagrees; "undecided" when the interval holds zero; "contradicted" when it excludes zero the other way;
"one seed only" when the interval excludes zero but only one seed was run.

    python benchmarks/claims.py                                   # all four claims, 3 seeds, into docs/claims.md
    python benchmarks/claims.py --claims 3 4                      # some of them (the page keeps the others)
    python benchmarks/claims.py --model tiny --scale tiny --docs none   # the tests' size: a couple of minutes

Every run and evaluation is kept under --out and reused when the command runs again with the same settings,
so a killed command continues where it stopped.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

from minireason.demo import BASE, STAGES, run_demo
from minireason.reports.evals import correctness, load_run
from minireason.reports.markdown import claim_section_name, command_line, fill_section, markdown_table
from minireason.reports.training import mean_curve, plot_learning_curves, training_compute
from minireason.reports.verdicts import compare, diff_row, diff_table, plot_verdicts
from minireason.stats import seed_interval

# The size of each claim's runs. cpu: what docs/claims.md reports (2 cores); tiny: the tests' random 2-layer model.
SCALES = {
    # Claim 3 trains on the recipe's 384 problems: at 128 (16 steps) neither arm learned to write its traces.
    # Countdown's searches run long: 46 of 384 training traces pass 256 tokens, so they are scored at up to 512.
    "cpu": {"rl_eval": 256, "rl_flags": [], "journey_train": 384, "journey_eval": 128,
            "journey_tokens": {"arithmetic": 256, "countdown": 512},
            "journey_flags": [], "scaling_problems": 128, "k": 16, "budgets": [4, 8, 16, 32], "beams": 4,
            "width": 2, "max_new_tokens": 64, "batch_size": 128},
    "tiny": {"rl_eval": 4, "rl_flags": ["--max_steps", "2", "--n_train", "8", "--max_completion_length", "8",
                                       "--num_generations", "4", "--per_device_train_batch_size", "4"],
             "journey_train": 8, "journey_eval": 4, "journey_tokens": {"arithmetic": 8, "countdown": 8},
             "journey_flags": ["--max_steps", "2", "--curve_every", "1", "--curve_problems", "2"],
             "scaling_problems": 4, "k": 4, "budgets": [2, 4], "beams": 2, "width": 2, "max_new_tokens": 8,
             "batch_size": 16},
}
JOURNEY_TASKS = {"arithmetic": {"op": "add", "digits": 3}, "countdown": {}}
JOURNEY_RECIPE = "smollm2-135m/journey-vs-shortcut/cpu"
pct = lambda x: f"{x:+.1%}" if x < 0 else f"{x:.1%}"  # noqa: E731


# -- claims 1 and 2: the demo's four stages ---------------------------------------------------------------


def saved_demo_report(out: Path, seed: int, scale: dict, model: str) -> dict | None:
    """The demo's report at ``seed`` if it finished with this scale's problems and this model, and names its
    evaluations (``evals``: an older demo's report does not, and is written again from its upgraded stages)."""
    path = out / "rl" / f"seed{seed}" / "report.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    if "evals" not in report:
        return None
    return report if (report.get("held_out_problems"), report.get("model")) == (scale["rl_eval"], model) else None


def demo_report(out: Path, seed: int, scale: dict, overrides: list[str]) -> dict:
    """The demo's four stages at ``seed`` (``minireason demo``), run once: a finished demo's report is reused as it
    is (its stages would be too, but its base model would be scored again)."""
    folder = out / "rl" / f"seed{seed}"
    report = saved_demo_report(out, seed, scale, overrides[1])
    if report is None:
        report = run_demo(folder, ["--seed", str(seed), "--n_eval", str(scale["rl_eval"]), "--report_to", "none",
                                   *scale["rl_flags"], *overrides])
    return report


def rl_claims(out: Path, seeds: list[int], scale: dict, overrides: list[str]) -> tuple[str, dict]:
    reports = {seed: demo_report(out, seed, scale, overrides) for seed in seeds}
    outcome = lambda stage, key="correct": [correctness(reports[s], stage, key) for s in seeds]  # noqa: E731
    stages, arms = STAGES, ("pure RL", "SFT", "SFT + GRPO")
    rows = []
    for stage in stages:
        accuracy = [reports[s]["stages"][stage]["pass@1"] for s in seeds]
        formats = [reports[s]["stages"][stage]["format_rate"] for s in seeds]
        band = seed_interval(accuracy, bounds=(0, 1))
        rows.append([stage, ", ".join(pct(a) for a in accuracy), f"{pct(band['mean'])} ({pct(band['low'])} to "
                     f"{pct(band['high'])})", ", ".join(pct(f) for f in formats)])
    stage_table = markdown_table(["stage", "accuracy per seed", "mean (95% CI over seeds)", "format rate per seed"],
                                 rows, numeric=[False, True, True, True])
    compute = {}
    for s in seeds:
        folders = {stage: Path(reports[s]["evals"][stage]).parent for stage in arms}
        logs = {stage: training_compute(folder) for stage, folder in folders.items()}
        logs["SFT + GRPO"] = {key: logs["SFT"][key] + logs["SFT + GRPO"][key] for key in ("seconds", "tokens")}
        compute[s] = logs
    compute_rows = [[stage, f"{sum(compute[s][stage]['seconds'] for s in seeds) / len(seeds) / 60:.1f}",
                     f"{sum(compute[s][stage]['tokens'] for s in seeds) / len(seeds):,.0f}"] for stage in arms]
    results = {
        "1. pure RL - base, accuracy": compare(outcome(BASE), outcome("pure RL")),
        "1. pure RL - base, format": compare(outcome(BASE, "well_formed"), outcome("pure RL", "well_formed")),
        "2. SFT - pure RL, accuracy": compare(outcome("pure RL"), outcome("SFT")),
        "2. SFT + GRPO - pure RL, accuracy": compare(outcome("pure RL"), outcome("SFT + GRPO")),
        "2. SFT + GRPO - SFT, accuracy": compare(outcome("SFT"), outcome("SFT + GRPO")),
    }
    text = "\n".join([
        f"The demo's stages (`minireason demo --seed S --n_eval {scale['rl_eval']}`), seeds {seeds}, each scored "
        f"greedily on the same {reports[seeds[0]]['held_out_problems']} held-out 2-digit additions.", "", stage_table,
        "", "Compute per stage, mean over seeds (wall time of training on 2 CPU cores; tokens the trainer saw, "
            "prompts included; SFT + GRPO counts both stages):", "",
        markdown_table(["stage", "training minutes", "tokens trained"], compute_rows, numeric=[False, True, True]),
        "", diff_table([diff_row(name, result) for name, result in results.items()])])
    return text, {"results": results, "compute": compute,
                  "accuracy": {stage: [reports[s]["stages"][stage]["pass@1"] for s in seeds] for stage in stages}}


# -- claim 3: journey vs shortcut ---------------------------------------------------------------------------

# Each arm is one SFT run of JOURNEY_RECIPE with these settings. Every arm takes the recipe's optimiser steps over
# packed traces (the same steps, the same tokens), so an arm with longer traces sees fewer problems, not more compute.
# Full fine-tuning moves every weight, so it takes a tenth of LoRA's learning rate (5e-5: the usual range for full SFT
# of a small model).
FULL = {"lora": False, "learning_rate": 5e-5}
EVERY_STEP = {"data_style": "journey", "catch_style": "every_step", "same_endings": True}
JOURNEY_ARMS = {
    "shortcut": {"data_style": "shortcut"},
    "journey": {"data_style": "journey"},
    "journey, same endings": {"data_style": "journey", "same_endings": True},
    "journey, check every step": EVERY_STEP,
    # Masking needs lines that end the same way: a masked "." after a slip would leave nothing that cues the check.
    "journey, check every step, masked errors": {**EVERY_STEP, "mask_errors": True},
    "journey, error rate 0.1": {"data_style": "journey", "error_rate": 0.1},
    "journey, error rate 0.5": {"data_style": "journey", "error_rate": 0.5},
    # The slips are the shortcut arm's own: its first wrong step in its answer to each training problem, caught.
    "journey, own errors": {**EVERY_STEP, "error_source": "own", "own_errors_from": "shortcut"},
    # Countdown: the trace is a whole depth-first search (Stream of Search) instead of the path with detours.
    "journey, search": {"data_style": "journey", "search_strategy": "search"},
    "shortcut, full": {"data_style": "shortcut", **FULL},
    "journey, full": {"data_style": "journey", **FULL},
    # The designs meant to let a model learn the catch, where it learns best (and where arXiv 2408.16293 found error
    # correction learnable at all): every-step checks, then the same with no loss on the slips.
    "journey, check every step, full": {**EVERY_STEP, **FULL},
    "journey, check every step, masked errors, full": {**EVERY_STEP, "mask_errors": True, **FULL},
    # The copy finding (every-step checks passed wrong steps by writing the operand above them) points here: a
    # check that works the step again another way (9 + 5 for 5 + 9) instead of undoing it, in the operation the step
    # itself does. On a right step its result is still the value above it, so copying is not ruled out.
    # The own-errors design with full fine-tuning: the slips are the "shortcut, full" model's own.
    "journey, recompute checks, full": {**EVERY_STEP, "catch_style": "recompute", **FULL},
    "journey, own errors, full": {**EVERY_STEP, "error_source": "own", "own_errors_from": "shortcut, full", **FULL},
    # The dose: does the full-fine-tuned journey arm's gap grow with the share of columns that slip?
    "journey, error rate 0.1, full": {"data_style": "journey", "error_rate": 0.1, **FULL},
    "journey, error rate 0.5, full": {"data_style": "journey", "error_rate": 0.5, **FULL},
}


def arm_applies(arm: str, task: str) -> bool:
    """Slips are shaped on arithmetic only (the recipe refuses the switches on Countdown); searches are Countdown's."""
    settings = JOURNEY_ARMS[arm]
    if any(key in settings for key in ("catch_style", "same_endings", "mask_errors", "error_source")):
        return task == "arithmetic"
    return task == "countdown" if "search_strategy" in settings else True


def baseline_arm(arm: str) -> str:
    """The shortcut arm a journey arm is compared with: the one trained the same way (LoRA or full)."""
    return "shortcut, full" if arm.endswith(", full") else "shortcut"


def journey_runs(out: Path, task: str, arms: list[str], seeds: list[int], scale: dict, overrides: list[str],
                 train: bool) -> tuple[dict, list[str]]:
    """``{arm: [summary per seed]}`` for the arms that apply to ``task``, training what is missing (or, with
    ``train`` False, leaving it out and naming it)."""
    import yaml

    from minireason.evaluation import first_samples
    from minireason.recipes import load_recipe, run
    from minireason.recipes.catalog import find_recipe
    from minireason.recipes.data import task_data
    from minireason.recipes.runs import finished_summary

    recipe = yaml.safe_load(find_recipe(JOURNEY_RECIPE).read_text())
    summaries, missing = {}, []
    for arm in arms:
        if not arm_applies(arm, task):
            continue
        for seed in seeds:
            values = {**recipe, **JOURNEY_ARMS[arm], "method": "sft", "task": task, "task_params": JOURNEY_TASKS[task],
                      "n_train": scale["journey_train"], "n_eval": scale["journey_eval"],
                      "eval_max_new_tokens": scale["journey_tokens"][task], "seed": seed, "report_to": ["none"]}
            runs = out / "journey" / f"{task}-train{scale['journey_train']}"
            if "own_errors_from" in values:  # an arm's name: that arm's run at this seed (trained first if missing)
                source = values["own_errors_from"]
                journey_runs(out, task, [source], [seed], scale, overrides, train)
                values["own_errors_from"] = str(runs / arm_folder(source) / f"seed{seed}")
            (config,) = load_recipe(values, ["--output_dir", str(runs / arm_folder(arm) / f"seed{seed}"),
                                             *scale["journey_flags"], *overrides])
            summary = finished_summary(config)
            if summary is None and not train:
                missing.append(f"{task} {arm} seed {seed}")
                continue
            summary = summary or run([config])[0]
            evaluation = load_run(config.output_dir)
            summaries.setdefault(arm, []).append({**summary, "seed": seed, "log": training_compute(Path(config.output_dir)),
                                                  "metrics": evaluation["metrics"],
                                                  "samples": first_samples(evaluation["problems"]),
                                                  "eval_rows": task_data(config)[2]})
    return summaries, missing


def departures(runs: list[dict]) -> str:
    """Where the wrong answers of an arm's runs (pooled over seeds) first go wrong, as counts."""
    from minireason.journey import departure_counts

    counts = departure_counts([row for summary in runs for row in summary["eval_rows"]],
                              [sample for summary in runs for sample in summary["samples"]])
    return ", ".join(f"{kind.replace('after the steps', 'after')} {n}" for kind, n in counts.items())


def arm_folder(arm: str) -> str:
    return arm.replace(", ", "-").replace(" ", "-")


def rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def journey_claim(out: Path, seeds: list[int], scale: dict, overrides: list[str], tasks: list[str],
                  arms: list[str], image: Path | None = None, train: bool = True) -> tuple[str, dict]:
    """Claim 3 on each task: every arm at every seed, each journey arm against its shortcut arm, with the
    measures that say why (step accuracy, catch recall, false alarms, recovery) and the learning curves."""
    from minireason.tasks.steps import step_measures

    results, rows, per_arm, accuracy, curves, missing = {}, [], [], {}, {}, []
    for task in tasks:
        summaries, left_out = journey_runs(out, task, arms, seeds, scale, overrides, train)
        missing += left_out
        for arm, runs in summaries.items():
            for summary in runs:
                steps = step_measures(summary["samples"])
                rows.append([task, arm, summary["seed"], summary["steps"], f"{summary['log']['tokens']:,.0f}",
                             f"{summary['log']['seconds'] / 60:.1f}", pct(summary["metrics"]["format_rate"]),
                             f"{summary['metrics']['mean_tokens']:.0f}", pct(summary["metrics"]["pass@1"]),
                             rate(steps["step_accuracy"]), rate(steps["catch_recall"]), rate(steps["false_alarms"]),
                             rate(steps["recovery"])])
            pooled = step_measures([sample for summary in runs for sample in summary["samples"]])
            band = seed_interval([summary["metrics"]["pass@1"] for summary in runs], bounds=(0, 1))
            counts = pooled["counts"]
            per_arm.append([task, arm, len(runs), f"{pct(band['mean'])} ({pct(band['low'])} to {pct(band['high'])})",
                            f"{rate(pooled['step_accuracy'])} of {counts['steps']}",
                            f"{rate(pooled['catch_recall'])} of {counts['wrong']}",
                            f"{rate(pooled['false_alarms'])} of {counts['right']}",
                            f"{rate(pooled['recovery'])} of {counts['answers_with_a_wrong_step']}",
                            f"{rate(pooled['checking'])} of {counts['answers']}",
                            f"{rate(pooled['check_accuracy'])} of {counts['checks']}",
                            departures(runs) if task == "arithmetic" else "n/a"])
            accuracy[f"{task}, {arm}"] = band["mean"]
            if all("held_out_curve" in summary for summary in runs):
                curves[f"{task}, {arm}"] = mean_curve([summary["held_out_curve"] for summary in runs])
        correct = {arm: {summary["seed"]: [sample["correct"] for sample in summary["samples"]] for summary in runs}
                   for arm, runs in summaries.items()}
        for arm in correct:
            base = baseline_arm(arm)
            seeds_run = sorted(set(correct[arm]) & set(correct.get(base, {})))  # paired: the seeds both arms ran
            if arm != base and seeds_run:
                results[f"3. {arm} - {base}, {task}"] = compare([correct[base][s] for s in seeds_run],
                                                                 [correct[arm][s] for s in seeds_run])
    if image is not None and curves:
        plot_learning_curves(curves, image)
    text = "\n".join([
        f"`{JOURNEY_RECIPE}`, one SFT run per arm and seed: {scale['journey_train']} training problems, the same for "
        "every arm; every arm takes the recipe's optimiser steps over packed traces (the same steps and tokens); "
        f"{scale['journey_eval']} held-out problems, greedy, up to "
        f"{', '.join(f'{n} tokens on {task}' for task, n in scale['journey_tokens'].items() if task in tasks)}. "
        f"Arithmetic: 3-digit additions. Arms: {', '.join(arms)}. Tasks: {', '.join(tasks)}.", "",
        "Measures, from the greedy answers: *step accuracy*, the share of steps whose equality holds (a step is a "
        "reasoning line with arithmetic, not a check and not the closing restatement); *catch recall*, the wrong "
        "steps whose next line checks them and says 'not'; *false alarms*, the right steps so flagged; *recovery*, "
        "the answers with a wrong step that still end right; *answers that check*, those with any check line "
        "('Wait…' or 'Check:'); *checks that are right*, the check lines whose own arithmetic holds (a check that "
        "computes wrong can pass a wrong step). Pooled over seeds (`minireason.tasks.steps.step_measures`). "
        "*Wrong answers' first wrong step* (arithmetic), where each wrong answer first leaves the reference trace "
        "(`minireason.tasks.arithmetic_traces.first_departure`): a step on an *operand* the problem does not give there (a "
        "misread digit), the right digits with a wrong *carry*, the right step with a wrong *value* (the only "
        "error the journey traces inject and correct), steps *missing*, or *after* all its steps were right.", "",
        markdown_table(["task", "arm", "seeds", "accuracy, mean (95% CI over seeds)", "step accuracy", "catch recall",
                        "false alarms", "recovery", "answers that check", "checks that are right",
                        "wrong answers' first wrong step"], per_arm, numeric=[False, False, *[True] * 8, False]),
        "", diff_table([diff_row(name, result) for name, result in results.items()]), "",
        *curve_lines(curves, scale), "<details><summary>Every run</summary>", "",
        markdown_table(["task", "arm", "seed", "steps", "tokens trained", "training minutes", "format",
                        "tokens per answer", "accuracy", "step accuracy", "catch recall", "false alarms", "recovery"],
                       rows, numeric=[False, False, *[True] * 11]),
        "", "</details>"])
    return text, {"results": results, "accuracy": accuracy, "curves": curves, "left_out": missing}


def curve_lines(curves: dict, scale: dict) -> list[str]:
    """The learning curves as a table (held-out accuracy by step, mean over seeds) and the plot's link."""
    if not curves:
        return []
    steps = sorted({point[0] for curve in curves.values() for point in curve})
    table = [[name, *(next((pct(p[1]) for p in curve if p[0] == step), "") for step in steps)]
             for name, curve in curves.items()]
    return ["Held-out learning curves, mean over seeds (each point on the first held-out problems, greedy; the last "
            "is the final evaluation's answers to them):", "",
            markdown_table(["arm", *(f"step {step}" for step in steps)], table, numeric=[False, *[True] * len(steps)]),
            "", "![claim 3's learning curves](img/claims-journey-curves.png)", ""]


# -- claim 4: inference-time scaling ------------------------------------------------------------------------


def strategies(scale: dict) -> dict:
    from minireason.scaling import Strategy

    long, k = scale["max_new_tokens"], scale["k"]
    plans = {"CoT, greedy": Strategy(samples=1, temperature=0, max_new_tokens=long),
             "direct, greedy": Strategy(prompt="direct", samples=1, temperature=0, max_new_tokens=16)}
    for budget in scale["budgets"]:
        plans[f"budget {budget}, greedy"] = Strategy(samples=1, temperature=0, think_budget=budget, answer_tokens=12)
    plans[f"{k} samples, verifier"] = Strategy(samples=k, max_new_tokens=long, scorer="accuracy")
    plans[f"beam {scale['beams']} x {scale['width']}, step reward"] = Strategy(
        search="beam", samples=scale["beams"], beam_width=scale["width"], max_new_tokens=long, scorer="step")
    return plans


def scaling_claim(out: Path, seeds: list[int], scale: dict, model_name: str, image: Path) -> tuple[str, dict]:
    from minireason.models import load_model
    from minireason.reports.evals import load_runs, plot_runs, save_run
    from minireason.scaling import evaluate_strategy, per_problem_figures
    from minireason.tasks import get_task

    rows = get_task("arithmetic", op="add", digits=2).split_rows(scale["scaling_problems"], seed=0, held_out=True)
    plans, runs = strategies(scale), {}
    for seed in seeds:
        demo_report(out, seed, scale, ["--model", model_name])  # the models to scale: claims 1-2's
        adapter = out / "rl" / f"seed{seed}" / "sft-then-grpo" / "grpo" / "final"
        model = None
        for name, strategy in plans.items():
            folder = scaling_folder(out, seed, name)
            if not (folder / "eval.json").exists():
                if model is None:
                    model, tokenizer = load_model(model_name, adapter=str(adapter))
                strategy.sample_seed = seed
                result = evaluate_strategy(model, tokenizer, rows, strategy, batch_size=scale["batch_size"],
                                           prompt_style="base", progress=False)
                save_run(result, folder, name, {"adapter": str(adapter), "seed": seed})
            (saved,) = load_runs([folder])
            problems = saved["problems"]
            runs.setdefault(name, []).append({"metrics": saved["metrics"], "problems": problems,
                                              "figures": per_problem_figures(problems, len(problems[0]["samples"]))})
    k, beams = scale["k"], scale["beams"]
    sampled, beam = runs[f"{k} samples, verifier"], runs[f"beam {beams} x {scale['width']}, step reward"]
    # Best-of-N by the step reward, from the first N of the k samples already drawn: the sampling baseline that
    # beam search, ranked by the same reward, is compared with.
    runs[f"{beams} samples, step reward"] = [first_samples_by_step(run, rows, beams) for run in sampled]
    table = []
    for name, per_seed in runs.items():
        n = per_seed[0]["metrics"]["samples_per_problem"]
        for figure in ("pass@1", f"maj@{n}", f"best_of_{n}", f"weighted_best_of_{n}") if n > 1 else ("pass@1",):
            values = [run["metrics"][figure] for run in per_seed]
            band = seed_interval(values, bounds=(0, 1))
            table.append([name, figure, ", ".join(pct(v) for v in values),
                          f"{pct(band['mean'])} ({pct(band['low'])} to {pct(band['high'])})",
                          f"{sum(r['metrics']['tokens_per_problem'] for r in per_seed) / len(per_seed):.0f}"])
    by_k = [[f"{j}", *(f"{sum(r['metrics'][f'{m}@{j}'] for r in sampled) / len(sampled):.1%} "
                       f"({min(r['metrics']['ci95'][f'{m}@{j}'][0] for r in sampled):.1%}-"
                       f"{max(r['metrics']['ci95'][f'{m}@{j}'][1] for r in sampled):.1%})" for m in ("pass", "maj"))]
            for j in sorted({int(key[5:]) for key in sampled[0]["metrics"] if key.startswith("pass@")})]
    figure = lambda name, key: [run["figures"][key] for run in runs[name]]  # noqa: E731
    greedy_budgets = [f"budget {b}, greedy" for b in scale["budgets"]]
    results = {
        "4a. CoT - direct, greedy": compare(figure("direct, greedy", "pass@1"), figure("CoT, greedy", "pass@1")),
        f"4b. maj@{k} - pass@1, sampled": compare([r["figures"]["pass@1"] for r in sampled],
                                                   [r["figures"][f"maj@{k}"] for r in sampled]),
        f"4c. budget {scale['budgets'][-1]} - budget {scale['budgets'][0]}": compare(
            figure(greedy_budgets[0], "pass@1"), figure(greedy_budgets[-1], "pass@1")),
        f"4d. beam - best-of-{beams}, both by step reward": compare(
            figure(f"{beams} samples, step reward", f"best_of_{beams}"), [r["figures"][f"best_of_{beams}"] for r in beam]),
    }
    plot_runs([{"label": name, "metrics": mean_metrics([run["metrics"] for run in per_seed])}
               for name, per_seed in runs.items()], image)
    text = "\n".join([
        f"Each seed's SFT-then-GRPO adapter (claims 1-2) on {len(rows)} held-out 2-digit additions, base prompt; "
        f"sampling at T = 0.7, seeded by the seed. Tokens are generated tokens per problem, pruned beams included.",
        "", markdown_table(["strategy", "figure", "per seed", "mean (95% CI over seeds)", "tokens per problem"], table,
                           numeric=[False, False, True, True, True]),
        "", f"pass@k and maj@k over k, {k} samples per problem (mean over seeds; in brackets the widest of the seeds' "
            "95% intervals over problems):", "",
        markdown_table(["k", "pass@k", "maj@k"], by_k, numeric=[True, True, True]),
        "", diff_table([diff_row(name, result) for name, result in results.items()]),
        "", f"![accuracy against k and against tokens, mean over seeds, shaded: first seed's 95% interval](img/{image.name})"])
    return text, {"results": results, "runs": {name: [r["metrics"] for r in per_seed] for name, per_seed in runs.items()}}


def scaling_folder(out: Path, seed: int, strategy: str) -> Path:
    return out / "scaling" / f"seed{seed}" / strategy.replace(" ", "-").replace(",", "")


def first_samples_by_step(run: dict, rows: list[dict], n: int) -> dict:
    """A sampled run cut to its first ``n`` samples per problem, each rescored by the step reward."""
    from minireason.rewards import get_reward
    from minireason.scaling import per_problem_figures, summarise

    step = get_reward("step")
    problems = []
    for row, problem in zip(rows, run["problems"]):
        samples = problem["samples"][:n]
        columns = {key: [value] * n for key, value in row.items() if key != "prompt"}
        scores = step([sample["completion"] for sample in samples], **columns)
        problems.append({**problem, "samples": [{**sample, "score": score} for sample, score in zip(samples, scores)]})
    return {"metrics": summarise(problems, n), "problems": problems, "figures": per_problem_figures(problems, n)}


def mean_metrics(per_seed: list[dict]) -> dict:
    """The seeds' mean of every figure, for plotting; the intervals shown are the first seed's."""
    numbers = [key for key, value in per_seed[0].items() if isinstance(value, (int, float))]
    return {**{key: sum(m[key] for m in per_seed) / len(per_seed) for key in numbers}, "ci95": per_seed[0]["ci95"],
            "samples_per_problem": per_seed[0]["samples_per_problem"]}


# -- the page -----------------------------------------------------------------------------------------------


TITLES = {1: "Claims 1 and 2: pure RL, and SFT against pure RL", 3: "Claim 3: journey vs shortcut learning",
          4: "Claim 4: inference-time scaling"}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, nargs="+", default=[1, 2, 3, 4], choices=[1, 2, 3, 4],
                        help="which claims (1 and 2 share their runs; 4 scales the models of 1-2, training any missing)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--journey-tasks", dest="journey_tasks", nargs="+", default=list(JOURNEY_TASKS),
                        choices=list(JOURNEY_TASKS), help="claim 3's tasks")
    parser.add_argument("--journey-arms", dest="journey_arms", nargs="+", default=["shortcut", "journey"],
                        choices=list(JOURNEY_ARMS), metavar="ARM",
                        help=f"claim 3's arms, each against its shortcut arm: {'; '.join(JOURNEY_ARMS)}")
    parser.add_argument("--journey-train", dest="journey_train", type=int, default=None,
                        help="claim 3's training problems (default: the scale's; cpu: 384)")
    parser.add_argument("--scale", choices=list(SCALES), default="cpu", help="cpu: the page's figures; tiny: tests")
    parser.add_argument("--model", default="smollm2-135m", help="the model every claim trains and evaluates")
    parser.add_argument("--out", default="outputs/claims", help="runs and evaluations, reused when run again")
    parser.add_argument("--docs", default="docs/claims.md", help="the page to write ('none': print only)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="run the seeds' (and claim 3's tasks') runs as this many processes at once, each with "
                             "cores/jobs threads, then report. For many cores, which a 135M model's threads do not "
                             "fill; on 2 cores one process trains faster (claim 3's arithmetic SFT: 12.5 s a step with "
                             "both threads, ~35 s with one thread beside a second process)")
    parser.add_argument("--only-finished", dest="only_finished", action="store_true",
                        help="train and evaluate nothing: report the seeds (and tasks) already finished under --out, "
                             "naming those left out")
    args = parser.parse_args(argv)
    scale, out, overrides = dict(SCALES[args.scale]), Path(args.out), ["--model", args.model]
    scale["journey_train"] = args.journey_train or scale["journey_train"]
    images = (Path(args.docs).parent if args.docs != "none" else out) / "img"
    images.mkdir(parents=True, exist_ok=True)
    wanted = sorted({1 if c == 2 else c for c in args.claims})
    started = time.perf_counter()
    if args.jobs > 1 and not args.only_finished:
        run_in_parallel(args, wanted)
    parallel_minutes = (time.perf_counter() - started) / 60
    sections, texts, minutes, used, left_out = {}, {}, {}, {}, {}
    for claim in wanted:
        started = time.perf_counter()
        seeds = args.seeds
        if claim != 3 and args.only_finished:  # claim 3: journey_claim leaves out (task, seed) pairs itself
            seeds = [seed for seed in args.seeds if finished_seed(out, claim, seed, scale, args.model)]
            left_out[claim] = [f"seed {seed}" for seed in args.seeds if seed not in seeds]
            if not seeds:
                print(f"claims: claim {claim} has no finished seed under {out}; its section is left as it is")
                continue
        used[claim] = seeds
        if claim == 1:
            texts[claim], sections[claim] = rl_claims(out, seeds, scale, overrides)
        elif claim == 3:
            texts[claim], sections[claim] = journey_claim(out, seeds, scale, overrides, args.journey_tasks,
                                                          args.journey_arms, images / "claims-journey-curves.png",
                                                          train=not args.only_finished)
            left_out[claim] = sections[claim]["left_out"]
        else:
            texts[claim], sections[claim] = scaling_claim(out, seeds, scale, args.model, images / "claims-scaling.png")
        minutes[claim] = (time.perf_counter() - started) / 60 + parallel_minutes / len(wanted)
    command = command_line("benchmarks/claims.py", argv)
    # Every claim measured so far goes into the plot, those of earlier invocations too.
    record = out / "claims.json"
    measured = {claim: value for claim, value in (json.loads(record.read_text()) if record.exists() else {}).items()
                if claim in ("1", "3", "4")}
    measured.update({str(claim): {"results": section["results"], "seeds": used[claim], "minutes": minutes[claim]}
                     for claim, section in sections.items()})
    record.write_text(json.dumps(measured, indent=2))
    image = images / "claims.png"
    plot_verdicts({claim: measured[claim] for claim in sorted(measured)}, image)
    summary = {claim: section["results"] for claim, section in sections.items()}
    for claim, text in texts.items():
        spent = (f"{minutes[claim]:.0f} min this invocation" if args.jobs == 1 else
                 f"{sum(minutes.values()):.0f} min this invocation for claims {wanted}, {args.jobs} processes at once")
        block = (f"## {TITLES[claim]}\n\nMeasured {datetime.date.today()} with `{command}` ({spent}; runs already "
                 f"under {args.out} are reused).\n\n{text}\n")
        if left_out.get(claim):
            block += f"\nNot run (left out here): {', '.join(left_out[claim])}.\n"
        print(block)
        if args.docs != "none":
            fill_section(args.docs, claim_section_name(claim), block, title="# The seed's claims at CPU scale")
    if args.docs != "none":
        print(f"wrote {args.docs} and {image}")
    return summary


def finished_seed(out: Path, claim: int, seed: int, scale: dict, model: str) -> bool:
    """Whether claim 1's demo (and for claim 4, every strategy's evaluation) at ``seed`` is already saved."""
    done = saved_demo_report(out, seed, scale, model) is not None
    return done and (claim == 1 or all((scaling_folder(out, seed, name) / "eval.json").exists()
                                       for name in strategies(scale)))


def parallel_units(args: argparse.Namespace, wanted: list[int]) -> list[list[str]]:
    """The command lines, one per seed (claims 1 and 4 together: 4 scales 1's models) and one per claim-3 task
    and seed, that between them run every run ``args`` asks for; none shares a run folder with another."""
    common = ["--scale", args.scale, "--model", args.model, "--out", args.out, "--docs", "none"]
    if args.journey_train:
        common += ["--journey-train", str(args.journey_train)]
    units = []
    for seed in args.seeds:
        if claims := [str(c) for c in wanted if c in (1, 4)]:
            units.append(["--claims", *claims, "--seeds", str(seed), *common])
        if 3 in wanted:
            units += [["--claims", "3", "--journey-tasks", task, "--journey-arms", arm, "--seeds", str(seed), *common]
                      for task in args.journey_tasks for arm in args.journey_arms]
    return units


def run_in_parallel(args: argparse.Namespace, wanted: list[int]) -> None:
    """Run ``parallel_units`` as ``args.jobs`` processes at a time, each logging to ``--out``/logs."""
    import os
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    logs = Path(args.out) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    threads = str(max(1, (os.cpu_count() or 1) // args.jobs))
    environment = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}

    def launch(unit: list[str]) -> tuple[str, int]:
        name = "-".join(part.lstrip("-") for part in unit[1:unit.index("--scale")])
        with open(logs / f"claims-{name}.log", "w") as log:
            command = [sys.executable, str(Path(__file__).resolve()), *unit]
            return name, subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=environment).returncode

    units = parallel_units(args, wanted)
    print(f"claims: {len(units)} units of runs, {args.jobs} at a time with {threads} threads each; logs in {logs}")
    with ThreadPoolExecutor(args.jobs) as pool:
        failed = [name for name, code in pool.map(launch, units) if code != 0]
    if failed:
        raise SystemExit(f"claims: these units failed (see {logs}): {', '.join(failed)}")


if __name__ == "__main__":
    main()
