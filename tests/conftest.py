import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_MODE", "offline")


@pytest.fixture(scope="session")
def tiny_model_path():
    """The 2-layer random Llama with the SmolLM2 tokenizer (built once into the cache)."""
    from minireason.models import resolve_model

    return resolve_model("tiny")


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


# The slow tier (`pytest -m slow`; `make test-fast` leaves it out): whole modules that train, run notebooks or
# benchmarks, and any test that loads a model or starts W&B. Single tests elsewhere carry @pytest.mark.slow.
SLOW_MODULES = {"test_recipes", "test_notebooks", "test_logging_and_resume", "test_benchmarks", "test_fast_grpo",
                "test_models"}
SLOW_FIXTURES = {"tiny_model_path", "tiny", "offline_wandb"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.path.stem
        if module in SLOW_MODULES or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
