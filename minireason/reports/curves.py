"""A held-out curve along a GRPO run (``[step, accuracy, format_rate]`` rows): where its format and its accuracy
take off, and the plot of one or many seeds' curves. Read by the demo and by the benchmarks over seeds."""

from __future__ import annotations

from pathlib import Path

# The curve "takes off" at its first point this far above the base model (accuracy) or at this rate (format).
ACCURACY_LIFT, FORMAT_TAKEOFF = 0.10, 0.90


def takeoff(curve: list[list], column: int, level: float) -> int | None:
    """The first step of ``curve`` (``[step, accuracy, format_rate]`` rows) whose ``column`` reaches ``level``.

    >>> takeoff([[0, 0.1, 0.5], [5, 0.15, 0.95], [10, 0.3, 1.0]], 1, 0.2), takeoff([[0, 0.1, 0.5]], 2, 0.9)
    (10, None)
    """
    return next((row[0] for row in curve if row[column] >= level), None)


def seed_takeoff(curve: list[list]) -> dict:
    """A held-out ``curve`` with the steps where its format and its accuracy took off (None: never).

    >>> seed_takeoff([[0, 0.0, 0.0], [10, 0.05, 0.92], [20, 0.2, 1.0]])
    {'curve': [[0, 0.0, 0.0], [10, 0.05, 0.92], [20, 0.2, 1.0]], 'format_takeoff': 10, 'accuracy_takeoff': 20}
    """
    return {"curve": curve, "format_takeoff": takeoff(curve, 2, FORMAT_TAKEOFF),
            "accuracy_takeoff": takeoff(curve, 1, curve[0][1] + ACCURACY_LIFT) if curve else None}


def plot_pure_rl_curves(summary: dict, path: Path, title: str = "Pure RL") -> None:
    """Held-out accuracy and format rate along training: every seed thin, with a dot where its curve takes off,
    and the mean over seeds thick."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    seeds = [row for row in summary["per_seed"].values() if row["curve"]]  # runs reused without a curve: none to draw
    curves = [row["curve"] for row in seeds]
    for column, label, colour, key in ((1, "accuracy", "tab:blue", "accuracy_takeoff"),
                                       (2, "format rate", "tab:orange", "format_takeoff")):
        for row in seeds:
            curve = row["curve"]
            axes.plot([p[0] for p in curve], [p[column] for p in curve], color=colour, alpha=0.25, linewidth=1)
            at = next((p for p in curve if p[0] == row[key]), None)
            if at is not None:
                axes.plot(at[0], at[column], "o", color=colour, alpha=0.6, markersize=4)
        steps = sorted({p[0] for curve in curves for p in curve})
        means = [sum(p[column] for c in curves for p in c if p[0] == s) / sum(p[0] == s for c in curves for p in c)
                 for s in steps]
        axes.plot(steps, means, color=colour, linewidth=2.5, label=f"{label}, mean of {len(curves)} seeds")
    axes.set(xlabel="GRPO step", ylabel="held-out rate (greedy)", ylim=(0, 1.02),
             title=f"{title}\nSmolLM2-135M, 2-digit additions, 2 CPU cores (dots: take-off)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
