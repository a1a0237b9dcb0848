"""CloudWatch Logs filter patterns: one compiled matcher for the three syntaxes AWS documents.

* ``{ ... }`` JSON patterns (see :mod:`kmslab.cloud.logs._json_pattern`);
* ``[ ... ]`` space-delimited patterns;
* ``%regex%`` on its own;
* otherwise terms and quoted phrases, with ``?`` (any of) and ``-`` (none of); the empty pattern
  matches every event.

Reference: AWS CloudWatch Logs User Guide, "Filter pattern syntax for metric filters, subscription
filters, filter log events, and Live Tail".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kmslab.cloud.logs._json_pattern import compile_json_pattern, parse_selector, select
from kmslab.cloud.logs._text_pattern import compile_delimited, compile_terms
from kmslab.cloud.logs.errors import InvalidParameterException

#: AWS's limit on a filter pattern's length (PutMetricFilter ``filterPattern``).
MAX_PATTERN_LENGTH = 1024


@dataclass(frozen=True)
class Match:
    """A log event a pattern matched, with what metric values and dimensions can select.

    Args:
        message: the raw message.
        event: the parsed JSON event (JSON patterns), else None.
        fields: the named fields of a space-delimited pattern.
    """

    message: str
    event: Any = None
    fields: dict[str, str] = field(default_factory=dict)

    def value_of(self, reference: str) -> Any:
        """Return what ``$.path`` (JSON) or ``$name`` (space-delimited) selects, or None.

        Args:
            reference: the selector as a metric transformation names it.

        Returns:
            The selected value, or None when it is absent.
        """
        if reference.startswith("$.") or reference.startswith("$["):
            if self.event is None:
                return None
            return select(self.event, parse_selector(reference))[1]
        return self.fields.get(reference[1:])


@dataclass(frozen=True)
class FilterPattern:
    """A compiled filter pattern.

    Args:
        text: the pattern as written.
        kind: ``json``, ``delimited``, ``regex``, ``terms`` or ``all``.
    """

    text: str
    kind: str
    _test: Callable[[str], Match | None] = field(repr=False, compare=False)

    def match(self, message: str) -> Match | None:
        """Match one log event message.

        Args:
            message: the event's message.

        Returns:
            The match, or None.
        """
        return self._test(message)

    def matches(self, message: str) -> bool:
        """Tell whether the pattern matches a message.

        Args:
            message: the event's message.

        Returns:
            True on a match.
        """
        return self._test(message) is not None


def _json(text: str) -> Callable[[str], Match | None]:
    test = compile_json_pattern(text)

    def run(message: str) -> Match | None:
        try:
            event = json.loads(message)
        except ValueError:
            return None  # a JSON pattern never matches an event that is not JSON
        return Match(message, event) if test(event) else None

    return run


def compile_pattern(text: str) -> FilterPattern:
    """Compile a filter pattern.

    Args:
        text: the pattern (up to 1024 characters).

    Returns:
        The compiled pattern.

    Raises:
        InvalidParameterException: the pattern is malformed or too long.
    """
    if len(text) > MAX_PATTERN_LENGTH:
        raise InvalidParameterException(f"filterPattern is longer than {MAX_PATTERN_LENGTH} characters")
    stripped = text.strip()
    if not stripped:
        return FilterPattern(text, "all", lambda message: Match(message))
    if stripped.startswith("{"):
        return FilterPattern(text, "json", _json(stripped))
    if stripped.startswith("["):
        if not stripped.endswith("]"):
            raise InvalidParameterException(f"Unbalanced brackets in filter pattern: {text}")
        delimited = compile_delimited(stripped)

        def run(message: str) -> Match | None:
            fields = delimited(message)
            return None if fields is None else Match(message, fields=fields)

        return FilterPattern(text, "delimited", run)
    if len(stripped) > 2 and stripped.startswith("%") and stripped.endswith("%"):
        try:
            regex = re.compile(stripped[1:-1])
        except re.error as exc:
            raise InvalidParameterException(f"Invalid regular expression in filter pattern: {text}") from exc
        return FilterPattern(text, "regex", lambda m: Match(m) if regex.search(m) else None)
    terms = compile_terms(stripped)
    return FilterPattern(text, "terms", lambda m: Match(m) if terms(m) else None)
