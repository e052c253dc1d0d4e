"""minireason.reports: the verdict statistics by hand, and a run's compute read from its own log."""

import json

import pytest

from minireason.reports.training import training_compute
from minireason.reports.verdicts import compare


def test_verdicts_by_hand():
    ones, zeros = [1] * 20, [0] * 20
    holds = compare([zeros, zeros], [ones, ones])
    assert (holds["mean"], holds["low"], holds["high"], holds["verdict"]) == (1.0, 1.0, 1.0, "holds")
    assert (holds["seed_low"], holds["seed_high"]) == (1.0, 1.0)  # two seeds, the same difference: no spread
    assert compare([ones, ones], [zeros, zeros])["verdict"] == "contradicted"
    assert compare([ones, ones], [zeros, zeros], direction=-1)["verdict"] == "holds"
    # Seed 0 gains every problem; seed 1 loses 2 of 20. Over problems the gain is clear (+45 points), but a seed
    # went the other way: mixed.
    mixed = compare([zeros, [0] * 18 + [1, 1]], [ones, zeros])
    assert mixed["per_run"] == [1.0, -0.1] and mixed["mean"] == pytest.approx(0.45) and mixed["verdict"] == "mixed"
    assert compare([[0, 1] * 10], [[1, 0] * 10])["verdict"] == "undecided"
    assert compare([zeros], [ones])["verdict"] == "one seed only"  # one seed cannot show that seeds agree
    assert compare([ones], [zeros])["verdict"] == "one seed only"  # nor that a loss is the seeds' rule
    # The mirror of mixed: a clear loss over problems, but a seed gained.
    assert compare([ones, [1] * 18 + [0, 0]], [zeros, ones])["verdict"] == "mixed"
    # A claim that after is lower holds only where the whole interval lies below 0, not where it straddles 0.
    assert compare([[0, 1] * 10, [0, 1] * 10], [[1, 0] * 10, [1, 0] * 10], direction=-1)["verdict"] == "undecided"


def test_training_compute_reads_seconds_and_tokens_from_the_trainer_state(tmp_path):
    log = [{"step": 1, "num_tokens": 100.0}, {"step": 2, "num_tokens": 250.0}, {"step": 2, "train_runtime": 12.5}]
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": log}))
    assert training_compute(tmp_path) == {"seconds": 12.5, "tokens": 250.0}
    with pytest.raises(FileNotFoundError, match="has this run finished"):
        training_compute(tmp_path / "missing")
