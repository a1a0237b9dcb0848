"""JSON filter patterns: ``{ $.errorCode = "KMSInvalidStateException" && $.eventSource = kms* }``.

Grammar, after AWS's "Filter pattern syntax for metric filters, subscription filters, filter log
events, and Live Tail" (section "Match terms in JSON log events")::

    pattern    := '{' expression '}'
    expression := conjunction ('||' conjunction)*
    conjunction:= operand ('&&' operand)*
    operand    := '(' expression ')' | test
    test       := selector (op value | 'IS' ('NULL' | 'TRUE' | 'FALSE') | 'NOT' 'EXISTS')
    selector   := '$' ('.' name | '[' index ']')*
    op         := '=' | '!=' | '<' | '<=' | '>' | '>='

Values are a double-quoted string, a number, a bare word (``kms*``, ``123.123.*``) or a regex
between ``%`` signs. ``*`` in a string value is a wildcard. Strings compare with ``=``/``!=``
only, numbers with every operator. ``&&`` binds tighter than ``||``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kmslab.cloud.logs.errors import InvalidParameterException

_MISSING = object()
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<regex>%[^%]+%)
      | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
      | (?P<word>[^\s()&|=!<>"]+)
    )""",
    re.VERBOSE,
)
_SELECTOR = re.compile(r"^\$((?:\.[^.\[\]\s]+|\[\d+\])*)$")
_SELECTOR_PART = re.compile(r"\.([^.\[\]\s]+)|\[(\d+)\]")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")

Test = Callable[[Any], bool]


@dataclass(frozen=True)
class Selector:
    """A path into a JSON event, such as ``$.userIdentity.arn`` or ``$.resources[0].ARN``.

    Args:
        text: the selector as written.
        path: its steps: member names (str) and array indexes (int).
    """

    text: str
    path: tuple[str | int, ...]

    def resolve(self, event: Any) -> Any:
        """Return the selected value, or the module's missing marker when the path does not exist.

        Args:
            event: the parsed JSON event.

        Returns:
            The value (``None`` for a JSON null), or a sentinel for "does not exist".
        """
        value = event
        for step in self.path:
            if isinstance(step, int):
                if not isinstance(value, list) or step >= len(value):
                    return _MISSING
                value = value[step]
            else:
                if not isinstance(value, dict) or step not in value:
                    return _MISSING
                value = value[step]
        return value


def parse_selector(text: str) -> Selector:
    """Parse ``$.a.b[0].c`` into a :class:`Selector`.

    Args:
        text: the selector text.

    Returns:
        The selector.

    Raises:
        InvalidParameterException: the text is not a JSON selector.
    """
    match = _SELECTOR.match(text)
    if not match:
        raise InvalidParameterException(f"Invalid JSON selector in filter pattern: {text}")
    path: list[str | int] = []
    for name, index in _SELECTOR_PART.findall(match.group(1)):
        path.append(int(index) if index else name)
    return Selector(text, tuple(path))


