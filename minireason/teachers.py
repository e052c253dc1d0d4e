"""Teachers turn task rows into reasoning traces, for distillation and journey data.

Three backends behind one method, ``sample(rows, k)`` -> ``k`` completions per row
(``None`` where a request failed for good; the solver's are ``Trace``s with error counts):

- ``SolverTeacher``: no model; writes correct traces for Countdown and arithmetic from
  the task's solution (shortcut or journey style, see ``minireason.journey``).
- ``HFTeacher``: any transformers causal LM, batched ``generate`` on CPU or GPU (the
  embedded SmolLM2-135M works as a toy teacher).
- ``OpenAITeacher``: any OpenAI-compatible chat endpoint (vLLM, SGLang, llama.cpp's
  server, hosted APIs) through the ``openai`` client, with a thread pool for
  concurrency. The client retries 408/409/429/5xx, dropped connections and timeouts
  with exponential backoff (honouring ``Retry-After``); this module adds retries for
  replies that parse but hold no usable text.

``make_teacher("solver" | "hf:NAME" | "openai:MODEL", ...)`` builds one from a CLI spec.
"""

from __future__ import annotations

import collections
import dataclasses
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from minireason.journey import journey_trace, shape_changes
from minireason.tasks.traces import Trace


class Teacher:
    name = "teacher"

    def sample(self, rows: list[dict], k: int) -> list[list[str | None]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def settings(self) -> dict:
        """What produced the data, for the data card."""
        return {"name": self.name}


class SolverTeacher(Teacher):
    """Correct traces without a model, for rows of tasks that store their solution."""

    def __init__(self, style: str = "shortcut", error_rate: float = 0.0, strategy: str = "dfs", seed: int = 0,
                 catch_style: str = "slips", same_endings: bool = False):
        self.style, self.error_rate, self.strategy, self.seed = style, error_rate, strategy, seed
        self.shape = {"catch_style": catch_style, "same_endings": same_endings}
        self.name = "solver"

    def sample(self, rows: list[dict], k: int) -> list[list[Trace]]:
        # Seeded per row and sample, so a resumed run writes the same traces it would have.
        return [[journey_trace(row, self.style, self.error_rate, self.strategy,
                               random.Random(f"{self.seed}:{row['id']}:{j}"), **self.shape) for j in range(k)]
                for row in rows]

    def settings(self) -> dict:
        return {"name": self.name, "style": self.style, "error_rate": self.error_rate, "strategy": self.strategy,
                **shape_changes(self.shape)}


class HFTeacher(Teacher):
    """Batched local generation with a transformers model (and an optional LoRA adapter)."""

    def __init__(self, model: str, adapter: str | None, max_new_tokens: int, temperature: float, batch_size: int,
                 load_in_4bit: bool = False):
        from minireason.models import load_model

        self.model_name, self.adapter = model, adapter
        self.max_new_tokens, self.temperature, self.batch_size = max_new_tokens, temperature, batch_size
        self.model, self.tokenizer = load_model(model, load_in_4bit=load_in_4bit, adapter=adapter)
        self.name = f"hf:{model}"

    def sample(self, rows: list[dict], k: int) -> list[list[str | None]]:
        from minireason.evaluation import generate
        from minireason.tasks import render_prompt

        prompts = [render_prompt(self.tokenizer, row) for row in rows for _ in range(k)]
        texts = [text for text, _ in generate(self.model, self.tokenizer, prompts, self.max_new_tokens,
                                              self.batch_size, self.temperature, progress=False)]
        return [texts[i * k : (i + 1) * k] for i in range(len(rows))]

    def complete(self, messages: list[dict]) -> str | None:
        """One reply to a chat (used to rewrite traces)."""
        from minireason.evaluation import generate

        prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return generate(self.model, self.tokenizer, [prompt], self.max_new_tokens, 1, self.temperature,
                        progress=False)[0][0]

    def settings(self) -> dict:
        return {"name": self.name, "adapter": self.adapter, "max_new_tokens": self.max_new_tokens,
                "temperature": self.temperature}


class OpenAITeacher(Teacher):
    """Chat completions from an OpenAI-compatible server, ``concurrency`` requests at a time.

    A request that still fails after every retry gives ``None``; the distillation
    pipeline then leaves that problem for the next run instead of recording a loss.
    """

    def __init__(self, model: str, base_url: str | None, api_key: str | None, concurrency: int, max_retries: int,
                 timeout: float, temperature: float, max_tokens: int):
        try:
            import httpx
            import openai
        except ImportError:  # pragma: no cover - depends on the install
            raise ImportError("the OpenAI-compatible teacher needs the openai client: pip install 'minireason[api]'") from None
        self.model, self.base_url, self.concurrency = model, base_url, concurrency
        self.max_retries, self.timeout = max_retries, timeout
        self.temperature, self.max_tokens = temperature, max_tokens
        self.stats: collections.Counter = collections.Counter()
        self._lock = threading.Lock()
        # Count what goes over the wire: every attempt the client makes, and each status it gets back.
        http_client = httpx.Client(event_hooks={"request": [self._on_request], "response": [self._on_response]})
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key or "not-needed", max_retries=max_retries,
                                    timeout=timeout, http_client=http_client)
        self._errors = (openai.OpenAIError, httpx.HTTPError)
        self.name = f"openai:{model}"

    def _count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1

    def _on_request(self, request) -> None:
        self._count("http_requests")

    def _on_response(self, response) -> None:
        self._count(f"http_{response.status_code}")

    def complete(self, messages: list[dict]) -> str | None:
        """One reply's text, or None once the retries are spent. Never raises for server trouble."""
        for attempt in range(self.max_retries + 1):
            try:
                reply = self.client.chat.completions.create(
                    model=self.model, messages=messages, temperature=self.temperature, max_tokens=self.max_tokens)
                text = _reply_text(reply)
            except self._errors as error:  # the client has already retried what is worth retrying
                self._count(f"error_{type(error).__name__}")
                return None
            except ValueError:  # a 200 whose body is not JSON: garbage, retried below
                text = None
            if text:
                self._count("replies")
                return text
            self._count("empty_or_malformed_replies")
            time.sleep(min(0.5 * 2**attempt, 8.0) * random.uniform(0.5, 1.0))
        self._count("gave_up")
        return None

    def sample(self, rows: list[dict], k: int) -> list[list[str | None]]:
        jobs = [row["prompt"] for row in rows for _ in range(k)]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            texts = list(pool.map(self.complete, jobs))
        return [texts[i * k : (i + 1) * k] for i in range(len(rows))]

    def settings(self) -> dict:
        requests = dict(self.stats)
        answered = sum(v for k, v in requests.items() if k.startswith("http_") and k[5:].isdigit())
        requests["timed_out_or_dropped"] = requests.get("http_requests", 0) - answered
        return {"name": self.name, "base_url": self.base_url, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "concurrency": self.concurrency, "max_retries": self.max_retries,
                "timeout_s": self.timeout, "requests": requests}


