"""A claim's verdict: ``after - before`` paired over the same problems at several seeds, with a bootstrap interval
over problems, each seed's own difference, the seeds' t-interval, and a word for what they say together."""

from __future__ import annotations

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
