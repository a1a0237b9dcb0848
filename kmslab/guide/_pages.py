"""The executable steps of a guide page: each Offline tab's code blocks and the output they should print.

A step of the guide looks like this (see ``workshop/``)::

    === "Offline"

        ```bash
        aws kms describe-key --key-id alias/kmslab/data --query KeyMetadata.KeyState --output text
        ```

        ```text title="Output"
        Enabled
        ```

Only blocks inside an ``=== "Offline"`` tab run. Each ``bash`` or ``python`` block must be followed by one
``text`` block titled ``Output`` (the last command must succeed) or ``Output (fails)`` (it must fail).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "PageError", "offline_blocks"]

_TAB = re.compile(r'^(?P<indent>[ ]*)=== "(?P<name>[^"]+)"\s*$')
_FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<info>[^`]*)$")
_OUTPUT_TITLE = re.compile(r'^text\s+title="Output(?P<fails> \(fails\))?"\s*$')
_RUNNABLE = ("bash", "python")
#: the expected output of a command that prints nothing
NO_OUTPUT = "(no output)"


class PageError(ValueError):
    """A page's Offline tab breaks the guide's conventions (a block without its output, an unclosed fence)."""


@dataclass(frozen=True)
class Block:
    """One executable block of a page, with the output it should print.

    Attributes:
        page: The page's path, as given.
        line: The line of the block's opening fence (1-based).
        language: ``bash`` or ``python``.
        code: The block's code.
        expected: The expected output ("" when the page says ``(no output)``).
        fails: True when the block's last command is meant to fail (``Output (fails)``).
    """

    page: str
    line: int
    language: str
    code: str
    expected: str
    fails: bool

    @property
    def where(self) -> str:
        """``page:line``, for messages."""
        return f"{self.page}:{self.line}"


@dataclass(frozen=True)
class _Fence:
    line: int
    info: str
    body: str


def _dedent(line: str, width: int) -> str:
    return line[width:] if line[:width].strip() == "" else line.lstrip()


def _fences(lines: list[str], start: int, page: str) -> list[_Fence]:
    """The fenced blocks of a tab's content (lines already dedented), with their page line numbers."""
    found: list[_Fence] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening or not opening.group("info").strip():
            i += 1
            continue
        width = len(opening.group("indent"))
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not re.match(rf"^[ ]{{{width}}}```\s*$", lines[j]):
            body.append(_dedent(lines[j], width))
            j += 1
        if j == len(lines):
            raise PageError(f"{page}:{start + i}: the code block is never closed")
        found.append(_Fence(start + i, opening.group("info").strip(), "\n".join(body)))
        i = j + 1
    return found


def _tabs(lines: list[str]) -> list[tuple[int, list[str]]]:
    """The content of every Offline tab: (first content line number, content lines dedented by 4)."""
    tabs: list[tuple[int, list[str]]] = []
    i = 0
    while i < len(lines):
        tab = _TAB.match(lines[i])
        if not tab or tab.group("name") != "Offline":
            i += 1
            continue
        width = len(tab.group("indent")) + 4
        content: list[str] = []
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or lines[j].startswith(" " * width)):
            content.append(lines[j][width:])
            j += 1
        tabs.append((i + 2, content))
        i = j
    return tabs


def offline_blocks(path: Path, *, name: str | None = None) -> list[Block]:
    """Every executable block of a page's Offline tabs, in page order.

    Args:
        path: The Markdown page.
        name: How to name the page in blocks and errors (default: ``path`` as given).

    Returns:
        The blocks.

    Raises:
        PageError: A runnable block has no Output block right after it, or a fence is left open.
    """
    page = name or str(path)
    blocks: list[Block] = []
    for start, content in _tabs(path.read_text(encoding="utf-8").splitlines()):
        fences = _fences(content, start, page)
        for index, fence in enumerate(fences):
            language = fence.info.split()[0]
            if language not in _RUNNABLE:
                continue
            following = fences[index + 1] if index + 1 < len(fences) else None
            title = _OUTPUT_TITLE.match(following.info) if following else None
            if following is None or title is None:
                raise PageError(
                    f"{page}:{fence.line}: a {language} block in an Offline tab needs a "
                    '```text title="Output"``` block right after it'
                )
            expected = following.body.strip("\n")
            blocks.append(
                Block(
                    page=page,
                    line=fence.line,
                    language=language,
                    code=fence.body + "\n",
                    expected="" if expected.strip() == NO_OUTPUT else expected,
                    fails=title.group("fails") is not None,
                )
            )
    return blocks
