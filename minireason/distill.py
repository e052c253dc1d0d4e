"""Distillation data (R1-Distill / Sky-T1): teacher traces → verifier → kit format → dedupe → data set.

    minireason data distill --teacher openai:Qwen/QwQ-32B --base-url http://localhost:8000/v1 \\
        --task countdown --n 17000 --samples-per-problem 4 --out data/countdown-distill

Per problem: the teacher writes K traces; each is reformatted into
``<think>…</think><answer>…</answer>`` (a trace ending in ``\\boxed{…}`` or with the
thinking in a separate field is put into that shape), optionally rewritten by a second
model (Sky-T1 rewrote QwQ's traces with GPT-4o-mini), and kept only if the task's
verifier accepts it (rejection sampling). With ``journey=True`` a rejected attempt and
an accepted one are stitched into one trace that notices its mistake.

Resumable: each finished problem is one JSON line appended to ``records.jsonl`` (a
chunk's lines in one write, flushed and fsynced), keyed by problem id. A killed run leaves at most a torn
last line, which the next run cuts off; problems already recorded are skipped, and a
problem whose teacher requests all failed is not recorded, so it is retried next time.
The export (data set, JSONL, parquet, data card) is rebuilt from the records at the
end of every run, each file written under a temporary name and renamed into place.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from minireason.answer_format import ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, extract_answer, wrap
from minireason.journey import shape_changes, stitch_attempts
from minireason.reports.cards import card_markdown, log_data_card
from minireason.tasks import get_task, task_from_row
from minireason.tasks.math_answers import last_boxed
from minireason.tasks.traces import Trace

FORMATS = ("disk", "jsonl", "parquet")
REWRITE_INSTRUCTION = (
    "Rewrite the solution below into a clear, well-structured reasoning trace. Keep every step of the "
    "reasoning and do not change the final answer. Put the reasoning inside <think> </think> tags and "
    "then only the final answer inside <answer> </answer> tags."
)

if TYPE_CHECKING:  # annotations only: nothing heavy is imported to name a type
    from minireason.teachers import Teacher


@dataclasses.dataclass
class DistillOptions:
    """The settings of a distillation run that are flags of ``minireason data distill``."""

    out: str = dataclasses.field(metadata={"help": "Output folder: records, the data set, its data card."})
    teacher: str = dataclasses.field(default="solver", metadata={
        "help": "solver (no model; countdown/arithmetic), hf:MODEL (a local transformers model, e.g. "
                "hf:smollm2-135m) or openai:MODEL (an OpenAI-compatible server)."})
    samples_per_problem: int = dataclasses.field(default=1, metadata={"help": "Traces asked of the teacher per problem (K)."})
    # One trace per problem, as Sky-T1's 17k set: more copies of easy problems skew the mix.
    keep_per_problem: int = dataclasses.field(default=1, metadata={"help": "Verified distinct traces kept per problem."})
    journey: bool = dataclasses.field(default=False, metadata={
        "help": "Stitch a rejected attempt, a reflection and an accepted attempt into one trace (journey learning)."})
    rewriter: str | None = dataclasses.field(default=None, metadata={
        "help": "hf:MODEL or openai:MODEL that rewrites each kept trace into the kit's format (re-verified), "
                "as Sky-T1 did with GPT-4o-mini."})
    rewriter_options: dict | str | None = dataclasses.field(default=None, metadata={
        "help": "The rewriter's TeacherOptions as a YAML mapping, e.g. '{base_url: http://localhost:8001/v1}'."})
    seed: int = dataclasses.field(default=0, metadata={"help": "Seed of the generated problems (and solver traces)."})
    formats: list[str] = dataclasses.field(default_factory=lambda: list(FORMATS), metadata={
        "help": "Outputs: disk (datasets save_to_disk), jsonl, parquet."})
    push_to_hub: str | None = dataclasses.field(default=None, metadata={"help": "Also push to this hub repo id."})
    chunk_size: int = dataclasses.field(default=64, metadata={
        "help": "Problems per teacher call and per write; at most one chunk is redone after a kill."})
    report_to: str = dataclasses.field(default="wandb", metadata={
        "help": "wandb (counts and samples; offline without a key) or none."})
    wandb_project: str = dataclasses.field(default="minireason", metadata={"help": "W&B project name."})


@dataclasses.dataclass
class DistillConfig(DistillOptions):
    """One distillation run; the same fields come from ``minireason data distill`` flags or a YAML config."""

    sources: list = dataclasses.field(default_factory=list, metadata={
        "help": "The problem mix: a list of {task, n, params}; rows are generated with `seed`."})
    teacher_options: dict = dataclasses.field(default_factory=dict, metadata={
        "help": "minireason.teachers.TeacherOptions fields: base_url, concurrency, temperature, max_new_tokens, …"})

    def __post_init__(self):
        import yaml

        from minireason.teachers import TeacherOptions

        if not self.sources:
            raise ValueError("distill needs at least one source: {task, n, params}")
        for source in self.sources:
            unknown = set(source) - {"task", "n", "params"}
            if unknown or "task" not in source or not isinstance(source.get("n"), int) or source["n"] < 1:
                raise ValueError(f"a source is {{task, n, params}} with n >= 1, got {source!r}")
            get_task(source["task"], **(source.get("params") or {}))  # fail now on a bad task or parameter
        for spec in (self.teacher, self.rewriter or "hf:-"):
            kind, _, model = spec.partition(":")
            if not (spec == "solver" or (kind in ("hf", "openai") and model)):
                raise ValueError(f"teacher must be solver, hf:MODEL or openai:MODEL, got {spec!r}")
        if isinstance(self.rewriter_options, str):
            self.rewriter_options = yaml.safe_load(self.rewriter_options)
        try:  # every knob resolved, unknown ones refused: the run records exactly what sampled
            self.teacher_options = dataclasses.asdict(TeacherOptions(**(self.teacher_options or {})))
            self.rewriter_options = dataclasses.asdict(TeacherOptions(**(self.rewriter_options or {})))
        except TypeError as error:
            raise ValueError(f"teacher options: {error}") from None
        if self.samples_per_problem < 1 or self.keep_per_problem < 1:
            raise ValueError("samples_per_problem and keep_per_problem must be at least 1")
        if self.journey and self.samples_per_problem < 2:
            raise ValueError("journey stitching needs a rejected and an accepted attempt: samples_per_problem >= 2")
        bad = set(self.formats) - set(FORMATS)
        if bad:
            raise ValueError(f"unknown format(s) {sorted(bad)}; choose from {FORMATS}")
        if self.report_to not in ("wandb", "none"):
            raise ValueError(f"report_to must be wandb or none, got {self.report_to!r}")

    @classmethod
    def from_yaml(cls, path: str, **overrides) -> DistillConfig:
        return cls(**{**read_config(path), **overrides})


def read_config(path: str) -> dict:
    """The fields of a distill YAML (``method: distill``), checked by name."""
    import yaml

    values = yaml.safe_load(Path(path).read_text())
    if not isinstance(values, dict) or values.pop("method", "distill") != "distill":
        raise ValueError(f"{path}: not a distill config (method: distill)")
    known = {f.name for f in dataclasses.fields(DistillConfig)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{path}: unknown field(s) {sorted(unknown)}; fields are {sorted(known)}")
    return values


# -- one problem ------------------------------------------------------------------------------


def to_kit_format(text: str | None) -> tuple[str | None, str]:
    r"""``(completion, "ok")`` in the kit's format, or ``(None, reason)`` when there is no answer.

    >>> to_kit_format("Let me think. 6 * 7 = 42.</think>\nThe answer is \\boxed{42}.")
    ('<think>Let me think. 6 * 7 = 42.</think>\n<answer>42</answer>', 'ok')
    >>> to_kit_format("no idea")
    (None, 'no_answer')
    """
    if not text or not text.strip():
        return None, "empty"
    answer = extract_answer(text)
    if answer is None:
        answer = last_boxed(text)
    if answer is None or not answer.strip():
        return None, "no_answer"
    if THINK_CLOSE in text:
        reasoning = text.split(THINK_CLOSE)[0]
    else:
        cut = [i for i in (text.rfind(ANSWER_OPEN), text.rfind("\\boxed{")) if i >= 0]
        reasoning = text[: min(cut)]
    reasoning = reasoning.replace(THINK_OPEN, "").strip()
    if not reasoning:
        return None, "no_reasoning"
    return wrap(reasoning, answer.strip()), "ok"


def rewrite(rewriter: Teacher, row: dict, completion: str) -> str | None:
    """The rewriter's version of a kept trace, or None (the original is kept then)."""
    question = row["prompt"][-1]["content"]
    messages = [{"role": "user", "content": f"{REWRITE_INSTRUCTION}\n\nProblem:\n{question}\n\nSolution:\n{completion}"}]
    return rewriter.complete(messages)


