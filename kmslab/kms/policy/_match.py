"""Wildcard matching as IAM does it: ``*`` is any run of characters, ``?`` is one character."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=4096)
def _compile(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Tell whether ``value`` matches an IAM wildcard pattern.

    Args:
        pattern: the pattern, with ``*`` and ``?`` wildcards.
        value: the text to test.
        ignore_case: compare without regard to case (actions are case-insensitive).

    Returns:
        True when the whole value matches.
    """
    return _compile(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, value: str) -> bool:
    """Match an ARN against an ARN pattern segment by segment (``ArnLike``/``ArnEquals``).

    Each of the six colon-separated parts is matched on its own, so a ``*`` in one part
    never swallows the colons of the next, as IAM does.

    Args:
        pattern: the ARN pattern.
        value: the ARN to test.

    Returns:
        True when every part matches.
    """
    pattern_parts = pattern.split(":", 5)
    value_parts = value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return glob_match(pattern, value)
    return all(glob_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))
