"""Verifier and generator speed, side by side with an eval-based scorer.

Prints: Countdown scoring throughput on a realistic mix of completions (minireason vs a
scorer that ``eval``s behind a character allow-list, the common reference design),
the worst single-call time of every task's verifier on the nasty corpus (and whether
the eval-based scorer survives it), and how long 17,000 solvable problems take.

    python benchmarks/verifiers.py [--completions 100000] [--problems 17000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import re
import time

from minireason.tasks import get_task
from minireason.tasks.math_answers import MathAnswers
from minireason.testing.nasty_inputs import nasty_completions

_ALLOWED = re.compile(r"^[\d+\-*/().\s]+$")


def eval_based_score(completion: str, row: dict) -> float:
    """The design this kit replaces: allow-list the characters, then ``eval``. For comparison only."""
    match = re.findall(r"<answer>(.*?)</answer>", completion, re.S)
    if not match:
        return 0.0
    expression = match[-1].strip()
    try:
        if not _ALLOWED.match(expression):
            return 0.1
        if sorted(int(n) for n in re.findall(r"\d+", expression)) != sorted(row["numbers"]):
            return 0.1
        value = eval(expression, {"__builtins__": None}, {})  # noqa: S307 - the point of the comparison
        return 1.0 if abs(float(value) - row["target"]) < 1e-5 else 0.1
    except Exception:
        return 0.1


def realistic_mix(n: int, seed: int = 0) -> tuple[list[str], list[dict]]:
    """Completions shaped like a model's during RL: right, wrong, untagged, malformed, rambling."""
    rng = random.Random(seed)
    rows = get_task("countdown").generate(2000, seed=seed)
    completions, paired = [], []
    for i in range(n):
        row = rows[i % len(rows)]
        numbers = " + ".join(map(str, row["numbers"]))
        thinking = f"<think>Let me try {numbers}. That is not {row['target']}, wait, let me check again.</think>"
        kind = rng.random()
        if kind < 0.3:
            text = f"{thinking}\n<answer>{row['solution']}</answer>"
        elif kind < 0.6:
            text = f"{thinking}\n<answer>{numbers}</answer>"
        elif kind < 0.8:
            text = f"{thinking} The answer is {row['target']}."
        elif kind < 0.9:
            text = f"{thinking}<answer>{numbers} = {row['target']}</answer>"
        else:
            text = thinking * 20 + f"<answer>({row['solution']})</answer>"
        completions.append(text)
        paired.append(row)
    return completions, paired


def throughput(score, completions, rows) -> tuple[float, list[float]]:
    started = time.perf_counter()
    scores = [score(c, r) for c, r in zip(completions, rows)]
    return len(completions) / (time.perf_counter() - started), scores


def _eval_in_child(completion, row, queue):
    queue.put(eval_based_score(completion, row))


def eval_based_survives(completion: str, row: dict, limit: float) -> str:
    """Run the eval-based scorer in a child process; report its time or that it hung."""
    queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_eval_in_child, args=(completion, row, queue))
    started = time.perf_counter()
    child.start()
    child.join(limit)
    if child.is_alive():
        child.kill()
        return f"hung (killed after {limit:.0f} s)"
    return f"{(time.perf_counter() - started) * 1000:.0f} ms (with process start)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--completions", type=int, default=100_000, help="size of the realistic mix")
    parser.add_argument("--problems", type=int, default=17_000, help="Countdown problems to generate")
    parser.add_argument("--repeats", type=int, default=5, help="timings per nasty input (the worst is kept)")
    args = parser.parse_args()

    countdown = get_task("countdown")
    completions, rows = realistic_mix(args.completions)
    ours, our_scores = throughput(countdown.score, completions, rows)
    theirs, their_scores = throughput(eval_based_score, completions, rows)
    agree = sum(a == b for a, b in zip(our_scores, their_scores)) / len(our_scores)
    print(f"## Countdown scoring, realistic mix of {args.completions:,} completions")
    print(f"{'scorer':<28}{'completions/s':>16}")
    print(f"{'minireason':<28}{ours:>16,.0f}")
    print(f"{'eval + allow-list':<28}{theirs:>16,.0f}")
    print(f"scores agree on {agree:.2%} of the mix; mean score {sum(our_scores) / len(our_scores):.3f}\n")

    row_for = {
        "countdown": {"numbers": [44, 19, 35], "target": 98},
        "arithmetic": {"a": 44, "b": 54, "op": "add", "answer": 98},
        "math": {"answer": "98"},
    }
    tasks = [countdown, get_task("arithmetic", op="add"), MathAnswers(path="unused")]
    for task in tasks:  # imports (sympy) happen once, before timing
        task.score("<answer>1</answer>", row_for[task.name])
    print(f"## Worst single call on the nasty corpus (worst of {args.repeats} runs each)")
    print(f"{'input':<44}" + "".join(f"{t.name + ' ms':>14}" for t in tasks))
    worst = {t.name: 0.0 for t in tasks}
    for name, completion in nasty_completions().items():
        cells = []
        for task in tasks:
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                task.score(completion, row_for[task.name])
                times.append(time.perf_counter() - started)
            worst[task.name] = max(worst[task.name], max(times))
            cells.append(f"{max(times) * 1000:>14.2f}")
        print(f"{name:<44}" + "".join(cells))
    print(f"{'WORST':<44}" + "".join(f"{worst[t.name] * 1000:>14.2f}" for t in tasks))
    tower = nasty_completions()["power tower (hangs an eval-based scorer)"]
    print(f"eval + allow-list on 44**19**35: {eval_based_survives(tower, row_for['countdown'], 10)}\n")

    started = time.perf_counter()
    generated = countdown.generate(args.problems, seed=0)
    elapsed = time.perf_counter() - started
    print(f"## Generation: {len(generated):,} solvable Countdown problems with solutions in {elapsed:.1f} s "
          f"({elapsed / len(generated) * 1000:.2f} ms each, 1 core)")


if __name__ == "__main__":
    main()
