"""Completions a model under training (or an attacker) can produce; every verifier must shrug them off.

Shared by the safety tests and benchmarks/verifiers.py.
"""

MB = 1_000_000


def nasty_completions() -> dict[str, object]:
    tag = lambda body: f"<think>x</think><answer>{body}</answer>"  # noqa: E731
    return {
        "power tower (hangs an eval-based scorer)": tag("44**19**35"),
        "power tower 2": tag("9**9**9**9**9"),
        "caret power": tag("9^9^9^9"),
        "huge literal": tag("9" * 100_000),
        "huge literal times": tag("9" * 5000 + "*" + "9" * 5000),
        "literal over int str limit": tag("1" * 4301),
        "10k nested parentheses": tag("(" * 10_000 + "44" + ")" * 10_000),
        "10k unbalanced parentheses": tag("(" * 10_000),
        "10 MB of text": "a" * (10 * MB),
        "10 MB inside the answer": tag("1" * (10 * MB)),
        "10 MB of answer tags": "<answer>" * (MB + 250_000),
        "10 MB of closing tags": "</answer>" * MB,
        "10 MB of alternating tags": "<answer>1</answer>" * 550_000,
        "10 MB of think tags": "<think>" * (MB + 400_000),
        "10 MB of words": "la " * (3 * MB),
        "arabic-indic digits": tag("٤٤ + ١٩ + ٣٥"),
        "fullwidth digits": tag("４４ + １９ + ３５"),
        "superscript digits": tag("44 + 19 + 3⁵"),
        "import trick": tag("__import__('os').system('echo pwned')"),
        "lambda": tag("(lambda: 98)()"),
        "dunder": tag("().__class__.__bases__[0].__subclasses__()"),
        "division by zero": tag("44 / (19 - 19) + 35"),
        "zero over zero": tag("(44 - 44) / (19 - 19)"),
        "nan": tag("nan"),
        "inf": tag("inf"),
        "float overflow": tag("1e309"),
        "exponent notation": tag("98e0"),
        "empty answer": tag(""),
        "whitespace answer": tag(" \n\t "),
        "empty": "",
        "null bytes": tag("44\x00+19+35"),
        "lone surrogate": tag("44 + 19 + 35\ud800"),
        "bidi override": tag("\u202e53 + 91 + 44"),
        "operators only": tag("+-*/"),
        "unary chain": tag("-" * 100_000 + "44"),
        "commas and spaces": tag("1, 000, 000"),
        "none": None,
        "int": 98,
        "bytes": b"<answer>44+19+35</answer>",
        "weird messages": [{"role": "assistant", "content": None}, "junk", 3],
    }
