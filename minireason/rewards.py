"""Reward functions with TRL's signature: ``f(completions, **kwargs) -> list[float]``.

``completions`` are strings (standard format) or lists of messages (conversational);
TRL passes every data set column as a keyword list of the same length, plus
``prompts`` and ``completion_ids``. Every function here is safe on untrusted text:
linear-time string work only, never raises on odd input.

``REWARDS`` maps names to functions with their default settings; ``get_reward(name,
**settings)`` gives a configured copy (a ``functools.partial``, which TRL can pickle).
TRL logs each as ``rewards/<function name>/mean``, e.g. ``rewards/accuracy_reward/mean``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

from minireason.answer_format import (
    FORMAT_STEPS,
    THINK_CLOSE,
    THINK_OPEN,
    completion_text,
    extract_answer,
    format_steps,
    is_well_formed,
    with_prefilled_think,
)
from minireason.tasks import task_from_row

if TYPE_CHECKING:  # annotations only: transformers is not imported to name a type
    from transformers import TrainerState

RewardFunction = Callable[..., list[float]]


def _annealed(scores: list[float], anneal_steps: int, trainer_state: TrainerState | None,
              log_metric: Callable | None = None, name: str = "") -> list[float]:
    """``scores`` times 1 - step / ``anneal_steps``, 0 from that training step on: a format reward that shapes a
    run's start and then leaves the verifier to pay alone. ``anneal_steps`` 0, or no ``trainer_state`` (outside
    TRL's training loop, which passes it), keeps the full score. While it anneals, the unannealed mean is logged
    as ``rewards/<name>/unannealed`` through TRL's ``log_metric``, so the progress line and W&B still show how
    many completions are well formed, not only what they were paid.

    >>> from types import SimpleNamespace
    >>> _annealed([1.0, 0.5], 40, SimpleNamespace(global_step=10)), _annealed([1.0], 40, SimpleNamespace(global_step=50))
    ([0.75, 0.375], [0.0])
    """
    if not anneal_steps or trainer_state is None:
        return scores
    if log_metric is not None and scores:
        log_metric(f"rewards/{name}/unannealed", sum(scores) / len(scores))
    share = max(0.0, 1.0 - trainer_state.global_step / anneal_steps)
    return [share * score for score in scores]


def format_reward(completions: list, prompts: list | None = None, anneal_steps: int = 0,
                  trainer_state: TrainerState | None = None, log_metric: Callable | None = None, **kwargs) -> list[float]:
    """1.0 for a well-formed ``<think>…</think><answer>…</answer>`` completion, else 0.0; with ``anneal_steps``,
    less along training and nothing from that step on (``_annealed``).

    >>> format_reward(["<think>2+2=4</think><answer>4</answer>", "4"])
    [1.0, 0.0]
    >>> format_reward(["2+2=4</think><answer>4</answer>"], prompts=["…Assistant: <think>"])
    [1.0]
    """
    prompts = prompts or [None] * len(completions)
    return _annealed([
        1.0 if is_well_formed(with_prefilled_think(completion_text(c), p)) else 0.0
        for c, p in zip(completions, prompts)
    ], anneal_steps, trainer_state, log_metric, "format_reward")


def format_partial_reward(completions: list, prompts: list | None = None, anneal_steps: int = 0,
                          trainer_state: TrainerState | None = None, log_metric: Callable | None = None,
                          **kwargs) -> list[float]:
    """A third of a point per format step right (``format_steps``): a gradient toward the format for a model
    that never writes it whole, where the strict ``format`` reward gives every sample 0. ``anneal_steps`` as
    ``format``'s.

    >>> format_partial_reward(["</think><answer>7</answer>", "7</think> so <answer>7</answer>", "7</think> so 7"],
    ...                       prompts=["…Assistant: <think>"] * 3)
    [1.0, 0.6666666666666666, 0.0]
    """
    prompts = prompts or [None] * len(completions)
    steps = len(FORMAT_STEPS)
    return _annealed([format_steps(with_prefilled_think(completion_text(c), p)) / steps
                      for c, p in zip(completions, prompts)], anneal_steps, trainer_state, log_metric,
                     "format_partial_reward")


def _rows(n: int, kwargs: dict) -> list[dict]:
    """Per-completion rows rebuilt from TRL's column-wise keyword lists."""
    columns = {k: v for k, v in kwargs.items() if isinstance(v, list) and len(v) == n}
    return [{k: v[i] for k, v in columns.items()} for i in range(n)]


