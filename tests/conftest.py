import importlib
import os
import time

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_MODE", "offline")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one worker a core (pytest-xdist): each computes on its own core, not on all of them at once.
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))


@pytest.fixture(scope="session")
def tiny_model_path():
    """The 2-layer random Llama with the SmolLM2 tokenizer (built once into the cache)."""
    from minireason.models import resolve_model

    return resolve_model("tiny")


@pytest.fixture(scope="session", autouse=True)
def cpu_without_bf16():
    """The suite's figures are the same on every CPU: in this process it runs as on a CPU without bf16 instructions
    (recipes resolve to fp32), unless a test asks for one with them (``bf16_cpu``). A subprocess it starts sees the
    machine's own CPU."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("minireason.hardware.cpu_bf16_native", lambda: False)
        yield


@pytest.fixture
def bf16_cpu(monkeypatch):
    """A CPU presented as having bf16 instructions (AVX512-BF16 or AMX)."""
    monkeypatch.setattr("minireason.hardware.cpu_bf16_native", lambda: True)


@pytest.fixture
def offline_wandb(tmp_path, monkeypatch):
    """No key, no ~/.netrc, runs written under tmp_path/wandb, and a fresh W&B session.

    wandb keeps one session per process and ignores later changes to WANDB_DIR, so each test
    that reads its run back tears the session down before and after.
    """
    import wandb

    wandb.teardown()
    for name in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    yield tmp_path / "wandb"
    wandb.teardown()


# The slow tier (`pytest -m slow`; `make test-fast` leaves it out): a module that trains, runs notebooks or
# benchmarks says so with `pytestmark = pytest.mark.slow`, a single test with `@pytest.mark.slow`. Nothing marks
# a test by its file's name, so a renamed file keeps its tier; the two checks below catch a slow test left unmarked.
MODEL_FIXTURES = {"tiny_model_path", "offline_wandb"}  # they build a model or start W&B
# The slowest fast test takes 1.8 s on 2 idle cores (a teacher endpoint's retries); the tiny model's smoke runs
# take 5 s and more. 4 s leaves room for a loaded machine and still catches a test that trains.
FAST_TEST_SECONDS = 4.0
# `make test-fast`'s promise: the whole fast tier in under a minute (488 tests: 25-41 s on 2 cores, by pytest's clock).
FAST_TIER_SECONDS = 60.0
# The first import of the recipes (TRL's trainers, torch and transformers with them) takes ~6 s; done once when the
# session starts, so that the time limit measures each test, not which test happened to import the libraries first.
# The fast tier's own clock starts after it.
PREIMPORTED = ("minireason.recipes.grpo", "minireason.recipes.sft")


def _marked_slow(item) -> bool:
    return item.get_closest_marker("slow") is not None


def pytest_runtest_setup(item):
    if not _marked_slow(item) and MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
        used = ", ".join(sorted(MODEL_FIXTURES & set(item.fixturenames)))
        pytest.fail(f"{item.nodeid} loads a model or starts W&B ({used}): mark it @pytest.mark.slow", pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when == "call" and report.passed and not _marked_slow(item) and call.duration > FAST_TEST_SECONDS:
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} took {call.duration:.1f} s, over the fast tier's {FAST_TEST_SECONDS:g} s "
                           "a test: mark it @pytest.mark.slow, or make it faster")


def pytest_sessionfinish(session, exitstatus):
    started = getattr(session.config, "_fast_tier_started", None)
    if started is None or session.config.getoption("markexpr") != "not slow":
        return
    spent = time.perf_counter() - started
    if spent > FAST_TIER_SECONDS and exitstatus == 0:
        print(f"\nthe fast tier took {spent:.0f} s, over its {FAST_TIER_SECONDS:g} s: move slow tests to the slow tier")
        session.exitstatus = 1


def pytest_sessionstart(session):
    for module in PREIMPORTED:
        importlib.import_module(module)
    # The embedded model's tokenizer is what many fast tests tokenize with: built from its GGUF on a fresh machine
    # (~30 s, once), here, not inside whichever fast test happens to ask for it first (which then fails its 4 s).
    from minireason.models import prepare_embedded_model

    prepare_embedded_model()
    session.config._fast_tier_started = time.perf_counter()