def verify_samples(row: dict, samples: list, cfg: DistillConfig, rewriter: Teacher | None = None) -> dict:
    """The record of one problem: its kept traces and why the others were rejected.

    A sample is a string, or a ``Trace`` (the solver's) that carries its error counts.
    """
    task = task_from_row(row["task"], row["task_params"])
    rejected: collections.Counter = collections.Counter()
    accepted, wrong_attempts, counts = [], [], {}
    verified = duplicates = 0
    for sample in samples:
        text = sample.completion if isinstance(sample, Trace) else sample
        completion, reason = to_kit_format(text)
        if completion is None:
            rejected[reason] += 1
            continue
        if not task.is_correct(completion, row):
            rejected["wrong_answer"] += 1
            wrong_attempts.append(completion)
            continue
        verified += 1
        if completion in accepted:
            duplicates += 1
            continue
        accepted.append(completion)
        if isinstance(sample, Trace):
            counts[completion] = (sample.errors, sample.corrections)
    kept = []
    if cfg.journey:
        for attempt, good in zip(wrong_attempts, accepted):
            trace = stitch_attempts(row, attempt, good)
            if task.is_correct(trace.completion, row):
                kept.append({"completion": trace.completion, "errors": trace.errors, "corrections": trace.corrections})
        if accepted and not wrong_attempts:
            rejected["no_wrong_attempt_to_stitch"] += 1
    else:
        kept = [{"completion": c, "errors": counts.get(c, (0, 0))[0], "corrections": counts.get(c, (0, 0))[1]}
                for c in accepted]
    for item in kept[: cfg.keep_per_problem]:
        if rewriter is not None:
            candidate, _ = to_kit_format(rewrite(rewriter, row, item["completion"]))
            item["rewritten"] = bool(candidate and task.is_correct(candidate, row))
            if item["rewritten"]:
                item["completion"] = candidate
    return {"id": row["id"], "task": row["task"], "task_params": row["task_params"], "prompt": row["prompt"],
            "samples": len(samples), "verified": verified, "duplicates": duplicates,
            "kept": kept[: cfg.keep_per_problem], "rejected": dict(rejected)}


