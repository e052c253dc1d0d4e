"""Arithmetic expressions read without ``eval``: the parser behind Countdown's verifier, the step checker and
journey traces.

The text is tokenised by hand (ASCII digits, ``+ - * /`` and parentheses only, with caps on length and on each
literal), then evaluated exactly with ``Fraction`` by an iterative shunting-yard. Power towers, deep nesting,
huge literals and code injection all cost microseconds and raise ``InvalidExpression``.
"""

from __future__ import annotations

from fractions import Fraction

# An answer longer than this is invalid without being parsed. Six numbers below 1000
# with every operator and bracket fit in well under 200 characters.
MAX_EXPRESSION_CHARS = 512
MAX_LITERAL_DIGITS = 12

_OPERATORS = "+-*/"
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "pos": 3}


class InvalidExpression(ValueError):
    """The text is not a well-formed arithmetic expression."""


def tokenize(expression: str) -> list[str]:
    """Split into integer literals (ASCII digits only), operators and parentheses.

    >>> tokenize("(12 + 3)*4")
    ['(', '12', '+', '3', ')', '*', '4']
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise InvalidExpression("expression too long")
    tokens: list[str] = []
    i, n = 0, len(expression)
    while i < n:
        ch = expression[i]
        if ch in " \t\n\r":
            i += 1
        elif "0" <= ch <= "9":
            j = i
            while j < n and "0" <= expression[j] <= "9":
                j += 1
            if j - i > MAX_LITERAL_DIGITS:
                raise InvalidExpression("integer literal too long")
            tokens.append(expression[i:j])
            i = j
        elif ch in _OPERATORS or ch in "()":
            tokens.append(ch)
            i += 1
        else:
            raise InvalidExpression(f"character {ch!r} is not allowed")
    if not tokens:
        raise InvalidExpression("empty expression")
    return tokens


def evaluate(tokens: list[str], steps: list | None = None) -> Fraction:
    """Exact value of a token list; unary minus and plus are allowed, as in TinyZero. ``steps``, if given,
    receives each binary operation ``(a, op, b)`` in the order it is worked out (innermost first).

    >>> evaluate(tokenize("(1 + 2) / 3 - -4"))
    Fraction(5, 1)
    """
    output: list[Fraction] = []
    stack: list[str] = []

    def apply(op: str) -> None:
        if op in ("neg", "pos"):
            if not output:
                raise InvalidExpression("operator without operand")
            if op == "neg":
                output[-1] = -output[-1]
            return
        if len(output) < 2:
            raise InvalidExpression("operator without operand")
        b, a = output.pop(), output.pop()
        if steps is not None:
            steps.append((a, op, b))
        if op == "+":
            output.append(a + b)
        elif op == "-":
            output.append(a - b)
        elif op == "*":
            output.append(a * b)
        else:
            if b == 0:
                raise InvalidExpression("division by zero")
            output.append(a / b)

    expect_operand = True
    for tok in tokens:
        if tok.isdigit():
            if not expect_operand:
                raise InvalidExpression("two numbers in a row")
            output.append(Fraction(int(tok)))
            expect_operand = False
        elif tok == "(":
            if not expect_operand:
                raise InvalidExpression("missing operator before '('")
            stack.append(tok)
        elif tok == ")":
            if expect_operand:
                raise InvalidExpression("empty brackets or dangling operator")
            while stack and stack[-1] != "(":
                apply(stack.pop())
            if not stack:
                raise InvalidExpression("unbalanced ')'")
            stack.pop()
        else:  # + - * /
            if expect_operand:
                if tok not in "+-":
                    raise InvalidExpression(f"operator {tok!r} without left operand")
                stack.append("neg" if tok == "-" else "pos")  # unary: right-associative, nothing to pop
                continue
            while stack and stack[-1] != "(" and _PRECEDENCE[stack[-1]] >= _PRECEDENCE[tok]:
                apply(stack.pop())
            stack.append(tok)
            expect_operand = True
    if expect_operand:
        raise InvalidExpression("expression ends with an operator")
    while stack:
        op = stack.pop()
        if op == "(":
            raise InvalidExpression("unbalanced '('")
        apply(op)
    if len(output) != 1:  # pragma: no cover - the checks above make this unreachable
        raise InvalidExpression("malformed expression")
    return output[0]
