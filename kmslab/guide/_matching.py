"""Compare a command's real output with the output a guide page shows.

What varies from run to run (IDs, key ARNs' IDs, times, ciphertexts, access keys, the port) is replaced by
a placeholder on both sides, and ``...`` in the shown output matches any text: inside a line, any part of
that line; alone on its line, any number of whole lines.
"""

from __future__ import annotations

import re

__all__ = ["matches", "normalise"]

DOCUMENTED_PORT = 4566
_ANY_LINES = "\x00ANY-LINES\x00"

#: (pattern, placeholder), applied in order: the longer shapes first
_VARYING: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<id>"),
    (re.compile(r"\bmrk-[0-9a-f]{32}\b"), "<id>"),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"),
        "<time>",
    ),
    (re.compile(r"\b\d{4}([-/])\d{2}\1\d{2}\b"), "<date>"),
    (re.compile(r"\b1[6-9]\d{8}(?:\.\d+)?\b"), "<time>"),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), "<access-key>"),
    (re.compile(r"(?<![\w+/])[A-Za-z0-9+/]{40,}={0,2}(?![\w+/=])"), "<blob>"),
)


def normalise(text: str, *, port: int | None = None) -> str:
    """Replace what varies between runs with placeholders, and drop trailing spaces and blank line ends.

    Args:
        text: A command's output (real or shown).
        port: The local cloud's real port, written as the documented 4566.

    Returns:
        The text with placeholders.
    """
    if port is not None and port != DOCUMENTED_PORT:
        text = re.sub(rf":{port}\b", f":{DOCUMENTED_PORT}", text)
    for pattern, placeholder in _VARYING:
        text = pattern.sub(placeholder, text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def _pattern(shown: str) -> re.Pattern[str]:
    lines = [_ANY_LINES if line.strip() == "..." else line for line in shown.splitlines()]
    if lines and all(line == _ANY_LINES for line in lines):
        return re.compile(r"[\s\S]*")
    out, started = "", False
    for line in lines:
        if line == _ANY_LINES:
            # any number of whole lines, none included
            out += r"(?:\n[^\n]*)*?" if started else r"(?:[^\n]*\n)*?"
            continue
        out += (r"\n" if started else "") + r"[^\n]*?".join(re.escape(chunk) for chunk in line.split("..."))
        started = True
    return re.compile(out)


def matches(shown: str, actual: str, *, port: int | None = None) -> bool:
    """Whether a command's real output matches the output the page shows.

    Args:
        shown: The page's Output block.
        actual: What the command printed (stdout and stderr together).
        port: The local cloud's real port.

    Returns:
        True when they match.
    """
    return _pattern(normalise(shown)).fullmatch(normalise(actual, port=port)) is not None
