"""Scored samples on disk: one JSON line each (a training stage's ``eval_samples.jsonl``), written and read here."""

from __future__ import annotations

import json
from pathlib import Path


def save_samples(path: str | Path, samples: list[dict]) -> None:
    """One JSON line per sample: its id, completion, token count, and whether it is correct and well formed."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for sample in samples:
            out.write(json.dumps(sample, ensure_ascii=False) + "\n")


def load_samples(path: str | Path) -> list[dict]:
    """What ``save_samples`` wrote."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
