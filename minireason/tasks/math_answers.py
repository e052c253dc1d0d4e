"""Free-form math answers (GSM8K / MATH style) from user data, checked with math-verify.

Rows come from a local JSON/JSONL/CSV/parquet file, a ``save_to_disk`` folder, or a
hub data set id (where the network allows). Gold answers are normalised on load:
GSM8K's ``#### 72`` tail, MATH's last ``\\boxed{…}``, or a plain answer column.

math-verify's timeouts use SIGALRM: they only work in the main thread, and cannot stop
a C-level big-integer power (``9^9^9``) at all. So answers are screened first by a
linear-time guard (length, power towers, large exponents and factorials), and the
timeouts are used in the main thread and switched off in worker threads, where the
guard alone bounds the work.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import threading

from minireason.tasks.base import Task

MAX_ANSWER_CHARS = 256
_QUESTION_FIELDS = ("problem", "question", "prompt", "query", "input")
_ANSWER_FIELDS = ("answer", "solution", "final_answer", "target", "output")
_POWER = re.compile(r"\^|\*\*")
_FACTORIAL_ARG = re.compile(r"(\d{4,}|[)}])\s*!")
_SAFE_EXPONENT = re.compile(r"\s*(?:\{\s*-?\s*\w{1,4}\s*\}|\(\s*-?\s*\w{1,4}\s*\)|-?\w{1,4}(?!\w))")


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{…}`` (or ``\fbox{…}``), braces balanced.

    >>> last_boxed(r"so \boxed{\frac{1}{2}} and \boxed{3}")
    '3'
    """
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i:j]
    return None


def gold_answer(answer: str) -> str:
    r"""Normalise a data set's answer column to the bare final answer.

    >>> gold_answer("She pays 3 * 4 = 12 dollars.\n#### 12")
    '12'
    >>> print(gold_answer(r"Thus the area is $\boxed{4\pi}$."))
    4\pi
    """
    answer = str(answer)
    if "####" in answer:
        return answer.rsplit("####", 1)[1].strip().replace(",", "")
    boxed = last_boxed(answer)
    return (boxed if boxed is not None else answer).strip()


def is_safe_to_parse(answer: str) -> bool:
    r"""False for answers that could make sympy compute for minutes: power towers,
    exponents longer than four characters, factorials of big or bracketed arguments.

    >>> is_safe_to_parse(r"2^{10} + \frac{1}{2}"), is_safe_to_parse("9^9^9"), is_safe_to_parse("2**99999999")
    (True, False, False)
    """
    if len(answer) > MAX_ANSWER_CHARS or _FACTORIAL_ARG.search(answer):
        return False
    for power in _POWER.finditer(answer):
        end = power.end()
        match = _SAFE_EXPONENT.match(answer, end)
        if not match or _POWER.match(answer, match.end()):  # a^b^c: a tower
            return False
    return True


@functools.lru_cache(maxsize=65536)
def _parse(text: str, timeout: int | None):
    from math_verify import parse

    parsed = parse(text, parsing_timeout=timeout)
    if not parsed and "$" not in text:  # bare LaTeX such as \frac{1}{2} needs delimiters
        parsed = parse(f"${text}$", parsing_timeout=timeout)
    return parsed


def answers_match(gold: str, predicted: str) -> bool:
    """True when math-verify finds ``predicted`` equal to ``gold``. Never raises.

    ``verify(gold, pred)`` is not symmetric: the gold answer goes first.
    """
    from math_verify import verify

    if not is_safe_to_parse(predicted) or not is_safe_to_parse(gold):
        return False
    timeout = 2 if threading.current_thread() is threading.main_thread() else None
    try:
        gold_parsed, pred_parsed = _parse(gold, timeout), _parse(predicted, timeout)
        if not gold_parsed or not pred_parsed:
            return False
        return bool(verify(gold_parsed, pred_parsed, timeout_seconds=timeout))
    except Exception:  # math-verify's TimeoutException and sympy errors alike: not a match
        return False


def _pick_field(columns, wanted: str | None, candidates: tuple[str, ...], kind: str) -> str:
    if wanted:
        if wanted not in columns:
            raise ValueError(f"{kind} field {wanted!r} not in the data's columns {sorted(columns)}")
        return wanted
    for name in candidates:
        if name in columns:
            return name
    raise ValueError(
        f"no {kind} column found among {sorted(columns)}; expected one of {list(candidates)} "
        f"or pass {kind}_field=…"
    )


def load_problems(source: str, split: str = "train", question_field: str | None = None,
                  answer_field: str | None = None) -> list[dict]:
    """Read a math data set as ``[{"problem", "answer"}]`` with normalised gold answers.

    ``source`` is a .json/.jsonl/.csv/.parquet file, a ``save_to_disk`` folder, or a hub id
    (``openai/gsm8k`` with split ``train``; needs the network).
    """
    import datasets

    extension = os.path.splitext(source)[1].lower()
    builders = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}
    if os.path.isdir(source):
        data = datasets.load_from_disk(source)
        if isinstance(data, datasets.DatasetDict):
            data = data[split]
    elif extension in builders:
        if not os.path.exists(source):
            raise FileNotFoundError(f"math data file not found: {source}")
        data = datasets.load_dataset(builders[extension], data_files=source, split="train")
    else:
        data = datasets.load_dataset(source, split=split)
    question_key = _pick_field(data.column_names, question_field, _QUESTION_FIELDS, "question")
    answer_key = _pick_field(data.column_names, answer_field, _ANSWER_FIELDS, "answer")
    return [{"problem": str(r[question_key]), "answer": gold_answer(r[answer_key])} for r in data]


@dataclasses.dataclass
class MathAnswers(Task):
    name = "math"
    description = "Free-form math problems from a user data set (GSM8K/MATH style), checked with math-verify."

    path: str = dataclasses.field(default="", metadata={"help": "Data file, save_to_disk folder or hub id."})
    split: str = dataclasses.field(default="train", metadata={"help": "Split to read from a hub id or DatasetDict."})
    question_field: str = dataclasses.field(default="", metadata={"help": "Question column; found by name if empty."})
    answer_field: str = dataclasses.field(default="", metadata={"help": "Answer column; found by name if empty."})

    def __post_init__(self):
        if not self.path:
            raise ValueError("the math task needs path=… (a JSONL/CSV/parquet file, a data set folder or a hub id)")

    def _draws(self, seed: int):
        """The data's problems without replacement, shuffled by ``seed``."""
        import random

        problems = load_problems(self.path, self.split, self.question_field or None, self.answer_field or None)
        order = list(range(len(problems)))
        random.Random(f"{self.name}:{seed}").shuffle(order)
        for i in order:
            yield self.with_prompts(dict(problems[i], id=f"math-{i}"))

    def generate(self, n: int, seed: int = 0) -> list[dict]:
        rows = super().generate(n, seed)
        if len(rows) < n:
            raise ValueError(f"asked for {n} problems but {self.path} holds {len(rows)}")
        return rows

    def question(self, row: dict) -> str:
        return row["problem"]

    def score_answer(self, answer: str, row: dict) -> bool:
        return answers_match(str(row["answer"]), answer.strip())

    def answer_key(self, answer: str, row: dict) -> str | None:
        """math-verify's parse of the answer, so "\\frac{1}{2}" and "1/2" vote together."""
        answer = answer.strip()
        if not answer or not is_safe_to_parse(answer):
            return None
        timeout = 2 if threading.current_thread() is threading.main_thread() else None
        parsed = _parse(answer, timeout)
        return str(parsed[0]) if parsed else " ".join(answer.split())
