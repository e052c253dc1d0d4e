"""The fast tier guards itself: a test that loads a model, or runs past the fast tier's limit, fails unless it is
marked slow. Checked by running this suite's own conftest on three small tests in a scratch folder."""

import os
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")

TESTS = '''
import time
import pytest

def test_quick():
    assert True

def test_slow_but_unmarked():
    time.sleep(0.3)

@pytest.mark.slow
def test_slow_and_marked():
    time.sleep(0.3)

def test_loads_a_model_unmarked(tiny_model_path):
    pass
'''


def run_fast_tier(folder: Path) -> str:
    # The scratch copy's limit is 0.2 s a test, so that the check shows in a fraction of a second; it imports nothing
    # ahead of its tests.
    conftest = CONFTEST.read_text().replace("FAST_TEST_SECONDS = 4.0", "FAST_TEST_SECONDS = 0.2")
    conftest = conftest.replace('PREIMPORTED = ("minireason.recipes.grpo", "minireason.recipes.sft")', "PREIMPORTED = ()")
    (folder / "conftest.py").write_text(conftest)
    (folder / "test_scratch.py").write_text(TESTS)
    (folder / "pytest.ini").write_text("[pytest]\nmarkers = slow\n")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", str(folder)]
    # Run as a session of its own, not as a worker of this one (a worker's conftest sets torch's threads).
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_XDIST")}
    return subprocess.run(command, capture_output=True, text=True, cwd=folder, env=env).stdout


def test_an_unmarked_slow_test_fails_the_fast_tier(tmp_path):
    output = run_fast_tier(tmp_path)
    assert "1 failed, 1 passed, 1 deselected, 1 error" in output, output  # the model check fails at set-up
    assert "test_slow_but_unmarked took 0.3 s, over the fast tier's 0.2 s a test" in output
    assert "test_loads_a_model_unmarked loads a model or starts W&B (tiny_model_path): mark it" in output


def test_no_file_name_decides_a_tier():
    assert "SLOW_MODULES" not in CONFTEST.read_text()
