"""The answer format, in one place: the tags, the prompts that ask for them, and how completions are read.

Every completion the kit trains on or scores is ``<think>reasoning</think>\n<answer>answer</answer>``.
Tasks put both prompt styles on every row; rewards, the verifiers, evaluation, distillation and journey
traces read and write the format only through this module.

Prompt styles (``PROMPT_STYLES``):

- ``chat``: the question and ``FORMAT_INSTRUCTION`` as a user message, through the model's chat template;
- ``base``: R1-Zero's plain-text framing for a base model, ending inside ``<think>`` (the completion starts
  with the reasoning, and ``with_prefilled_think`` gives the tag back before a completion is judged);
- ``base_example``: the same, after one solved example of the task in the format (``Task.example_prompt``).

``minireason.tasks.row_prompt`` and ``render_prompt`` give a row's prompt in a style.
"""

from __future__ import annotations

from typing import Any

ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"

# The instruction every task appends, so that rewards and verifiers see one format.
FORMAT_INSTRUCTION = (
    "First reason step by step inside <think> </think> tags. "
    "Then give only the final answer inside <answer> </answer> tags."
)
# What a direct-answer prompt asks instead (inference-time scaling's no-reasoning baseline).
DIRECT_INSTRUCTION = "Give only the final answer inside <answer> </answer> tags, without any reasoning."


def extract_answer(completion: str) -> str | None:
    """Return the text inside the last complete ``<answer>…</answer>`` pair, or None.

    "Last complete pair" means the last ``<answer>`` that a ``</answer>`` follows, and the
    first ``</answer>`` after it. Two ``rfind`` calls, so a 10 MB completion costs
    milliseconds whatever it holds (a non-greedy regex is quadratic on ``<answer>`` spam).

    >>> extract_answer("<think>2+2</think><answer> 4 </answer>")
    ' 4 '
    >>> extract_answer("<answer>1</answer> then <answer>2</answer>")
    '2'
    >>> extract_answer("<answer>unclosed") is None
    True
    """
    if not isinstance(completion, str):
        return None
    last_close = completion.rfind(ANSWER_CLOSE)
    if last_close < 0:
        return None
    start = completion.rfind(ANSWER_OPEN, 0, last_close)
    if start < 0:
        return None
    start += len(ANSWER_OPEN)
    return completion[start : completion.find(ANSWER_CLOSE, start)]


def completion_text(completion: Any) -> str:
    """Text of a TRL completion: a plain string, or a conversational list of messages.

    >>> completion_text([{"role": "assistant", "content": "hi"}])
    'hi'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(
            m.get("content", "") if isinstance(m, dict) and isinstance(m.get("content"), str) else ""
            for m in completion
        )
    if isinstance(completion, dict) and isinstance(completion.get("content"), str):
        return completion["content"]
    return ""


def base_model_prompt(question: str) -> str:
    """Prompt for a base (non-chat) model, in the spirit of R1-Zero's and TinyZero's templates: it names
    the tags and ends inside the think tag, so the completion starts with the reasoning. The ``format``
    rewards know this (they read the prompt) and add the tag back.

    Kept short on purpose: in GRPO every completion is scored against its prompt, and of the wordings
    tried on SmolLM2-135M this one led most often to a correct sum in the text (docs/grpo-on-cpu.md).
    """
    return (
        f"User: {question} Work it out inside <think> </think>, then write only the final answer "
        "inside <answer> </answer>.\nAssistant: <think>"
    )


def _prompt_text(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else ""


def with_prefilled_think(text: str, prompt: Any) -> str:
    """Base-model prompts end with ``<think>``: the completion starts inside the tag."""
    if _prompt_text(prompt).rstrip().endswith(THINK_OPEN):
        return THINK_OPEN + text
    return text


def is_well_formed(text: str) -> bool:
    """Exactly ``<think>…</think>`` then a non-empty ``<answer>…</answer>``, nothing else around or between them.

    >>> is_well_formed("<think>3*4=12</think>\\n<answer>12</answer>")
    True
    >>> is_well_formed("<think>a</think><answer>1</answer><answer>2</answer>")
    False
    >>> is_well_formed("<think>a</think><answer> </answer>"), is_well_formed("<think>a</think> so <answer>1</answer>")
    (False, False)
    """
    return format_steps(text) == len(FORMAT_STEPS)


FORMAT_STEPS = ("one non-empty answer tag", "after the thinking, opened at the start and closed once",
                "nothing between the two, nothing after the answer")


def format_steps(text: str) -> int:
    """How many of ``FORMAT_STEPS`` a completion gets right, each building on the one before; all of them
    is ``is_well_formed``.

    The first step is an answer, so the partial credit points where the accuracy reward does. A ladder
    that starts with closing ``</think>`` let SmolLM2-135M settle on closing it and rambling, or on
    copying the prompt's "<answer> </answer>" (docs/grpo-on-cpu.md).

    >>> format_steps("<think>12 + 65 = 77</think>\\n<answer>77</answer>")
    3
    >>> format_steps("<think>12 + 65 = 77</think> so <answer>77</answer>"), format_steps("<think>77</think> 77.")
    (2, 0)
    >>> format_steps("<think></think>, then write the answer inside <answer> </answer>"), format_steps("<answer>7</answer>")
    (0, 1)
    """
    text = text.strip()
    think_end, answer_start, answer_end = text.find(THINK_CLOSE), text.find(ANSWER_OPEN), text.find(ANSWER_CLOSE)
    answered = (text.count(ANSWER_OPEN) == 1 and text.count(ANSWER_CLOSE) == 1 and answer_start < answer_end
                and bool(text[answer_start + len(ANSWER_OPEN) : answer_end].strip()))
    after_thinking = (answered and text.startswith(THINK_OPEN) and text.count(THINK_OPEN) == 1
                      and text.count(THINK_CLOSE) == 1 and think_end < answer_start)
    clean = (after_thinking and not text[think_end + len(THINK_CLOSE) : answer_start].strip()
             and text.endswith(ANSWER_CLOSE))
    return answered + after_thinking + clean


PROMPT_STYLES = ("chat", "base", "base_example")
def check_prompt_style(style: str) -> str:
    if style not in PROMPT_STYLES:
        raise ValueError(f"prompt_style must be one of {PROMPT_STYLES}, got {style!r}")
    return style


def chat_messages(question: str) -> list[dict]:
    """The chat prompt: the question, then the format instruction, as one user message."""
    return [{"role": "user", "content": f"{question}\n{FORMAT_INSTRUCTION}"}]


def wrap(reasoning: str, answer: str) -> str:
    """A completion in the format.

    >>> wrap("2 + 2 = 4.", "4")
    '<think>2 + 2 = 4.</think>\\n<answer>4</answer>'
    """
    return f"{THINK_OPEN}{reasoning}{THINK_CLOSE}\n{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"
