"""The shipped recipe files, addressable by name: ``qwen2.5-3b/grpo-countdown/t4-16gb`` is
``recipes/qwen2.5-3b/grpo-countdown/t4-16gb.yaml`` in a checkout and ``minireason/recipe_files/…``
in an installed wheel (pyproject.toml maps the one folder to the other).

A recipe file opens with a comment header (what it is, ``launch:``, ``expected:``); ``describe``
reads that header, so the listing never drifts from the files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

_PACKAGE = Path(__file__).resolve().parents[1]


def recipe_root() -> Path:
    """The folder of shipped recipes: inside the package when installed from a wheel, the checkout's
    ``recipes/`` otherwise (an editable install runs the checkout's files)."""
    installed = _PACKAGE / "recipe_files"
    return installed if installed.is_dir() else _PACKAGE.parent / "recipes"


def recipe_names() -> list[str]:
    """Every shipped recipe's name, sorted: ``<model>/<method>/<hardware>``."""
    root = recipe_root()
    return sorted(str(path.relative_to(root).with_suffix("")) for path in root.rglob("*.yaml"))


def find_recipe(name_or_path: str | Path) -> Path:
    """A recipe file from a path (``recipes/…/cpu.yaml``, any YAML of your own) or a shipped recipe's
    name (``smollm2-135m/sft/cpu``, with or without ``.yaml``).

    >>> find_recipe("smollm2-135m/sft/cpu").name
    'cpu.yaml'
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = recipe_root() / (path if path.suffix == ".yaml" else path.with_name(path.name + ".yaml"))
    if str(name_or_path).startswith("recipes/"):  # a checkout path typed where only the package is installed
        shipped = recipe_root() / Path(*path.parts[1:])
    if shipped.is_file():
        return shipped
    names = recipe_names()
    near = [name for name in names if str(name_or_path).strip("/").split("/")[0] in name] or names
    raise FileNotFoundError(f"no recipe {str(name_or_path)!r}: not a file, nor a shipped recipe; "
                            f"try one of: {', '.join(near)} (`minireason recipes` lists them all)")


@dataclass
class RecipeInfo:
    name: str
    method: str
    model: str
    hardware: str
    expected: str  # the header's time and metric line(s), as written
    summary: str  # the header's first line: what the recipe is
    memory: str = "-"  # the header's memory line: an estimate (`minireason estimate`) until measured
    launch: str = "-"  # the header's launch command, without its comment
    out: str | None = None  # where a data recipe (method: distill) writes its data set

    @property
    def measured(self) -> bool:
        return "ESTIMATE" not in (self.expected + self.memory).upper()


def describe(name: str) -> RecipeInfo:
    """What a shipped recipe is, from its header and its YAML."""
    path = find_recipe(name)
    text = path.read_text()
    values = yaml.safe_load(text) or {}
    header = []  # the comment lines before the first key; an indented one continues the line above
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        body = line[1:]
        if body.startswith("  ") and header:
            header[-1] += " " + body.strip()
        else:
            header.append(body.strip())
    expected = next((line.removeprefix("expected:").strip() for line in header if line.startswith("expected:")), "-")
    memory = next((line.removeprefix("memory:").strip() for line in header if line.startswith("memory:")), "-")
    launch = next((line.removeprefix("launch:").split("#")[0].split("  (")[0].strip() for line in header
                   if line.startswith("launch:")), "-")
    return RecipeInfo(name=name, method=values.get("method", "grpo"), model=str(values.get("model", "-")),
                      hardware=path.stem, expected=expected, summary=header[0] if header else "", memory=memory,
                      launch=launch, out=values.get("out"))


def data_recipe_writing(dataset_path: str | Path) -> RecipeInfo | None:
    """The shipped data recipe whose data set is ``dataset_path`` (a distill recipe writes ``out/data``), if any.

    >>> data_recipe_writing("data/distill-17k/data").launch
    'minireason data distill --config solver/distill-17k/cpu'
    >>> data_recipe_writing("my/own/data") is None
    True
    """
    for info in map(describe, recipe_names()):
        if info.method == "distill" and info.out and Path(info.out) / "data" == Path(dataset_path):
            return info
    return None


def copy_recipe(name: str, dest: str | Path) -> Path:
    """Write an editable copy of a shipped recipe (like torchtune's ``tune cp``); refuses to overwrite.

    ``dest`` may be a file or an existing folder (the copy keeps the recipe's file name there)."""
    source = find_recipe(name)
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / source.name
    if dest.exists():
        raise FileExistsError(f"{dest} exists; pick another name or delete it first")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    return dest