# -- the append-only record file ----------------------------------------------------------------


def load_records(path: Path) -> dict[str, dict]:
    """Records by problem id; a torn last line (a kill mid-write) is cut off the file first."""
    if not path.exists():
        return {}
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(end)
    records = {}
    for line in data[:end].splitlines():
        record = json.loads(line)
        records[record["id"]] = record
    return records


def _append(handle, records: list[dict]) -> None:
    """One write per chunk, on disk before the next chunk starts (a kill tears at most the last line)."""
    handle.write("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
    handle.flush()
    os.fsync(handle.fileno())


# -- the run ------------------------------------------------------------------------------------


def check_same_run(cfg: DistillConfig, out: Path) -> None:
    """Refuse to resume into a folder whose records came from other problems, teacher or sampling;
    speed settings (concurrency, timeouts, batch size) may change between runs."""
    identity = {"sources": cfg.sources, "seed": cfg.seed, "teacher": cfg.teacher, "journey": cfg.journey,
                "samples_per_problem": cfg.samples_per_problem, "keep_per_problem": cfg.keep_per_problem,
                "rewriter": cfg.rewriter, "trace_style": {k: cfg.teacher_options.get(k)
                                                          for k in ("style", "error_rate", "strategy", "temperature")}}
    identity["trace_style"].update(shape_changes(cfg.teacher_options))
    path = out / "run.json"
    if path.exists():
        before = json.loads(path.read_text())
        changed = sorted(k for k in identity if json.dumps(before.get(k), sort_keys=True)
                         != json.dumps(identity[k], sort_keys=True))
        if changed:
            raise ValueError(f"{out} holds a run with other settings ({', '.join(changed)}); "
                             "use another --out, or delete the folder to start over")
    else:
        _write_atomic(path, json.dumps(identity, indent=2) + "\n")


def problems(cfg: DistillConfig) -> list[dict]:
    """Every source's rows; ids carry the source index so two sources of one task never collide."""
    rows = []
    for index, source in enumerate(cfg.sources):
        for row in get_task(source["task"], **(source.get("params") or {})).generate(source["n"], seed=cfg.seed):
            row["id"] = f"{index}:{row['id']}"
            rows.append(row)
    return rows


def distill(cfg: DistillConfig, teacher: Teacher | None = None, rewriter: Teacher | None = None,
            progress: bool = True) -> dict:
    """Run (or resume) a distillation and export it; returns the data card."""
    from tqdm.auto import tqdm

    from minireason.teachers import make_teacher

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = problems(cfg)
    check_same_run(cfg, out)
    records_path = out / "records.jsonl"
    records = load_records(records_path)
    todo = [row for row in rows if row["id"] not in records]
    if records:
        print(f"minireason: resuming {out}: {len(records)} problems done, {len(todo)} to go", file=sys.stderr)
    teacher = teacher or make_teacher(cfg.teacher, seed=cfg.seed, **cfg.teacher_options)
    if cfg.rewriter and rewriter is None:
        rewriter = make_teacher(cfg.rewriter, **cfg.rewriter_options)
    failed = 0
    started = time.perf_counter()
    with open(records_path, "a", encoding="utf-8") as handle, \
            tqdm(total=len(todo), desc="distilling", unit="problem", disable=not progress) as bar:
        for start in range(0, len(todo), cfg.chunk_size):
            chunk = todo[start : start + cfg.chunk_size]
            finished = []
            for row, samples in zip(chunk, teacher.sample(chunk, cfg.samples_per_problem)):
                if any(s is None for s in samples):  # the teacher gave up on a request: retry next run
                    failed += 1
                    continue
                finished.append(verify_samples(row, samples, cfg, rewriter))
            _append(handle, finished)
            records.update((record["id"], record) for record in finished)
            bar.update(len(chunk))
    order = {row["id"]: i for i, row in enumerate(rows)}
    done = sorted((r for r in records.values() if r["id"] in order), key=lambda r: order[r["id"]])
    examples, duplicates = deduplicate(done, teacher.name)
    card = data_card(cfg, teacher, rewriter, rows, done, examples, duplicates, failed,
                     time.perf_counter() - started)
    export(examples, card, out, cfg)
    if cfg.report_to == "wandb":
        log_data_card(card, examples, cfg.wandb_project)
    if failed:
        print(f"minireason: {failed} problems got no reply after every retry; run the same command again to "
              "retry just those", file=sys.stderr)
    return card


def deduplicate(records: list[dict], source: str) -> tuple[list[dict], int]:
    """SFT rows from the kept traces, each (prompt, completion) pair once; returns them and the duplicates."""
    examples, seen, duplicates = [], set(), 0
    for record in records:
        for j, item in enumerate(record["kept"]):
            key = hashlib.sha256(json.dumps([record["prompt"], item["completion"]]).encode()).hexdigest()
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            examples.append({
                "id": f"{record['id']}#{j}", "problem_id": record["id"], "task": record["task"],
                "task_params": record["task_params"], "source": source, "prompt": record["prompt"],
                "completion": [{"role": "assistant", "content": item["completion"]}],
                "errors": item["errors"], "corrections": item["corrections"],
            })
    return examples, duplicates


def data_card(cfg: DistillConfig, teacher: Teacher, rewriter: Teacher | None, rows: list[dict], records: list[dict],
              examples: list[dict], duplicates: int, failed: int, seconds: float) -> dict:
    """Counts a reader needs to trust (or reproduce) the data: per task, yield, rejects, duplicates."""
    per_task: dict[str, dict] = {}
    for record in records:
        stats = per_task.setdefault(record["task"], {"problems": 0, "samples": 0, "verified": 0,
                                                     "rejected": collections.Counter(), "rows": 0})
        stats["problems"] += 1
        stats["samples"] += record["samples"]
        stats["verified"] += record["verified"]
        stats["rejected"].update(record["rejected"])
    for example in examples:
        per_task[example["task"]]["rows"] += 1
    for stats in per_task.values():
        stats["yield"] = round(stats["verified"] / stats["samples"], 4) if stats["samples"] else 0.0
        stats["rejected"] = dict(stats["rejected"])
    lengths = [len(e["completion"][0]["content"]) for e in examples]
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(sys.argv) if sys.argv and "minireason" in sys.argv[0] else None,
        "teacher": teacher.settings(), "rewriter": rewriter.settings() if rewriter else None,
        "sources": cfg.sources, "seed": cfg.seed, "samples_per_problem": cfg.samples_per_problem,
        "keep_per_problem": cfg.keep_per_problem, "journey": cfg.journey,
        "problems": len(rows), "problems_done": len(records), "problems_failed": failed,
        "rows": len(examples),
        # Identical verified traces of one problem, plus the same (prompt, trace) pair across problems.
        "duplicates_removed": duplicates + sum(r["duplicates"] for r in records),
        "yield": round(sum(r["verified"] for r in records) / max(sum(r["samples"] for r in records), 1), 4),
        "per_task": per_task,
        "mean_trace_chars": round(sum(lengths) / len(lengths), 1) if lengths else 0.0,
        "traces_with_corrections": sum(e["corrections"] > 0 for e in examples),
        "mean_errors_per_trace": round(sum(e["errors"] for e in examples) / max(len(examples), 1), 3),
        "rewritten": sum(bool(item.get("rewritten")) for r in records for item in r["kept"]),
        "seconds_this_run": round(seconds, 1),
    }


def export(examples: list[dict], card: dict, out: Path, cfg: DistillConfig) -> None:
    """Write the data set in each format and the card, each under a temporary name, then rename."""
    from datasets import Dataset

    dataset = Dataset.from_list(examples) if examples else Dataset.from_dict({"prompt": [], "completion": []})
    if "disk" in cfg.formats:
        tmp = out / ".data.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        dataset.save_to_disk(str(tmp))
        shutil.rmtree(out / "data", ignore_errors=True)
        os.replace(tmp, out / "data")
    if "jsonl" in cfg.formats:
        _write_atomic(out / "data.jsonl", "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples))
    if "parquet" in cfg.formats:
        dataset.to_parquet(str(out / ".data.parquet.tmp"))
        os.replace(out / ".data.parquet.tmp", out / "data.parquet")
    _write_atomic(out / "data_card.json", json.dumps(card, indent=2) + "\n")
    _write_atomic(out / "README.md", card_markdown(card))
    if cfg.push_to_hub:
        dataset.push_to_hub(cfg.push_to_hub)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


