"""Sampling metrics: unbiased pass@k, majority voting (maj@k) and best-of-N over verified samples.

Everything here works on per-problem lists of samples, so the same numbers come out
whichever model or strategy produced them.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chance that at least one of ``k`` samples drawn from ``n`` (``c`` correct) is correct.

    Chen et al. (2021): 1 - C(n-c, k) / C(n, k), computed as a running product so that
    large ``n`` neither overflows nor loses precision.

    >>> round(pass_at_k(n=10, c=3, k=1), 4)  # c / n
    0.3
    >>> round(pass_at_k(n=10, c=3, k=5), 4)  # 1 - C(7,5)/C(10,5) = 1 - 21/252
    0.9167
    >>> pass_at_k(n=10, c=0, k=5), pass_at_k(n=4, c=1, k=4)
    (0.0, 1.0)
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def majority_answer(answers: Sequence[str | None], weights: Sequence[float] | None = None) -> str | None:
    """The answer with the most votes (or the largest summed weight); None never wins while another
    answer has a vote. Ties go to the answer seen first, so the result does not depend on hashing.

    >>> majority_answer(["4", "5", "4", None, None, None])
    '4'
    >>> majority_answer(["4", "5", "5"], weights=[0.9, 0.2, 0.3])  # weighted best-of-N
    '4'
    """
    weights = weights if weights is not None else [1.0] * len(answers)
    totals: dict[str, float] = collections.defaultdict(float)
    for answer, weight in zip(answers, weights):
        if answer is not None:
            totals[answer] += weight
    if not totals:
        return None
    return max(totals, key=lambda a: (totals[a], -list(totals).index(a)))


def best_of_n(scores: Sequence[float]) -> int:
    """Index of the highest-scoring sample (the first on ties).

    >>> best_of_n([0.1, 0.7, 0.7])
    1
    """
    if not scores:
        raise ValueError("best_of_n needs at least one score")
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def voted_correct(samples: Sequence[dict], weights: Sequence[float] | None = None) -> bool:
    """Whether the majority answer of scored samples (each with its vote key ``answer`` and ``correct``) is right:
    maj@k over a problem's first k samples, or weighted best-of-N with the samples' scores as ``weights``.

    >>> samples = [{"answer": "12", "correct": True}, {"answer": "13", "correct": False},
    ...            {"answer": "13", "correct": False}]
    >>> voted_correct(samples), voted_correct(samples, weights=[0.9, 0.2, 0.3]), voted_correct(samples[:1])
    (False, True, True)
    >>> voted_correct([{"answer": None, "correct": False}])  # no answer: no vote, not right
    False
    """
    answer = majority_answer([s["answer"] for s in samples], weights)
    return answer is not None and any(s["correct"] for s in samples if s["answer"] == answer)