def _task_rows(n: int, kwargs: dict, reward: str) -> list[dict]:
    """``_rows``, for a reward that reads each row's task: a clear error when the data set has no task column."""
    rows = _rows(n, kwargs)
    if rows and "task" not in rows[0]:
        raise ValueError(f"{reward} needs a 'task' column in the data set (rows from minireason.tasks have one)")
    return rows


def accuracy_reward(completions: list, **kwargs) -> list[float]:
    """The row's own task verifier: rows carry ``task`` and ``task_params`` columns.

    >>> accuracy_reward(["<answer>(2 + 3) * 4</answer>", "<answer>2+3+4</answer>", "20"],
    ...                 task=["countdown"] * 3, numbers=[[2, 3, 4]] * 3, target=[20] * 3)
    [1.0, 0.1, 0.0]
    """
    rows = _task_rows(len(completions), kwargs, "accuracy")
    return [task_from_row(row["task"], row.get("task_params", "")).score(c, row) for c, row in zip(completions, rows)]


def partial_accuracy_reward(completions: list, **kwargs) -> list[float]:
    """Partial credit for a close answer: the row's task's ``partial_credit`` of the last answer tag (arithmetic:
    the share of the result's digits right), 0 with no answer. Shaping for a model whose answers are all wrong,
    where ``accuracy`` pays every one the same ``format_score`` and GRPO sees no spread; exact answers still
    score only through ``accuracy``.

    >>> partial_accuracy_reward(["<answer>132</answer>", "<answer>122</answer>", "<answer>9</answer>", "132"],
    ...                         task=["arithmetic"] * 4, task_params=['{"op": "add"}'] * 4, answer=[132] * 4)
    [1.0, 0.6666666666666666, 0.0, 0.0]
    """
    rows = _task_rows(len(completions), kwargs, "partial_accuracy")
    scores = []
    for completion, row in zip(completions, rows):
        answer = extract_answer(completion_text(completion))
        task = task_from_row(row["task"], row.get("task_params", ""))
        scores.append(0.0 if answer is None or not answer.strip() else task.partial_credit(answer, row))
    return scores


def step_reward(completions: list, **kwargs) -> list[float]:
    """A process reward: the row's task checks a trace, finished or not, step by step (``Task.step_score``):
    the share of its arithmetic claims that hold (on Countdown, also with numbers in hand, and the answer so
    far). Beam search ranks partial traces by it (``minireason eval --search beam``).

    >>> step_reward(["<think>5 + 7 = 12, 4 + 3 + 1 = 9.", "<think>5 + 7 = 12, 4 + 3"],
    ...             task=["arithmetic"] * 2, task_params=['{"op": "add", "digits": 2}'] * 2)
    [0.5, 1.0]
    """
    rows = _task_rows(len(completions), kwargs, "step")
    tasks = [task_from_row(row["task"], row.get("task_params", "")) for row in rows]
    return [task.step_score(completion, row) for task, completion, row in zip(tasks, completions, rows)]


# Language codes to the Unicode script names (the first word of a character's name).
_SCRIPTS = {
    "en": {"LATIN"}, "fr": {"LATIN"}, "de": {"LATIN"}, "es": {"LATIN"}, "it": {"LATIN"}, "pt": {"LATIN"},
    "zh": {"CJK"}, "ja": {"CJK", "HIRAGANA", "KATAKANA"}, "ko": {"HANGUL"}, "ru": {"CYRILLIC"},
    "uk": {"CYRILLIC"}, "ar": {"ARABIC"}, "hi": {"DEVANAGARI"}, "el": {"GREEK"}, "he": {"HEBREW"},
}
# Text past these many characters is not read: the first 20k characters (~5k tokens)
# say enough about language or repetition, and the rewards stay cheap on runaway output.
_LANGUAGE_SAMPLE_CHARS = 20_000
_REPETITION_SAMPLE_CHARS = 100_000


