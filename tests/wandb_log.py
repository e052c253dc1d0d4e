"""Read an offline W&B run's ``.wandb`` file (a LevelDB-style log of protobuf records).

wandb 0.31 no longer ships a Python reader, and the tests must check what was logged
offline. Layout: a 7-byte header (``:W&B``, magic, version), then 32 KiB blocks of
records, each ``crc32 (4) | length (2) | type (1) | data``; a record split across blocks is
typed FIRST / MIDDLE / LAST, and a block tail shorter than a record header is padding.
"""

import json
import struct
from pathlib import Path

_BLOCK, _HEADER = 32 * 1024, 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def records(path: Path):
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", "not a W&B log"
    offset, pending = _HEADER, b""
    while offset + _HEADER <= len(data):
        room = _BLOCK - offset % _BLOCK
        if room < _HEADER:
            offset += room
            continue
        _, length, kind = struct.unpack("<IHB", data[offset : offset + _HEADER])
        chunk = data[offset + _HEADER : offset + _HEADER + length]
        offset += _HEADER + length
        if kind == 0 and length == 0 or len(chunk) < length:  # the end, or a record W&B is still writing
            break
        pending = chunk if kind in (_FULL, _FIRST) else pending + chunk
        if kind in (_FULL, _LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def _items(items):
    return {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in items}


def read_run(run_dir: Path, wait: float = 60.0) -> dict:
    """``{"history": [rows], "config": {...}, "summary": {...}}`` of an offline run folder.

    W&B's service writes the file on its own schedule, and ``wandb.finish()`` can return before the last records
    land on a loaded machine: the file is read again until it holds the run's exit record, for up to ``wait`` s."""
    import time

    (log,) = Path(run_dir).glob("run-*.wandb")
    deadline = time.monotonic() + wait
    while not any(record.WhichOneof("record_type") == "exit" for record in records(log)):
        assert time.monotonic() < deadline, f"{log} has no exit record after {wait:.0f} s"
        time.sleep(0.5)
    run = {"history": [], "config": {}, "summary": {}}
    for record in records(log):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            run["history"].append(_items(record.history.item))
        elif kind == "config":
            run["config"].update(_items(record.config.update))
        elif kind == "run":  # the config given to wandb.init comes with the run record
            run["config"].update(_items(record.run.config.update))
        elif kind == "summary":
            run["summary"].update(_items(record.summary.update))
    return run
