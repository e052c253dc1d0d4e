"""W&B set-up shared by training, distillation and evaluation: online with a key and a network, else offline.

Called when a run starts, never when a config is loaded: it sets ``WANDB_*`` variables and may probe the network.
"""

from __future__ import annotations

import netrc
import os
import socket
from pathlib import Path
from urllib.parse import urlparse


def configure_wandb(project: str) -> str:
    """Online with an API key and a network; otherwise offline (``wandb sync`` later). Returns the mode."""
    os.environ.setdefault("WANDB_PROJECT", project)
    if os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        return os.environ["WANDB_MODE"]
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    if not has_wandb_key(host) or not _reachable(host, 443):
        os.environ["WANDB_MODE"] = "offline"
        print("minireason: W&B has no key or no network; logging offline (run `wandb sync` later).")
    return os.environ.get("WANDB_MODE", "online")


def has_wandb_key(host: str = "api.wandb.ai") -> bool:
    """An API key W&B will find without asking: ``WANDB_API_KEY``, or an entry for ``host`` in ``~/.netrc``.

    A ``~/.netrc`` that holds only other machines' logins (git hosts, Kaggle) is no key: taken for one, the run
    would go online, and W&B would wait at a login prompt, which a notebook cell never answers.
    """
    if os.environ.get("WANDB_API_KEY"):
        return True
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return path.is_file() and netrc.netrc(path).authenticators(host) is not None
    except (netrc.NetrcParseError, OSError):
        return False


def _reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def flat_figures(figures: dict, prefix: str = "") -> dict[str, float]:
    """The numbers of an evaluation's metrics or a stage's summary as W&B charts them: each interval under ``ci95``
    becomes two numbers, ``<name>_ci95_low`` and ``_high``, and a nested group of figures (an evaluation's
    ``steps``) becomes ``<group>/<name>``; text and curves are left out.

    >>> flat_figures({"pass@1": 0.5, "ci95": {"pass@1": [0.4, 0.6]}, "problems": 128, "label": "x"})
    {'pass@1': 0.5, 'pass@1_ci95_low': 0.4, 'pass@1_ci95_high': 0.6, 'problems': 128}
    >>> flat_figures({"steps": {"step_accuracy": 1.0, "recovery": None, "counts": {"steps": 3}}})
    {'steps/step_accuracy': 1.0, 'steps/counts/steps': 3}
    """
    flat: dict[str, float] = {}
    for key, value in figures.items():
        if isinstance(value, dict) and key == "ci95":  # {"pass@1": [low, high], …}: one interval a figure
            for name, (low, high) in value.items():
                flat[f"{prefix}{name}_ci95_low"], flat[f"{prefix}{name}_ci95_high"] = low, high
        elif isinstance(value, dict):
            flat.update(flat_figures(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float)):
            flat[f"{prefix}{key}"] = value
    return flat
