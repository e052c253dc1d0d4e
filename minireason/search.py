"""Beam search over reasoning steps, ranked by a step-level reward: inference-time search beside best-of-N.

After search-and-learn's beam search (Beeching et al., 2024; Snell et al., 2024), at CPU scale. A step is the
text up to the next step end (a new line or a sentence by default). For each problem:

1. the empty trace is expanded into ``beams × width`` first steps;
2. a step reward (``minireason.rewards``: ``step`` by default, any reward name or ``module:function``) scores
   every candidate, finished or not, and the best ``beams`` are kept;
3. each kept trace that has not finished is expanded into ``width`` next steps; finished ones stay in
   the pool and compete with the new candidates;
4. this repeats until every kept trace has written ``</answer>`` or run out of tokens.

The ``beams`` traces kept at the end are the problem's samples, so pass@k, maj@k and best-of-k read them
like any others. Compute is counted over every branch generated, pruned ones included (``tokens_spent``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from minireason.answer_format import ANSWER_CLOSE


@dataclasses.dataclass
class Beam:
    text: str = ""
    tokens: int = 0  # generated for this trace alone
    done: bool = False
    score: float = 0.0


def beam_search(complete: Callable, prompts: list[str], score: Callable[[int, list[str]], list[float]], beams: int,
                width: int, max_new_tokens: int, step_tokens: int, step_end: tuple[str, ...]
                ) -> tuple[list[list[tuple[str, int]]], list[int]]:
    """``(samples, spent)``: each problem's ``beams`` final traces as ``(text, tokens)``, best first, and the tokens
    generated for it in all.

    ``complete(prefixes, max_new_tokens, stop) -> [(text, tokens)]`` generates (``evaluation.generate``);
    ``score(p, texts)`` rates problem ``p``'s candidate traces. Every problem's candidates of a round go to
    ``complete`` together, so the batch stays large.
    """
    if beams < 1 or width < 1 or step_tokens < 1 or max_new_tokens < 1:
        raise ValueError("beams, width, step_tokens and max_new_tokens must be positive")
    stop = [*step_end, ANSWER_CLOSE]
    kept: list[list[Beam]] = [[Beam()] for _ in prompts]
    spent = [0] * len(prompts)
    while True:
        # Each unfinished trace is expanded: the empty root into beams × width, a kept trace into width.
        parents = [(p, beam) for p, pool in enumerate(kept) for beam in pool if not beam.done]
        if not parents:
            break
        children: dict[int, list[Beam]] = {p: [] for p, _ in parents}
        for budget in sorted({min(step_tokens, max_new_tokens - beam.tokens) for _, beam in parents}):
            group = [(p, beam) for p, beam in parents if min(step_tokens, max_new_tokens - beam.tokens) == budget]
            fanned = [(p, beam) for p, beam in group for _ in range(beams * width if not beam.text else width)]
            outputs = complete([prompts[p] + beam.text for p, beam in fanned], budget, stop)
            for (p, beam), (text, tokens) in zip(fanned, outputs):
                spent[p] += tokens
                finished = ANSWER_CLOSE in text
                text = text.split(ANSWER_CLOSE)[0] + ANSWER_CLOSE if finished else text
                ended = tokens < budget and not any(s in text for s in stop)  # end of sequence: nothing more comes
                child = Beam(beam.text + text, beam.tokens + tokens,
                             finished or ended or beam.tokens + tokens >= max_new_tokens or tokens == 0)
                children[p].append(child)
        for p, new in children.items():
            for child, value in zip(new, score(p, [child.text for child in new])):
                child.score = float(value)
            pool = [beam for beam in kept[p] if beam.done] + new
            # The best `beams` by score; ties keep the earlier (finished traces first), so the order is fixed.
            kept[p] = sorted(pool, key=lambda beam: -beam.score)[:beams]
    return [[(beam.text, beam.tokens) for beam in pool] for pool in kept], spent
