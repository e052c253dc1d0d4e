"""A claim's verdict: ``after - before`` paired over the same problems at several seeds, with a bootstrap interval
over problems, each seed's own difference, the seeds' t-interval, and a word for what they say together."""

from __future__ import annotations

from pathlib import Path

from minireason.reports.markdown import markdown_table
from minireason.stats import paired_bootstrap, seed_interval


def compare(before: list[list[float]], after: list[list[float]], direction: int = 1) -> dict:
    """``after - before`` per problem over seeds: the bootstrap interval, each seed's difference, the seeds'
    t-interval, and the verdict for a claim that ``after`` is higher (``direction`` 1) or lower (-1)."""
    diff = paired_bootstrap(before, after)
    seeds = seed_interval(diff["per_run"], bounds=(-1, 1))
    low, high = sorted((diff["low"] * direction, diff["high"] * direction))
    if low > 0 or high < 0:  # the interval excludes 0; the verdict also needs every seed on that side
        sign = 1 if low > 0 else -1
        agree = all(d * direction * sign > 0 for d in diff["per_run"])
        verdict = ("holds" if sign > 0 else "contradicted") if agree else "mixed"
        verdict = verdict if len(diff["per_run"]) > 1 else "one seed only"
    else:
        verdict = "undecided"
    return {**diff, "seed_low": seeds["low"], "seed_high": seeds["high"], "verdict": verdict}


def diff_row(name: str, result: dict) -> list[str]:
    return [name, f"{result['mean']:+.1%}", f"{result['low']:+.1%} to {result['high']:+.1%}",
            ", ".join(f"{d:+.1%}" for d in result["per_run"]),
            f"{result['seed_low']:+.1%} to {result['seed_high']:+.1%}", f"**{result['verdict']}**"]

DIFF_HEADERS = ["comparison (same problems)", "mean", "95% CI over problems", "per seed", "95% CI over seeds",
                "verdict"]


def diff_table(rows: list[list[str]]) -> str:
    return markdown_table(DIFF_HEADERS, rows, numeric=[False, True, False, False, False, False])


def plot_verdicts(sections: dict, path: Path) -> None:
    """One panel per claim: each comparison's per-seed differences (dots) and bootstrap interval (bar)."""
    from matplotlib.figure import Figure

    results = {name: result for section in sections.values() for name, result in section["results"].items()}
    figure = Figure(figsize=(8, 0.45 * len(results) + 1.2))
    axes = figure.subplots()
    for y, result in enumerate(reversed(list(results.values()))):
        colour = {"holds": "tab:green", "mixed": "tab:olive", "one seed only": "tab:olive",
                  "undecided": "tab:grey"}.get(result["verdict"], "tab:red")
        axes.plot([result["low"], result["high"]], [y, y], color=colour, linewidth=4, alpha=0.6)
        axes.plot(result["per_run"], [y] * len(result["per_run"]), "o", color="black", markersize=3)
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_yticks(range(len(results)), list(reversed(list(results))), fontsize=7)
    axes.set(xlabel="difference in accuracy (bar: 95% CI over problems; dots: seeds)",
             title="The seed's claims at CPU scale, SmolLM2-135M")
    axes.grid(alpha=0.3, axis="x")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
