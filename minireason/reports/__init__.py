"""Every reader and writer of results, in one place; the jobs that produce results import these.

- ``markdown``: the table builder behind every table the kit prints or writes, and the writer of docs sections;
- ``evals``: evaluations saved and read back (``eval.json`` and ``samples.jsonl``, a training stage's own
  included), their tables, plots and W&B logs, paired comparisons of runs;
- ``upgrade``: training stages saved by an older minireason, brought to that format;
- ``verdicts``: a claim's paired difference over problems and seeds, and its verdict;
- ``cards``: a distilled data set's card as Markdown and as a W&B run;
- ``seeds``: a recipe over seeds (the demo's stages, pure RL): summaries, tables, plots;
- ``training``: a trained run's log, compute and pace, and step meters for benchmarks.
"""
