"""Markdown tables: the one builder behind every table the kit prints or writes to ``docs/``."""

from __future__ import annotations


def markdown_table(headers: list[str], rows: list[list], numeric: list[bool] | None = None) -> str:
    """A Markdown table; columns marked ``numeric`` are right-aligned. Cells are written with ``str``.

    >>> print(markdown_table(["stage", "accuracy"], [["SFT", "25.1%"]], numeric=[False, True]))
    | stage | accuracy |
    | --- | ---: |
    | SFT | 25.1% |
    """
    numeric = numeric or [False] * len(headers)
    if len(numeric) != len(headers) or any(len(row) != len(headers) for row in rows):
        raise ValueError("every row, and numeric, needs one entry per header")
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
