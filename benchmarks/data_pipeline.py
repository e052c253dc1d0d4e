"""How fast the data commands are: 17k journey / shortcut traces, the full pipeline, and teacher concurrency.

    python benchmarks/data_pipeline.py            # ~2 min on 2 cores
    python benchmarks/data_pipeline.py --n 2000   # quicker

Side by side, one core each: generating the problems, writing traces in each style and
strategy (verification included), the whole `minireason data journey` pipeline (records,
data set, JSONL, parquet, data card), and an OpenAI-compatible teacher against a local
server that takes 200 ms per request, at concurrency 1, 4 and 16.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from minireason.distill import DistillConfig, distill
from minireason.journey import journey_examples
from minireason.reports.markdown import markdown_table
from minireason.tasks import get_task
from minireason.teachers import make_teacher


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=17_000, help="problems (default: %(default)s, Sky-T1's set size)")
    args = parser.parse_args()
    n = args.n

    countdown, seconds = timed(lambda: get_task("countdown").generate(n, seed=0))
    rows = [("countdown problems (generate + solve)", seconds, "")]
    for style, strategy in (("shortcut", "dfs"), ("journey", "dfs"), ("journey", "greedy")):
        examples, seconds = timed(lambda style=style, strategy=strategy: journey_examples(countdown, style, 0.5, strategy))
        errors = sum(e["errors"] for e in examples) / n
        rows.append((f"countdown {style} traces ({strategy})", seconds, f"{errors:.2f} wrong turns/trace"))
    multiplication = get_task("arithmetic", op="mul", digits=[3, 2]).generate(n, seed=0)
    for style in ("shortcut", "journey"):
        examples, seconds = timed(lambda style=style: journey_examples(multiplication, style, 0.3))
        errors = sum(e["errors"] for e in examples) / n
        rows.append((f"3x2-digit multiplication {style} traces", seconds, f"{errors:.2f} slips/trace"))
    with tempfile.TemporaryDirectory() as out:
        cfg = DistillConfig(out=out, sources=[{"task": "countdown", "n": n}], report_to="none",
                            teacher_options={"style": "journey", "error_rate": 0.5})
        card, seconds = timed(lambda: distill(cfg, progress=False))
        rows.append(("`data journey` pipeline, countdown (all of the above + files)", seconds,
                     f"{card['rows']} rows, {card['duplicates_removed']} duplicates"))

    from minireason.testing.flaky_server import FlakyServer

    requests = 32
    with FlakyServer(["ok"], delay=0.2) as server:  # latency-bound, like a real model server
        prompts = get_task("countdown").generate(requests, seed=1)
        for concurrency in (1, 4, 16):
            teacher = make_teacher("openai:m", base_url=server.url, concurrency=concurrency)
            _, seconds = timed(lambda teacher=teacher: teacher.sample(prompts, 1))
            rows.append((f"openai teacher, 200 ms server, concurrency {concurrency}", seconds,
                         f"{requests / seconds:.1f} requests/s"))

    print(f"\n{n} problems per row; one process, {__import__('os').cpu_count()} cores on this machine\n")
    print(markdown_table(["step", "seconds", "note"], [[name, f"{seconds:.2f}", note] for name, seconds, note in rows],
                         numeric=[False, True, False]))


if __name__ == "__main__":
    main()
