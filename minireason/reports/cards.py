"""A distilled data set's card, for readers: Markdown (the set's README.md) and a W&B run with the figures and a
sample of its traces."""

from __future__ import annotations

import json

from minireason.reports.markdown import markdown_table


def card_markdown(card: dict) -> str:
    """The data card as Markdown: teacher and settings, counts and yield per task, the sources."""
    teacher = card["teacher"]
    settings = ", ".join(f"{k} {v}" for k, v in teacher.items() if k not in ("name", "requests") and v is not None)
    journey = card["journey"] or teacher.get("style") == "journey"
    lines = [f"# {'Journey-learning' if journey else 'Distilled'} reasoning traces (minireason)", "",
             f"Teacher: `{teacher['name']}` ({settings or 'defaults'}); {card['samples_per_problem']} sample(s) per problem, "
             f"up to {card['keep_per_problem']} kept; journey stitching: {card['journey']}; seed {card['seed']}.", "",
             f"**{card['rows']} rows** from {card['problems_done']} of {card['problems']} problems; "
             f"yield {card['yield']:.1%} of teacher samples verified; {card['duplicates_removed']} duplicates removed; "
             f"mean trace {card['mean_trace_chars']} characters.", ""]
    rows = [[task, s["problems"], s["samples"], s["verified"], f"{s['yield']:.1%}", s["rows"],
             ", ".join(f"{k} {v}" for k, v in sorted(s["rejected"].items())) or "-"]
            for task, s in card["per_task"].items()]
    lines.append(markdown_table(["task", "problems", "samples", "verified", "yield", "rows", "rejected"], rows,
                                numeric=[False, True, True, True, True, True, False]))
    lines += ["", "Sources (regenerate the problems with `minireason data generate`):", "", "```json",
              json.dumps(card["sources"], indent=2), "```", "", "Full figures: `data_card.json`.", ""]
    return "\n".join(lines)


def log_data_card(card: dict, examples: list[dict], project: str) -> None:
    """One W&B run for a distilled set: its settings as the config, counts and yields per task, 50 sample traces."""
    import wandb

    from minireason.tracking import configure_wandb

    configure_wandb(project)
    run = wandb.init(project=project, job_type="distill", config={k: card[k] for k in (
        "teacher", "rewriter", "sources", "seed", "samples_per_problem", "keep_per_problem", "journey")})
    metrics = {"data/rows": card["rows"], "data/yield": card["yield"], "data/duplicates_removed":
               card["duplicates_removed"], "data/mean_trace_chars": card["mean_trace_chars"],
               "data/problems_failed": card["problems_failed"]}
    for task, stats in card["per_task"].items():
        metrics[f"data/{task}/yield"] = stats["yield"]
        metrics.update({f"data/{task}/rejected/{k}": v for k, v in stats["rejected"].items()})
    table = wandb.Table(columns=["id", "task", "completion"],
                        data=[[e["id"], e["task"], e["completion"][0]["content"]] for e in examples[:50]])
    run.log({**metrics, "data/samples": table})
    run.summary.update(metrics)
    run.finish()
