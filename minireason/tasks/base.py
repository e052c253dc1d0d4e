"""What every task shares: the held-out split, prompts on every row, the scoring scale.

A task owns three things in one module: a generator (``generate(n, seed)`` -> rows),
the prompt each row carries, and a verifier (``score(completion, row)`` -> float).
Completions are untrusted model output, so everything here is linear-time string
work: no regex that can backtrack, no ``eval``.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import random
import zlib
from collections.abc import Iterator
from typing import Any, ClassVar

from minireason.answer_format import THINK_OPEN, base_model_prompt, chat_messages, completion_text, extract_answer
from minireason.tasks.steps import check_claims
from minireason.tasks.traces import Trace

# One question in 8 is reserved for evaluation (``Task.split_rows``): 2-digit additions keep ~1,000 of 8,100.
HELD_OUT_EVERY = 8


# The training question whose solution opens every ``base_example`` prompt (a seed, so it is one fixed row).
EXAMPLE_SEED = 1000


@dataclasses.dataclass
class Task:
    """Base class: subclasses are dataclasses whose fields are the task's parameters."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    correct_score: float = dataclasses.field(default=1.0, metadata={"help": "Score of a correct answer."})
    format_score: float = dataclasses.field(
        default=0.1, metadata={"help": "Score when an answer tag is there but the answer is wrong or invalid."}
    )
    no_answer_score: float = dataclasses.field(
        default=0.0, metadata={"help": "Score when no answer tag is there, or an empty one."})

    # -- what subclasses provide -------------------------------------------------------
    def _make_row(self, rng, index: int) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def question(self, row: dict) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def score_answer(self, answer: str, row: dict) -> bool:  # pragma: no cover - abstract
        """True when the extracted answer text is correct for the row. Must never raise."""
        raise NotImplementedError

    def answer_key(self, answer: str, row: dict) -> str | None:
        """The answer normalised for voting (maj@k): equal keys mean the same answer. None: no vote.

        The default collapses whitespace; tasks override it with their verifier's notion of equality.
        """
        key = " ".join(answer.split())
        return key or None

    def vote_key(self, completion: Any, row: dict) -> str | None:
        """``answer_key`` of the completion's last answer tag; never raises."""
        answer = extract_answer(completion_text(completion))
        if answer is None:
            return None
        try:
            return self.answer_key(answer, row)
        except Exception:  # a malformed answer casts no vote
            return None

    def reference_completion(self, row: dict) -> str:
        """A short correct ``<think>…</think><answer>…</answer>`` completion (cold-start SFT data)."""
        raise NotImplementedError(f"the {self.name} task has no reference solutions to write traces from")

    def shortcut_trace(self, row: dict, catch_style: str = "slips", same_endings: bool = False) -> Trace:
        """Journey learning's shortcut arm: the clean worked path to the row's answer, in the shape its journey
        traces take (``catch_style``, ``same_endings``: arithmetic's), so that the two differ only in the detours.
        Countdown and arithmetic write them; other tasks get journeys from a teacher's attempts instead
        (``no_traces`` says so).
        """
        raise ValueError(self.no_traces(self.name))

    def journey_trace(self, row: dict, error_rate: float = 0.5, rng: random.Random | None = None, *,
                      strategy: str = "dfs", catch_style: str = "slips", same_endings: bool = False,
                      own_answer: str | None = None) -> Trace:
        """Journey learning's journey arm: a worked path that goes wrong with probability ``error_rate`` a step,
        notices it, and recovers (a Countdown search backtracks by ``strategy``; an arithmetic slip is caught in
        ``catch_style``, or taken from ``own_answer``, a model's own worked answer). Ends in the verified answer.
        """
        raise ValueError(self.no_traces(self.name))

    @staticmethod
    def no_traces(name: str | None) -> str:
        """Why task ``name`` has no traces of its own, and what to do instead.

        >>> Task.no_traces("math")
        "journey traces are written for countdown and arithmetic rows, not 'math'; for other tasks stitch a teacher's \
attempts (minireason data journey --teacher …)"
        """
        return (f"journey traces are written for countdown and arithmetic rows, not {name!r}; for other tasks "
                "stitch a teacher's attempts (minireason data journey --teacher …)")

    def why_wrong(self, answer: str, row: dict) -> str:
        """One clause on why ``answer`` fails the verifier, as a trace would notice it (a stitched journey says it
        between a rejected attempt and an accepted one). Tasks say more where they can.

        >>> from minireason.tasks import get_task
        >>> get_task("arithmetic").why_wrong("83", {"answer": 82})
        '83 is not the right result'
        """
        if "answer" in row and not isinstance(row["answer"], (list, dict)):
            return f"{answer} is not the right result"
        return f"{answer} does not check out"

    def format_example(self, row: dict) -> str:
        """The completion a one-shot prompt shows (``example_prompt``): the format, answered right.
        By default the reference trace; a task whose trace is longer than its rollouts overrides it."""
        return self.reference_completion(row)

    # -- shared behaviour --------------------------------------------------------------
    def _draws(self, seed: int) -> Iterator[dict]:
        """Rows one after another; the same seed and parameters give the same sequence."""
        rng = random.Random(f"{self.name}:{seed}")
        for i in itertools.count():
            row = self._make_row(rng, i)
            row["id"] = f"{self.name}-s{seed}-{i}"
            yield self.with_prompts(row)

    def generate(self, n: int, seed: int = 0) -> list[dict]:
        """``n`` rows; the same ``(n, seed)`` and parameters give the same rows."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        return list(itertools.islice(self._draws(seed), n))

    def is_held_out(self, row: dict) -> bool:
        """Whether the row's question is kept for evaluation: one question in ``HELD_OUT_EVERY``, chosen by
        a hash of its text, so no training run ever sees it, whatever its seed or size."""
        return zlib.crc32(self.question(row).encode("utf-8")) % HELD_OUT_EVERY == 0

    def split_rows(self, n: int, seed: int = 0, held_out: bool = False) -> list[dict]:
        """``n`` rows drawn with ``seed``, keeping only held-out questions (``held_out=True``: evaluation)
        or only the others (training). The first ``n`` of a longer split are the same rows.

        >>> from minireason.tasks import get_task
        >>> task = get_task("arithmetic", op="add", digits=2)
        >>> train, test = task.split_rows(500, seed=0), task.split_rows(100, seed=0, held_out=True)
        >>> {task.question(r) for r in train} & {task.question(r) for r in test}
        set()
        >>> task.split_rows(10, seed=0, held_out=True) == test[:10]
        True
        """
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        rows, budget = [], HELD_OUT_EVERY * 8 * n + 1024  # enough draws unless the questions are very few
        for row in itertools.islice(self._draws(seed), budget):
            if len(rows) == n:
                break
            if self.is_held_out(row) == held_out:
                rows.append(row)
        if len(rows) < n:
            kind = "held-out" if held_out else "training"
            raise ValueError(f"found {len(rows)} of {n} {kind} problems for {self.name}: too few distinct questions "
                             f"(one in {HELD_OUT_EVERY} is held out); use larger numbers or fewer problems")
        return rows

    def example_prompt(self, row: dict) -> str:
        """The base prompt after one solved example of this task in the format (a one-shot prompt, as
        TinyZero's template shows an example answer): the ``base_example`` prompt style.

        The example is a training question (never a held-out one) and the task's ``format_example``. With it the
        embedded SmolLM2-135M writes the format before any training (docs/grpo-on-cpu.md), so RL starts from a
        dense reward; without it, the format itself is what pure RL has to discover. A base model compared with
        such a run must be scored on the same prompt.

        >>> from minireason.tasks import get_task
        >>> task = get_task("arithmetic", op="add", digits=2)
        >>> print(task.example_prompt(task.generate(1)[0]))  # doctest: +NORMALIZE_WHITESPACE
        User: What is 69 + 90? Work it out inside <think> </think>, then write only the final answer inside <answer> </answer>.
        Assistant: <think>69 + 90 = 159.</think>
        <answer>159</answer>
        User: What is 50 + 33? Work it out inside <think> </think>, then write only the final answer inside <answer> </answer>.
        Assistant: <think>
        """
        return self._example_text + row["prompt_base"]

    @functools.cached_property
    def _example_text(self) -> str:
        """The example's prompt and completion, once per task: drawing and solving it costs more than the row."""
        (example,) = self.split_rows(1, seed=EXAMPLE_SEED)
        return f"{example['prompt_base']}{self.format_example(example).removeprefix(THINK_OPEN)}\n"

    def with_prompts(self, row: dict) -> dict:
        """Add the chat prompt, the base-model prompt and the task's identity to a row."""
        question = self.question(row)
        row["prompt"] = chat_messages(question)
        row["prompt_base"] = base_model_prompt(question)
        row["task"] = self.name
        row["task_params"] = self.params_json()
        return row

    def score(self, completion: Any, row: dict) -> float:
        """Reward for one completion: ``correct_score``, ``format_score`` or ``no_answer_score``.

        An empty answer tag is no answer: otherwise copying the prompt's "<answer> </answer>" earns the
        format credit, and a small model trained by RL alone learns to do just that (docs/grpo-on-cpu.md).
        Never raises, whatever the completion holds.

        >>> from minireason.tasks import get_task
        >>> task, row = get_task("arithmetic", op="add"), {"a": 1, "b": 2, "op": "add", "answer": 3}
        >>> [task.score(c, row) for c in ("<answer>3</answer>", "<answer>4</answer>", "<answer> </answer>", "3")]
        [1.0, 0.1, 0.0, 0.0]
        """
        answer = extract_answer(completion_text(completion))
        if answer is None or not answer.strip():
            return self.no_answer_score
        return self.correct_score if self._answer_is_correct(answer, row) else self.format_score

    def partial_credit(self, answer: str, row: dict) -> float:
        """How close an extracted answer comes, from 0 to 1 (1: correct). The default knows only right and
        wrong; tasks with a finer notion (arithmetic: the result's digits) override it. Must never raise."""
        return float(self._answer_is_correct(answer, row))

    def is_correct(self, completion: Any, row: dict) -> bool:
        """True when the completion's last answer tag holds a correct answer."""
        answer = extract_answer(completion_text(completion))
        return answer is not None and self._answer_is_correct(answer, row)

    def step_score(self, completion: Any, row: dict) -> float:
        """A process check of a trace, finished or not: the share of the arithmetic it claims that holds
        (``minireason.tasks.steps``), 1.0 before its first claim. It reads the reasoning, not the gold answer,
        so it can rank partial traces in a search; its claims include a restated final sum, though, so on
        arithmetic tasks it comes close to the verifier.

        >>> from minireason.tasks import get_task
        >>> get_task("arithmetic").step_score("<think>45 + 37: 5 + 7 = 12, 4 + 3 + 1 = 9. So", {})
        0.5
        """
        true, counted = check_claims(completion_text(completion))
        return true / counted if counted else 1.0

    def _answer_is_correct(self, answer: str, row: dict) -> bool:
        try:
            return bool(self.score_answer(answer, row))
        except Exception:  # a verifier bug must not kill a training run; count it as wrong
            return False

    def params(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def params_json(self) -> str:
        return json.dumps(self.params(), sort_keys=True)

    @classmethod
    def param_help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


def int_range(value: Any, field: str) -> tuple[int, int]:
    """Normalise ``3`` or ``[3, 4]`` (inclusive) to ``(lo, hi)``, with a clear error."""
    if isinstance(value, bool):
        raise ValueError(f"{field} must be an int or a [min, max] pair, got {value!r}")
    if isinstance(value, int):
        value = (value, value)
    try:
        lo, hi = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be an int or a [min, max] pair, got {value!r}") from None
    if lo > hi:
        raise ValueError(f"{field}: min {lo} is above max {hi}")
    return lo, hi
