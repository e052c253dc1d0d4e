"""W&B set-up: online only with a key W&B will really find, and a run's cost counted per training process."""

import pytest

from minireason import tracking


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(tracking, "_reachable", lambda host, port: True)  # a network, so only the key decides
    return tmp_path


def test_a_netrc_without_a_wandb_entry_is_no_key(home, monkeypatch):
    """A ~/.netrc with only a git host's login was read as a W&B key: the run went online and W&B asked for a
    login, which waits forever in a notebook cell."""
    netrc = home / ".netrc"
    netrc.write_text("machine github.com login me password ghp_token\n")
    netrc.chmod(0o600)
    assert not tracking.has_wandb_key()
    assert tracking.configure_wandb("minireason") == "offline"

    monkeypatch.delenv("WANDB_MODE")
    netrc.write_text("machine github.com login me password ghp_token\nmachine api.wandb.ai login user password k\n")
    assert tracking.has_wandb_key() and tracking.configure_wandb("minireason") == "online"


def test_a_key_in_the_environment_or_a_broken_netrc(home, monkeypatch):
    (home / ".netrc").write_text("machine\n")  # malformed: no key, and no crash
    assert not tracking.has_wandb_key()
    monkeypatch.setenv("WANDB_API_KEY", "k")
    assert tracking.has_wandb_key()