@functools.lru_cache(maxsize=8192)
def _script(char: str) -> str:
    return unicodedata.name(char, "UNKNOWN").split(" ")[0]


def _reasoning(text: str) -> str:
    start, end = text.find(THINK_OPEN), text.find(THINK_CLOSE)
    if end >= 0:
        return text[start + len(THINK_OPEN) if 0 <= start < end else 0 : end]
    return text


def language_consistency_reward(completions: list, language: list | str = "en", prompts: list | None = None,
                                **kwargs) -> list[float]:
    """Share of the reasoning's letters written in the target language's script (R1).

    The target comes from a ``language`` column, or the ``language`` setting (a code
    such as ``en``, ``zh``, ``ru``, or a script name such as ``LATIN``). Reasoning with
    no letters at all (pure arithmetic) scores 1.0.

    >>> language_consistency_reward(["<think>Let me add: 3+4=7</think><answer>7</answer>",
    ...                              "<think>先加 then add</think><answer>7</answer>"])
    [1.0, 0.7777777777777778]
    """
    languages = language if isinstance(language, list) else [language] * len(completions)
    prompts = prompts or [None] * len(completions)
    scores = []
    for completion, lang, prompt in zip(completions, languages, prompts):
        scripts = _SCRIPTS.get(str(lang).lower(), {str(lang).upper()})
        text = _reasoning(with_prefilled_think(completion_text(completion), prompt))[:_LANGUAGE_SAMPLE_CHARS]
        letters = [ch for ch in text if ch.isalpha()]
        in_script = sum(1 for ch in letters if _script(ch) in scripts)
        scores.append(in_script / len(letters) if letters else 1.0)
    return scores


def overlong_reward(completions: list, completion_ids: list | None = None, max_tokens: int = 1024,
                    buffer_tokens: int = 256, **kwargs) -> list[float]:
    """DAPO's soft overlong penalty: 0 up to ``max_tokens - buffer_tokens``, then falling
    linearly to -1 at ``max_tokens`` (and -1 beyond). Counts tokens from
    ``completion_ids`` when TRL passes them, else about four characters a token.

    >>> overlong_reward(["x"] * 3, completion_ids=[[0] * 700, [0] * 896, [0] * 1100])
    [0.0, -0.5, -1.0]
    """
    if completion_ids is not None:
        lengths = [len(ids) for ids in completion_ids]
    else:
        lengths = [len(completion_text(c)) / 4 for c in completions]
    free = max_tokens - buffer_tokens
    return [0.0 if n <= free else max(-1.0, (free - n) / max(buffer_tokens, 1)) for n in lengths]


def repetition_reward(completions: list, ngram: int = 3, max_penalty: float = -1.0, **kwargs) -> list[float]:
    """Penalty for repeated word n-grams: ``max_penalty × (1 − unique / total)``, over the
    first 100k characters.

    >>> repetition_reward(["one two three four five", "la la la la la la la"])
    [0.0, -0.8]
    """
    scores = []
    for completion in completions:
        words = completion_text(completion)[:_REPETITION_SAMPLE_CHARS].split()
        grams = list(zip(*(words[i:] for i in range(ngram))))
        penalty = max_penalty * (1 - len(set(grams)) / len(grams)) if grams else 0.0
        scores.append(penalty or 0.0)  # no -0.0 in logs
    return scores


# Self-verification phrases: R1-Zero's "aha moment" shows up as these in the reasoning.
_REFLECTION = re.compile(
    r"\b(wait|hmm|let me (?:check|verify|re-?check|double-check|re-?evaluate|reconsider|try again)|"
    r"double-check|re-?check|that(?:'s| is) (?:wrong|not right|incorrect)|i made a mistake|on second thought)\b",
    re.IGNORECASE,
)