def _as_text(value: Any) -> str | None:
    """A selected value as string patterns see it: strings as is, numbers as JSON writes them."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return json.dumps(value)
    return None


def _string_test(op: str, literal: str, *, wildcard: bool) -> Test:
    if wildcard and literal.strip("*") == "":
        # ``$.field = *`` matches any value the field has (CDK's FilterPattern.exists renders it)
        def equal(value: Any) -> bool:
            return value is not _MISSING
    elif wildcard and "*" in literal:
        regex = re.compile("^" + ".*".join(re.escape(p) for p in literal.split("*")) + "$", re.DOTALL)

        def equal(value: Any) -> bool:
            text = _as_text(value)
            return text is not None and regex.match(text) is not None
    else:

        def equal(value: Any) -> bool:
            return isinstance(value, str) and value == literal

    if op == "=":
        return equal
    # != needs a value that differs: a missing field does not match.
    return lambda value: value is not _MISSING and value is not None and not equal(value)


def _number_test(op: str, literal: float) -> Test:
    compare: dict[str, Callable[[float], bool]] = {
        "=": lambda v: v == literal,
        "!=": lambda v: v != literal,
        "<": lambda v: v < literal,
        "<=": lambda v: v <= literal,
        ">": lambda v: v > literal,
        ">=": lambda v: v >= literal,
    }
    check = compare[op]

    def test(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return math.isfinite(value) and check(float(value))

    return test


def _regex_test(op: str, body: str) -> Test:
    try:
        regex = re.compile(body)
    except re.error as exc:
        raise InvalidParameterException(f"Invalid regular expression in filter pattern: %{body}%") from exc
    if op not in ("=", "!="):
        raise InvalidParameterException("A regular expression can only be compared with = or !=")

    def test(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        return (regex.search(value) is not None) == (op == "=")

    return test


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise InvalidParameterException(f"Invalid character(s) in term '{text[pos:].strip()}'")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise InvalidParameterException(f"Unexpected end of filter pattern: {self.text}")
        self.pos += 1
        return token

    def expression(self) -> Callable[[Any], bool]:
        parts = [self.conjunction()]
        while self.peek() == ("op", "||"):
            self.take()
            parts.append(self.conjunction())
        if len(parts) == 1:
            return parts[0]
        return lambda event: any(p(event) for p in parts)

    def conjunction(self) -> Callable[[Any], bool]:
        parts = [self.operand()]
        while self.peek() == ("op", "&&"):
            self.take()
            parts.append(self.operand())
        if len(parts) == 1:
            return parts[0]
        return lambda event: all(p(event) for p in parts)

    def operand(self) -> Callable[[Any], bool]:
        if self.peek() == ("op", "("):
            self.take()
            inner = self.expression()
            if self.take() != ("op", ")"):
                raise InvalidParameterException(f"Unbalanced parentheses in filter pattern: {self.text}")
            return inner
        kind, text = self.take()
        if kind != "word":
            raise InvalidParameterException(f"Expected a JSON selector, found '{text}'")
        selector = parse_selector(text)
        test = self.test()
        return lambda event: test(selector.resolve(event))

    def test(self) -> Test:
        kind, text = self.take()
        if kind == "word" and text.upper() == "IS":
            what = self.take()[1].upper()
            checks: dict[str, Test] = {
                "NULL": lambda v: v is None,
                "TRUE": lambda v: v is True,
                "FALSE": lambda v: v is False,
            }
            if what not in checks:
                raise InvalidParameterException(f"Expected NULL, TRUE or FALSE after IS, found '{what}'")
            return checks[what]
        if kind == "word" and text.upper() == "NOT":
            if self.take()[1].upper() != "EXISTS":
                raise InvalidParameterException("Expected EXISTS after NOT")
            return lambda v: v is _MISSING
        if kind != "op" or text not in _COMPARISONS:
            raise InvalidParameterException(f"Expected a comparison operator, found '{text}'")
        op = text
        value_kind, value = self.take()
        if value_kind == "str":
            if op not in ("=", "!="):
                raise InvalidParameterException(f"Strings can only be compared with = or !=, not {op}")
            return _string_test(op, json.loads(value), wildcard=True)
        if value_kind == "regex":
            return _regex_test(op, value[1:-1])
        if value_kind != "word":
            raise InvalidParameterException(f"Expected a value after {op}, found '{value}'")
        if _NUMBER.match(value):
            return _number_test(op, float(value))
        if op not in ("=", "!="):
            raise InvalidParameterException(f"Numeric comparison {op} needs a number, found '{value}'")
        return _string_test(op, value, wildcard=True)


def compile_json_pattern(text: str) -> Callable[[Any], bool]:
    """Compile a JSON filter pattern into a test over a parsed JSON event.

    Args:
        text: the pattern, with its braces.

    Returns:
        A function that takes the parsed event and tells whether it matches.

    Raises:
        InvalidParameterException: the pattern is malformed.
    """
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        raise InvalidParameterException(f"A JSON filter pattern must be enclosed in braces: {text}")
    parser = _Parser(stripped[1:-1])
    if parser.peek() is None:
        raise InvalidParameterException("Empty JSON filter pattern")
    expression = parser.expression()
    if parser.peek() is not None:
        raise InvalidParameterException(f"Unexpected '{parser.peek()[1]}' in filter pattern")  # type: ignore[index]
    return expression


def select(event: Any, selector: Selector) -> tuple[bool, Any]:
    """Resolve a selector against an event.

    Args:
        event: the parsed JSON event.
        selector: the path.

    Returns:
        ``(found, value)``.
    """
    value = selector.resolve(event)
    return (value is not _MISSING, None if value is _MISSING else value)