def _reply_text(reply) -> str | None:
    """The reply's text, with a reasoning model's separate thinking put back in ``<think>`` tags.

    Servers that parse reasoning out (vLLM/SGLang reasoning parsers, DeepSeek's API) return
    it as ``reasoning_content`` or ``reasoning`` beside ``content``. A malformed reply
    (no choices, no message, not text) gives None.
    """
    try:
        message = reply.choices[0].message
    except (AttributeError, IndexError, TypeError):
        return None
    content = getattr(message, "content", None)
    extra = getattr(message, "model_extra", None) or {}
    thinking = getattr(message, "reasoning_content", None) or extra.get("reasoning_content") or extra.get("reasoning")
    if not isinstance(content, str) or not content.strip():
        return None
    if isinstance(thinking, str) and thinking.strip() and "<think>" not in content:
        return f"<think>{thinking.strip()}</think>\n{content.strip()}"
    return content


@dataclasses.dataclass
class TeacherOptions:
    """How a teacher samples: the one place each knob and its default live. ``minireason data distill``
    and ``data journey`` make a flag of each field; a distill YAML gives them as ``teacher_options``."""

    base_url: str | None = dataclasses.field(default=None, metadata={
        "help": "openai teacher: the endpoint, e.g. http://localhost:8000/v1 (default: OpenAI's)."})
    api_key_env: str = dataclasses.field(default="OPENAI_API_KEY", metadata={
        "help": "openai teacher: the environment variable holding the API key (read when the teacher starts)."})
    concurrency: int = dataclasses.field(default=8, metadata={"help": "openai teacher: requests in flight."})
    max_retries: int = dataclasses.field(default=5, metadata={
        "help": "openai teacher: retries per request on 429/5xx/timeouts/garbage, with backoff."})
    timeout: float = dataclasses.field(default=120.0, metadata={"help": "openai teacher: seconds per request."})
    temperature: float = dataclasses.field(default=0.7, metadata={"help": "Sampling temperature of a model teacher."})
    # Long enough for a reasoning model's Countdown trace; a QwQ-style teacher on math needs more (the
    # qwq-32b recipe sets 4096).
    max_new_tokens: int = dataclasses.field(default=1024, metadata={"help": "Tokens per trace (a model teacher)."})
    batch_size: int = dataclasses.field(default=16, metadata={"help": "hf teacher: prompts per generate call."})
    adapter: str | None = dataclasses.field(default=None, metadata={"help": "hf teacher: a LoRA adapter on top."})
    style: str = dataclasses.field(default="shortcut", metadata={
        "help": "solver teacher: shortcut (the clean path) or journey (mistakes caught and corrected)."})
    error_rate: float = dataclasses.field(default=0.0, metadata={
        "help": "solver teacher, journey style: chance per step of a mistake that is then caught."})
    strategy: str = dataclasses.field(default="dfs", metadata={
        "help": "solver teacher, Countdown: detours picked dfs (any dead end) or greedy (the dead end nearest the "
                "target), or search (the trace is a whole depth-first search, Stream of Search style)."})
    catch_style: str = dataclasses.field(default="slips", metadata={
        "help": "solver teacher, arithmetic journeys: slips (a check only after a slip) or every_step (a check after "
                "every step, passed with a tick when right)."})
    same_endings: bool = dataclasses.field(default=False, metadata={
        "help": "solver teacher, arithmetic journeys: a slipped line ends as a right one would from its value."})

    def __post_init__(self):
        from minireason.journey import CATCH_STYLES, STRATEGIES, STYLES

        if self.style not in STYLES or self.strategy not in STRATEGIES or self.catch_style not in CATCH_STYLES:
            raise ValueError(f"teacher style must be one of {STYLES}, strategy one of {STRATEGIES} and catch_style one "
                             f"of {CATCH_STYLES}")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must lie in [0, 1], got {self.error_rate}")
        if min(self.concurrency, self.batch_size, self.max_new_tokens) < 1 or self.max_retries < 0:
            raise ValueError("concurrency, batch_size and max_new_tokens must be positive, max_retries non-negative")


def make_teacher(spec: str, seed: int = 0, **options) -> Teacher:
    """A teacher from a spec: ``solver``, ``hf:MODEL`` (name, alias, hub id or folder) or ``openai:MODEL``;
    ``options`` are ``TeacherOptions`` fields."""
    import os

    opts = TeacherOptions(**options)
    kind, _, model = spec.partition(":")
    if kind == "solver" and not model:
        return SolverTeacher(opts.style, opts.error_rate, opts.strategy, seed, opts.catch_style, opts.same_endings)
    if kind == "hf" and model:
        return HFTeacher(model, opts.adapter, opts.max_new_tokens, opts.temperature, opts.batch_size)
    if kind == "openai" and model:
        return OpenAITeacher(model, opts.base_url, os.environ.get(opts.api_key_env), opts.concurrency,
                             opts.max_retries, opts.timeout, opts.temperature, opts.max_new_tokens)
    raise ValueError(f"teacher must be solver, hf:MODEL or openai:MODEL, got {spec!r}")
