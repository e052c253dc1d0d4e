import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_MODE", "offline")


@pytest.fixture(scope="session")
def tiny_model_path():
    """The 2-layer random Llama with the SmolLM2 tokenizer (built once into the cache)."""
    from minireason.models import resolve_model

    return resolve_model("tiny")