def reflection_reward(completions: list, **kwargs) -> list[float]:
    """1.0 when the completion checks or corrects itself ("wait", "let me check", …), else 0.0.

    Used with weight 0 by the recipes, so its logged mean is the share of completions that
    reflect (the "aha" signal) without changing what is optimised.

    >>> reflection_reward(["3+4=8. Wait, 3+4=7.", "3+4=7.", "Let me double-check: yes."])
    [1.0, 0.0, 1.0]
    """
    return [1.0 if _REFLECTION.search(completion_text(c)[:_REPETITION_SAMPLE_CHARS]) else 0.0 for c in completions]


REWARDS: dict[str, RewardFunction] = {
    "format": format_reward,
    "format_partial": format_partial_reward,
    "accuracy": accuracy_reward,
    "partial_accuracy": partial_accuracy_reward,
    "language_consistency": language_consistency_reward,
    "overlong": overlong_reward,
    "repetition": repetition_reward,
    "reflection": reflection_reward,
    "step": step_reward,
}


# The least and the most each reward gives one completion, with its default settings (repetition's least is its
# max_penalty setting): what bounds a run's logged reward (``reward_range``).
RANGES: dict[str, tuple[float, float]] = {
    "format": (0.0, 1.0), "format_partial": (0.0, 1.0), "accuracy": (0.0, 1.0), "partial_accuracy": (0.0, 1.0),
    "language_consistency": (0.0, 1.0),
    "overlong": (-1.0, 0.0), "repetition": (-1.0, 0.0), "reflection": (0.0, 1.0), "step": (0.0, 1.0),
}


def reward_range(names: list[str], weights: list[float], settings: dict | None = None) -> tuple[float, float] | None:
    """The least and the most the weighted sum of the rewards ``names`` gives one completion, which bounds the
    ``reward`` TRL logs (the batch mean of that sum); None when a reward is your own (``module:function``), whose
    range the kit does not know.

    >>> reward_range(["accuracy", "format"], [1.0, 1.0])
    (0.0, 2.0)
    >>> reward_range(["accuracy", "format", "format_partial"], [1.0, 0.1, 0.1])
    (0.0, 1.2)
    >>> reward_range(["accuracy", "repetition"], [1.0, 0.5], {"repetition": {"max_penalty": -2.0}})
    (-1.0, 1.0)
    >>> reward_range(["mine:reward"], [1.0]) is None
    True
    """
    low = high = 0.0
    for name, weight in zip(names, weights):
        if name not in RANGES:
            return None
        least, most = RANGES[name]
        if name == "repetition":
            least = min((settings or {}).get(name, {}).get("max_penalty", least), 0.0)
        low, high = low + min(weight * least, weight * most), high + max(weight * least, weight * most)
    return round(low, 9), round(high, 9)


def get_reward(name: str, **settings) -> RewardFunction:
    """The reward ``name`` (a ``REWARDS`` key, or ``module:function`` of your own with the same signature);
    settings (e.g. ``max_tokens=512``) give a configured copy.

    >>> get_reward("overlong", max_tokens=10, buffer_tokens=5)(["x"], completion_ids=[[0] * 8])
    [-0.6]
    >>> get_reward("minireason.rewards:format_reward") is format_reward
    True
    """
    if name in REWARDS:
        function = REWARDS[name]
    elif ":" in name:
        module, _, attribute = name.partition(":")
        try:
            function = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"cannot load reward {name!r}: {error}") from None
        if not callable(function):
            raise ValueError(f"reward {name!r} is not a function")
    else:
        raise ValueError(f"unknown reward {name!r}; available rewards: {', '.join(REWARDS)}, or module:function")
    parameters = inspect.signature(function).parameters
    passed_by_trl = ("completions", "prompts", "completion_ids", "trainer_state", "log_metric", "log_extra", "kwargs")
    allowed = [p for p in parameters if p not in passed_by_trl]
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()) and name not in REWARDS:
        allowed = sorted(set(allowed) | set(settings))  # your own function: its **kwargs take any setting
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ValueError(f"reward {name!r} has no setting(s) {unknown}; its settings are {allowed}")
    if not settings:
        return function
    return functools.partial(function, **settings)
