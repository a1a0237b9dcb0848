"""Term patterns (``ERROR -Exiting``, ``?WARN ?ERROR``) and space-delimited patterns (``[ip, user, ...]``).

After AWS's "Filter pattern syntax" guide, sections "Match terms in unstructured log events" and
"Match terms in space-delimited log events". Matching is case sensitive. A term matches where it
appears in the message; a quoted phrase matches the exact phrase.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from kmslab.cloud.logs.errors import InvalidParameterException

_TERM = re.compile(r'\s*(?P<prefix>[?-]?)(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s"]+))')
_FIELD_TEST = re.compile(r"^\s*(?P<name>[A-Za-z_][\w-]*)?\s*(?P<op>!=|<=|>=|=|<|>)\s*(?P<value>.+?)\s*$")
# A space-delimited event: quoted strings and [bracketed] groups are one field each.
_EVENT_FIELD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def compile_terms(text: str) -> Callable[[str], bool]:
    """Compile a term pattern into a test over the raw message.

    Plain terms must all appear; when ``?`` terms are present, at least one of them must appear
    (AWS: "?ERROR ?WARN" matches either); ``-`` terms must not appear.

    Args:
        text: the pattern.

    Returns:
        A test over the message.

    Raises:
        InvalidParameterException: a quote is left open.
    """
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    pos = 0
    while text[pos:].strip():
        match = _TERM.match(text, pos)
        if not match:
            raise InvalidParameterException(f"Invalid filter pattern: {text}")
        term = _unescape(match.group("quoted")) if match.group("quoted") is not None else match.group("bare")
        {"": required, "?": optional, "-": excluded}[match.group("prefix")].append(term)
        pos = match.end()

    def test(message: str) -> bool:
        if not all(t in message for t in required):
            return False
        if optional and not any(t in message for t in optional):
            return False
        return not any(t in message for t in excluded)

    return test


@dataclass(frozen=True)
class _Field:
    name: str | None
    test: Callable[[str], bool] | None
    ellipsis: bool = False


def _value_test(op: str, value: str) -> Callable[[str], bool]:
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        value = value[1:-1]
    elif _NUMBER.match(value):
        number = float(value)
        compare = _OPERATORS[op]
        return lambda field: bool(_NUMBER.match(field)) and compare(float(field), number)
    if op not in ("=", "!="):
        raise InvalidParameterException(f"Numeric comparison {op} needs a number, found '{value}'")
    regex = re.compile("^" + ".*".join(re.escape(p) for p in value.split("*")) + "$", re.DOTALL)
    if op == "=":
        return lambda field: regex.match(field) is not None
    return lambda field: regex.match(field) is None


def _all_of(checks: tuple[Callable[[str], bool], ...]) -> Callable[[str], bool]:
    return lambda field: all(check(field) for check in checks)


def _field(spec: str) -> _Field:
    spec = spec.strip()
    if spec == "...":
        return _Field(None, None, ellipsis=True)
    if re.fullmatch(r"[A-Za-z_][\w-]*", spec):
        return _Field(spec, None)
    name: str | None = None
    alternatives: list[Callable[[str], bool]] = []
    for alternative in spec.split("||"):
        checks: list[Callable[[str], bool]] = []
        for part in alternative.split("&&"):
            match = _FIELD_TEST.match(part)
            if not match:
                raise InvalidParameterException(f"Invalid field in space-delimited filter pattern: {spec}")
            name = name or match.group("name")
            checks.append(_value_test(match.group("op"), match.group("value")))
        alternatives.append(_all_of(tuple(checks)))
    return _Field(name, lambda f: any(a(f) for a in alternatives))


def compile_delimited(text: str) -> Callable[[str], dict[str, str] | None]:
    """Compile a space-delimited pattern (``[ip, user, ..., status_code = 4*, size]``).

    Args:
        text: the pattern, with its brackets.

    Returns:
        A function that returns the named fields of a matching message, or None.

    Raises:
        InvalidParameterException: the pattern is malformed.
    """
    body = text.strip()[1:-1]
    if not body.strip():
        raise InvalidParameterException("Empty space-delimited filter pattern")
    fields = tuple(_field(spec) for spec in body.split(","))

    def match(message: str) -> dict[str, str] | None:
        tokens = [next(g for g in m.groups() if g is not None) for m in _EVENT_FIELD.finditer(message)]
        return _match_fields(fields, tokens, {})

    return match


def _match_fields(fields: tuple[_Field, ...], tokens: list[str], found: dict[str, str]) -> dict[str, str] | None:
    if not fields:
        return found if not tokens else None
    head, rest = fields[0], fields[1:]
    if head.ellipsis:
        for skip in range(len(tokens) + 1):
            result = _match_fields(rest, tokens[skip:], found)
            if result is not None:
                return result
        return None
    if not tokens:
        return None
    if head.test is not None and not head.test(tokens[0]):
        return None
    named = {**found, head.name: tokens[0]} if head.name else found
    # Each field takes one token: an event with more tokens than fields needs a ``...``.
    return _match_fields(rest, tokens[1:], named)
