"""Training stages saved by an older minireason, brought to the one evaluation format (``minireason upgrade``).

Before, a stage kept its evaluation as ``eval_*`` fields of summary.json, a Wilson interval among them, beside a
flat ``eval_samples.jsonl`` (one scored sample per line). Now it is ``output_dir/eval`` (eval.json and
samples.jsonl, as ``minireason eval`` writes them) and summary.json keeps the training facts. An upgrade rebuilds
the evaluation from the old samples: what the old files lack (each answer's vote key, its score by the accuracy
reward, whether it reflects) is recomputed from the run's own held-out problems, and the figures recounted from
the samples must equal the old summary's, or the folder is left as it was.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from minireason.answer_format import ANSWER_CLOSE
from minireason.evaluation import Evaluation
from minireason.reports.evals import OLD_STAGE_SAMPLES, save_stage_run
from minireason.rewards import reflection_reward
from minireason.scaling import Strategy, summarise
from minireason.tasks import get_task

# A stage's own answers to its training problems (journey traces from its own errors): a cache, drawn again
# (seeded) when needed, so an upgrade removes the old file rather than convert it.
OLD_OWN_ANSWERS = "own_answers.jsonl"


def old_stages(folders: list[str | Path]) -> list[Path]:
    """Every stage folder under ``folders`` (themselves included) that holds an evaluation in the old format."""
    found = set()
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
        found.update(path.parent for path in folder.rglob(OLD_STAGE_SAMPLES) if (path.parent / "summary.json").exists())
    return sorted(found)


def upgrade_stage(output_dir: str | Path) -> dict:
    """Rewrite one stage's old evaluation as ``output_dir/eval`` and strip the ``eval_*`` fields from its
    summary.json, which gains ``eval`` (the folder). Returns the new summary; raises, changing nothing, when the
    recounted figures differ from the old ones."""
    output_dir = Path(output_dir)
    summary = json.loads((output_dir / "summary.json").read_text())
    settings = json.loads((output_dir / "run_config.json").read_text())["settings"]
    old = [json.loads(line) for line in (output_dir / OLD_STAGE_SAMPLES).read_text(encoding="utf-8").splitlines()
           if line.strip()]
    task = get_task(settings["task"], **(settings.get("task_params") or {}))
    rows = {row["id"]: row for row in task.split_rows(settings["n_eval"], settings["eval_seed"], held_out=True)}
    problems = [{"id": sample["id"], "samples": [{
        **{key: sample[key] for key in ("completion", "tokens", "correct", "well_formed")},
        "answer": task.vote_key(sample["completion"], rows[sample["id"]]),
        "score": float(task.score(sample["completion"], rows[sample["id"]])),  # the accuracy reward, the default
        "reflects": bool(reflection_reward([sample["completion"]])[0])}]} for sample in old]
    metrics = summarise(problems, 1)
    figures = {"n": metrics["problems"], "accuracy": metrics["pass@1"], "format_rate": metrics["format_rate"],
               "mean_tokens": metrics["mean_tokens"], "ci95": metrics["ci95"]["pass@1"]}
    for key, value in figures.items():
        if summary.get(f"eval_{key}") != value:
            raise ValueError(f"{output_dir}: its samples give {key} {value}, its summary says "
                             f"{summary.get(f'eval_{key}')}; left as it was")
    metrics["seconds"] = summary["eval_seconds"]
    strategy = Strategy(samples=1, temperature=0.0, max_new_tokens=settings["eval_max_new_tokens"], stop=[ANSWER_CLOSE])
    save_stage_run(Evaluation(dataclasses.asdict(strategy), metrics, problems, settings.get("prompt_style") or "chat"),
                   output_dir, settings, summary["steps"])
    summary = {key: value for key, value in summary.items() if not key.startswith("eval_")}
    summary["eval"] = str(output_dir / "eval")
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    (output_dir / OLD_STAGE_SAMPLES).unlink()
    (output_dir / OLD_OWN_ANSWERS).unlink(missing_ok=True)
    return summary
