"""W&B set-up shared by training, distillation and evaluation: online with a key and a network, else offline.

Called when a run starts, never when a config is loaded: it sets ``WANDB_*`` variables and may probe the network.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def configure_wandb(project: str) -> str:
    """Online with an API key and a network; otherwise offline (``wandb sync`` later). Returns the mode."""
    os.environ.setdefault("WANDB_PROJECT", project)
    if os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        return os.environ["WANDB_MODE"]
    has_key = bool(os.environ.get("WANDB_API_KEY")) or (Path.home() / ".netrc").exists()
    if not has_key or not _reachable("api.wandb.ai", 443):
        os.environ["WANDB_MODE"] = "offline"
        print("minireason: W&B has no key or no network; logging offline (run `wandb sync` later).")
    return os.environ.get("WANDB_MODE", "online")


def _reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
