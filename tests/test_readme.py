"""The README stays true: its file tree names every file in the repository, and its notebook table
opens every notebook on Colab and Kaggle."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def tree_paths() -> list[str]:
    """The files the README's "Files" tree lists, as paths from the repository root."""
    block = README.split("## Files\n", 1)[1].split("```", 2)[1]
    paths, folders = [], []
    for line in block.splitlines()[1:]:
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        folders = folders[:depth]
        if name.endswith("/"):
            folders.append(name)
        else:
            paths.append("".join(folders) + name)
    return paths


def test_the_file_tree_lists_every_file_and_only_files_that_exist():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    listed = tree_paths()
    assert len(listed) == len(set(listed))
    assert sorted(set(tracked) - set(listed)) == []  # a new file needs its line in the README
    assert sorted(path for path in listed if not (ROOT / path).exists()) == []


def test_the_notebook_table_opens_every_notebook():
    repository = re.search(r'^Repository = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    slug = repository.removeprefix("https://github.com/")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        row = next(line for line in README.splitlines() if line.startswith(f"| [{path.stem}]"))
        assert f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{path.name}" in row
        assert f"https://kaggle.com/kernels/welcome?src={repository}/blob/main/notebooks/{path.name}" in row
