"""Evaluations saved and read back, and what is made of them: Markdown and rich tables, plots, W&B logs, paired
comparisons of runs.

Every evaluation is a folder of two files: ``eval.json`` (label, config, strategy, metrics: ``scaling.summarise``)
and ``samples.jsonl`` (one line per problem: its id and its scored samples). ``minireason eval --out`` writes one
wherever it is told; a training stage writes its own greedy evaluation to ``output_dir/eval``.
"""

from __future__ import annotations

import json
from pathlib import Path

from minireason.evaluation import Evaluation, first_samples
from minireason.metrics import voted_correct
from minireason.reports.markdown import markdown_table
from minireason.scaling import Strategy, summarise
from minireason.stats import mcnemar_exact, paired_bootstrap

# A training stage's samples as an older minireason saved them, one flat line each (``minireason upgrade``).
OLD_STAGE_SAMPLES = "eval_samples.jsonl"
# The figures a saved run's samples must reproduce (``check_run``); seconds and step measures are not recounted.
_CHECKED = ("problems", "samples_per_problem", "pass@1", "format_rate", "mean_tokens", "tokens_per_problem")


def save_run(result: Evaluation, out: str | Path, label: str, config: dict) -> dict:
    """``out/eval.json`` (label, config, strategy, metrics) and ``out/samples.jsonl`` (one line per problem).
    Returns the run as ``load_run`` reads it back."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run = {"label": label, "config": config, "strategy": result.strategy, "metrics": result.metrics}
    (out / "eval.json").write_text(json.dumps(run, indent=2) + "\n")
    with open(out / "samples.jsonl", "w", encoding="utf-8") as handle:
        for problem in result.problems:
            handle.write(json.dumps(problem, ensure_ascii=False) + "\n")
    return {**run, "problems": result.problems}


def save_stage_run(result: Evaluation, output_dir: str | Path, settings: dict, steps: int) -> dict:
    """A training stage's own evaluation, saved as every evaluation is, to ``output_dir/eval``: labelled by the
    stage's folder, with the run's model, task, held-out problems and step (``settings``: ``runs.run_settings``)."""
    config = {"run": str(output_dir), "step": steps,
              **{key: settings.get(key) for key in ("model", "task", "task_params", "n_eval", "eval_seed",
                                                    "prompt_style")}}
    return save_run(result, Path(output_dir) / "eval", Path(output_dir).name, config)


def load_run(path: str | Path) -> dict:
    """A saved evaluation: its folder, its eval.json, or a training stage's output_dir (whose evaluation is in
    ``eval/``). With its samples under ``problems``, when samples.jsonl is there."""
    path = Path(path)
    if path.is_dir() and not (path / "eval.json").exists() and (path / "eval").is_dir():
        path = path / "eval"
    file = path / "eval.json" if path.is_dir() else path
    if not file.exists():
        if (file.parent / OLD_STAGE_SAMPLES).exists():
            raise FileNotFoundError(f"{file.parent} holds a stage evaluated by an older minireason; bring it to "
                                    f"the current format with `minireason upgrade {file.parent}`")
        raise FileNotFoundError(f"{path}: no eval.json (write one with `minireason eval … --out {path}`)")
    run = json.loads(file.read_text())
    if (file.parent / "samples.jsonl").exists():  # per problem: what paired comparisons need
        run["problems"] = [json.loads(line) for line in (file.parent / "samples.jsonl").read_text(
            encoding="utf-8").splitlines() if line.strip()]
    return run


def first_answers(run: dict, key: str = "correct") -> list:
    """Per problem of a loaded run (``load_run``), its first sample's ``key``: a greedy run's answer right, or
    (``well_formed``) well formed.

    >>> first_answers({"problems": [{"id": 0, "samples": [{"correct": True}]}, {"id": 1, "samples": [{"correct": False}]}]})
    [True, False]
    """
    return [sample[key] for sample in first_samples(run["problems"])]


def load_runs(paths: list[str | Path]) -> list[dict]:
    """``load_run`` of each path."""
    return [load_run(path) for path in paths]


def paired_difference(baseline: dict, other: dict) -> dict | None:
    """``other - baseline`` on the problems both answered (matched by id), or None when they share none.

    Two figures, each a paired bootstrap over problems: pass@1 (each problem's share of right samples) and
    maj@j at the smaller of the two runs' k (greedy correctness when both have one sample). On the maj@j
    right/wrong outcomes, McNemar's exact test gives ``p_value``, with the problems ``gained`` and ``lost``.
    """
    if "problems" not in baseline or "problems" not in other:
        return None
    mine = {problem["id"]: problem for problem in other["problems"]}
    shared = [(problem, mine[problem["id"]]) for problem in baseline["problems"] if problem["id"] in mine]
    if not shared:
        return None
    j = min(len(shared[0][0]["samples"]), len(shared[0][1]["samples"]))
    before = [(sum(s["correct"] for s in a["samples"]) / len(a["samples"]), voted_correct(a["samples"][:j]))
              for a, _ in shared]
    after = [(sum(s["correct"] for s in b["samples"]) / len(b["samples"]), voted_correct(b["samples"][:j]))
             for _, b in shared]
    pass1 = paired_bootstrap([x for x, _ in before], [x for x, _ in after], resamples=2000)
    voted = paired_bootstrap([float(v) for _, v in before], [float(v) for _, v in after], resamples=2000)
    return {"problems": len(shared), "k": j, "pass@1": pass1, f"maj@{j}": voted,
            **mcnemar_exact([v for _, v in before], [v for _, v in after])}


def paired_markdown(runs: list[dict]) -> str:
    """Each run against the first, on the problems they share: the paired table of ``minireason compare``."""
    rows = []
    for run in runs[1:]:
        diff = paired_difference(runs[0], run)
        if diff is None:
            rows.append([run["label"], runs[0]["label"], "0", "no shared problems", "", "", ""])
            continue
        voted = diff[f"maj@{diff['k']}"]
        rows.append([run["label"], runs[0]["label"], str(diff["problems"]),
                     f"{diff['pass@1']['mean']:+.1%} ({diff['pass@1']['low']:+.1%} to {diff['pass@1']['high']:+.1%})",
                     f"maj@{diff['k']} {voted['mean']:+.1%} ({voted['low']:+.1%} to {voted['high']:+.1%})",
                     f"{diff['gained']} / {diff['lost']}", f"{diff['p_value']:.3g}"])
    return markdown_table(["run", "vs", "problems", "Δ pass@1 (95% CI)", "Δ majority vote (95% CI)",
                           "gained / lost", "p (exact McNemar)"], rows,
                          numeric=[False, False, True, True, True, True, True])

_COLUMNS = ("k", "pass@1", "pass@k", "maj@k", "best-of-k", "weighted best-of-k", "format", "reflection",
            "tokens/sample", "tokens/problem")


def share_with_interval(metrics: dict, key: str) -> str:
    """``45.3% (38.1-52.0)``: a share and its 95% interval over problems, where the run recorded one."""
    interval = metrics.get("ci95", {}).get(key)
    text = f"{metrics[key]:.1%}"
    return f"{text} ({interval[0]:.1%}-{interval[1]:.1%})" if interval else text


def _cells(run: dict) -> list[str]:
    """One run's row: each at the run's own k."""
    metrics = run["metrics"]
    k = metrics["samples_per_problem"]
    keys = ["pass@1", f"pass@{k}", f"maj@{k}", f"best_of_{k}", f"weighted_best_of_{k}", "format_rate"]
    return [str(k), *(share_with_interval(metrics, key) for key in keys), f"{metrics['reflection_rate']:.1%}",
            f"{metrics['mean_tokens']:.0f}", f"{metrics['tokens_per_problem']:.0f}"]


def comparison_table(runs: list[dict]):
    """A rich table: one row per run, accuracy next to the tokens spent."""
    from rich.table import Table

    table = Table(title="accuracy vs compute (95% intervals over problems)")
    table.add_column("run")
    table.add_column("strategy")
    for column in _COLUMNS:
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(run["label"], Strategy(**run["strategy"]).name(), *_cells(run))
    return table


def runs_markdown(runs: list[dict]) -> str:
    """The same comparison as Markdown, for docs and reports."""
    rows = [[run["label"], Strategy(**run["strategy"]).name(), *_cells(run)] for run in runs]
    return markdown_table(["run", "strategy", *_COLUMNS], rows, numeric=[False, False] + [True] * len(_COLUMNS))


def plot_runs(runs: list[dict], path: str | Path) -> None:
    """Two panels: accuracy vs k (pass@k solid, maj@k dashed) and maj@k vs tokens spent per problem."""
    from matplotlib.figure import Figure  # no pyplot: a notebook's or a desktop's backend is left alone

    figure = Figure(figsize=(11, 4))
    by_k, by_tokens = figure.subplots(1, 2)
    for run in runs:
        metrics, label = run["metrics"], run["label"]
        ks = sorted(int(key[5:]) for key in metrics if key.startswith("pass@"))
        line, = by_k.plot(ks, [metrics[f"pass@{j}"] for j in ks], marker="o", label=f"{label} pass@k")
        by_k.plot(ks, [metrics[f"maj@{j}"] for j in ks], marker="s", linestyle="--", color=line.get_color(),
                  label=f"{label} maj@k")
        intervals = metrics.get("ci95", {})
        if all(f"pass@{j}" in intervals for j in ks):  # shaded: the 95% interval over problems
            by_k.fill_between(ks, *zip(*(intervals[f"pass@{j}"] for j in ks)), color=line.get_color(), alpha=0.15)
        spent = metrics["tokens_per_problem"] / metrics["samples_per_problem"]  # a search's pruned steps included
        by_tokens.plot([spent * j for j in ks], [metrics[f"maj@{j}"] for j in ks], marker="s",
                       color=line.get_color(), label=label)
    by_k.set(xscale="log", xlabel="samples per problem (k)", ylabel="accuracy", title="accuracy vs k")
    by_tokens.set(xscale="log", xlabel="tokens spent per problem", ylabel="maj@k accuracy",
                  title="accuracy vs compute")
    for axes in (by_k, by_tokens):
        axes.set_ylim(0, 1)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def log_to_wandb(runs: list[dict], project: str, samples: list[dict] | None = None) -> None:
    """One W&B run: each run's metrics as a table row, plus sample completions when given."""
    import wandb

    from minireason.tracking import configure_wandb, flat_figures

    configure_wandb(project)
    keys = sorted({key for run in runs for key in flat_figures(run["metrics"])})
    table = wandb.Table(columns=["run", "strategy", *keys],
                        data=[[run["label"], Strategy(**run["strategy"]).name(),
                               *[flat_figures(run["metrics"]).get(key) for key in keys]] for run in runs])
    run = wandb.init(project=project, job_type="eval", config={"runs": [r["label"] for r in runs]})
    logged = {"eval/comparison": table}
    if samples:
        logged["eval/samples"] = wandb.Table(
            columns=["id", "completion", "correct", "answer", "tokens"],
            data=[[p["id"], s["completion"], s["correct"], s["answer"], s["tokens"]]
                  for p in samples[:20] for s in p["samples"][:4]])
    if len(runs) == 1:  # one run: its metrics as plain numbers too (intervals as _low/_high), history and summary
        metrics = {f"eval/{k}": v for k, v in flat_figures(runs[0]["metrics"]).items()}
        logged.update(metrics)
        run.summary.update(metrics)
    run.log(logged)
    run.finish()


def results_table(results: dict[str, dict]) -> str:
    """A Markdown table of one-sample evaluations (label → ``metrics``, as ``Evaluation.metrics`` or a saved run
    has them), one row per label, with the accuracy's 95% interval."""
    rows = []
    for label, metrics in results.items():
        low, high = metrics["ci95"]["pass@1"]
        rows.append([label, f"{metrics['pass@1']:.1%}", f"{low:.1%} - {high:.1%}", f"{metrics['format_rate']:.1%}",
                     f"{metrics['mean_tokens']:.0f}", metrics["problems"]])
    return markdown_table(["model", "accuracy", "95% CI", "format", "mean tokens", "problems"], rows,
                          numeric=[False, True, False, True, True, True])


def check_run(path: str | Path) -> dict:
    """A saved evaluation (``load_run``'s paths), checked: its figures must be what its own samples give (every
    SIZE, tiny included); a mismatch raises. Returns the run."""
    run = load_run(path)
    metrics = run["metrics"]
    recounted = summarise(run["problems"], metrics["samples_per_problem"])
    for key in _CHECKED:
        if metrics[key] != recounted[key]:
            raise ValueError(f"{path}: eval.json says {key} is {metrics[key]}, its samples say {recounted[key]}")
    return run


def correctness(report: dict, stage: str, key: str = "correct") -> list[int]:
    """Per held-out problem, 1 if the stage answered it right (``key``: or wrote it well formed), from the
    evaluation the demo's report names."""
    return [int(answer) for answer in first_answers(load_run(report["evals"][stage]), key)]
