"""What the tests and the benchmarks both use: a local OpenAI-compatible server that fails on purpose
(``flaky_server``) and a corpus of hostile completions (``nasty_inputs``). Nothing here is imported by the kit's
own jobs."""
