"""Markdown for ``docs/``: the one table builder behind every table the kit prints or writes, and the one writer
of a page's measured sections."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path


def command_line(script: str, argv: list[str] | None = None) -> str:
    """The command that wrote a section, as a reader can paste it back (``argv``: this process's by default).

    >>> command_line("benchmarks/claims.py", ["--journey-arms", "shortcut", "journey, full"])
    "python benchmarks/claims.py --journey-arms shortcut 'journey, full'"
    """
    return shlex.join(["python", script, *(sys.argv[1:] if argv is None else argv)])


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


def section_markers(name: str) -> tuple[str, str]:
    """The comments around a page's measured section ``name``: a benchmark replaces what lies between them."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def fill_section(page: str | Path, name: str, block: str, title: str = "") -> None:
    """Replace section ``name`` of ``page`` with ``block``, or add it at the end (a new page starts with
    ``title``); the rest of the page stays as it is.

    >>> import tempfile; page = Path(tempfile.mkdtemp()) / "p.md"
    >>> fill_section(page, "x", "one", "# Title"); fill_section(page, "x", "two")
    >>> print(page.read_text())
    # Title
    <BLANKLINE>
    <!-- x:start -->
    two
    <!-- x:end -->
    <BLANKLINE>
    """
    page = Path(page)
    start, end = section_markers(name)
    block = block.rstrip("\n") + "\n"
    text = page.read_text() if page.exists() else f"{title}\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + start + "\n" + block + end + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{start}\n{block}{end}\n"
    page.write_text(text)


def publish(text: str, summary: dict, out: str | Path, docs: str, section: str) -> None:
    """A benchmark's ending: print its section, keep its ``summary`` as ``out/summary.json``, and write the section
    into page ``docs`` (``"none"``: print only)."""
    print(text)
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "summary.json").write_text(json.dumps(summary, indent=2))
    if docs != "none":
        fill_section(docs, section, text)
        print(f"wrote {docs}")


def read_section(page: str | Path, name: str) -> str | None:
    """What ``fill_section`` wrote into section ``name`` of ``page``, or None when the page has no such section.

    >>> import tempfile; page = Path(tempfile.mkdtemp()) / "p.md"
    >>> fill_section(page, "x", "one"); read_section(page, "x"), read_section(page, "y")
    ('one', None)
    """
    start, end = section_markers(name)
    text = Path(page).read_text() if Path(page).exists() else ""
    if start not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def claim_section_name(claim: int) -> str:
    """The name of claim ``claim``'s measured section of docs/claims.md (``benchmarks/claims.py`` writes it)."""
    return f"claim {claim}"
