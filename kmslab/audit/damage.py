"""Damaged CloudTrail log files: find the records that can still be read, and say what was skipped.

DuckDB reads a whole log file as one JSON document, so one bad record (a lone surrogate escape
such as ``"\\ud800"``, invalid JSON, a record that is not an object) or a truncated gzip stream
fails the read of every file in the statement. The engine then reads the damaged files here,
record by record: each record keeps its original text (so DuckDB later converts it exactly as it
converts a sound file), and each record that is not standard JSON is left out and reported.

A record is left out when it is not a JSON object, when a string in it (key or value) is not
valid Unicode (a lone surrogate, or bytes that are not UTF-8), or when it holds ``NaN`` or
``Infinity``, which RFC 8259 does not allow. Invalid JSON ends the readable part of a file: the
records before it are kept.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_WS = re.compile(r"[ \t\n\r]*")
_REASONS_SHOWN = 3


class _Unreadable(Exception):
    """The rest of the file cannot be read (the message says why)."""


class _NonStandard:
    """Stands for a NaN or Infinity literal while a record is parsed."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


@dataclass(frozen=True)
class Damage:
    """What was skipped in one damaged log file.

    Args:
        path: the log file.
        records: how many records were skipped (not counting an unreadable tail).
        kept: how many records of the file were read.
        whole_file: True when nothing in the file could be read.
        rest_lost: True when the file could not be read past some point.
        reasons: why, one short phrase per problem (the first few).
    """

    path: Path
    records: int = 0
    kept: int = 0
    whole_file: bool = False
    rest_lost: bool = False
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """Return one line: the file, what was skipped, and why."""
        if self.whole_file:
            what = "the whole file"
        else:
            parts = []
            if self.records:
                parts.append(f"{self.records} record{'s' if self.records != 1 else ''}")
            if self.rest_lost:
                parts.append(f"the rest of the file after record {self.kept + self.records}")
            what = " and ".join(parts) or "nothing"
        shown = "; ".join(self.reasons[:_REASONS_SHOWN])
        more = f"; and {len(self.reasons) - _REASONS_SHOWN} more" if len(self.reasons) > _REASONS_SHOWN else ""
        return f"{self.path}: skipped {what} ({shown}{more})"


@dataclass
class Salvage:
    """The readable records of a damaged file and what was skipped.

    Args:
        path: the log file.
        records: the original JSON text of each readable record.
        positions: each readable record's place in the file (1-based).
        skipped: how many records were left out.
        rest_lost: whether an unreadable part ends the file.
        reasons: why records or parts were left out.
    """

    path: Path
    records: list[str] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    skipped: int = 0
    rest_lost: bool = False
    reasons: list[str] = field(default_factory=list)

    def skip(self, index: int, reason: str) -> None:
        """Leave out record ``index`` (1-based) for ``reason``."""
        self.skipped += 1
        self.reasons.append(f"record {index}: {reason}")

    def keep(self, index: int, text: str) -> None:
        """Keep record ``index`` (1-based), whose JSON text is ``text``."""
        self.positions.append(index)
        self.records.append(text)

    def drop(self, index: int, reason: str) -> None:
        """Leave out kept record ``index`` (1-based) after all, for ``reason``."""
        at = self.positions.index(index)
        del self.positions[at], self.records[at]
        self.skip(index, reason)

    def damage(self) -> Damage | None:
        """Return what was skipped, or None when the file turned out sound."""
        if not self.skipped and not self.rest_lost:
            return None
        return Damage(
            path=self.path,
            records=self.skipped,
            kept=len(self.records),
            whole_file=self.rest_lost and not self.records and not self.skipped,
            rest_lost=self.rest_lost,
            reasons=tuple(self.reasons),
        )


def salvage(path: Path, *, max_size: int) -> Salvage:
    """Read a damaged log file record by record.

    Args:
        path: a ``.json.gz`` CloudTrail log file.
        max_size: the largest uncompressed size read, in bytes.

    Returns:
        The readable records (original text) and what was skipped.
    """
    found = Salvage(path)
    try:
        data, problem = _inflate(path.read_bytes(), max_size)
    except OSError as exc:
        found.rest_lost = True
        found.reasons.append(f"cannot read the file: {exc.strerror or exc}")
        return found
    # bytes that are not UTF-8 become lone surrogates, so only the records holding them are lost
    text = data.decode("utf-8", "surrogateescape")
    try:
        _split(text, found)
    except _Unreadable as exc:
        found.rest_lost = True
        found.reasons.append(problem or str(exc))
        return found
    if problem:
        found.rest_lost = True
        found.reasons.append(problem)
    return found


def _inflate(raw: bytes, max_size: int) -> tuple[bytes, str | None]:
    """Return the decompressed bytes (as much as can be read) and what went wrong, if anything."""
    out: list[bytes] = []
    size = 0
    while raw:
        inflater = zlib.decompressobj(wbits=31)
        try:
            chunk = inflater.decompress(raw, max_size + 1 - size)
        except zlib.error as exc:
            return b"".join(out), f"not a readable gzip stream ({exc})"
        out.append(chunk)
        size += len(chunk)
        if size > max_size:
            return b"", f"larger than {max_size} bytes uncompressed"
        if not inflater.eof:
            return b"".join(out), "the gzip stream is truncated"
        raw = inflater.unused_data.lstrip(b"\0")
    return b"".join(out), None


def _ws(text: str, at: int) -> int:
    match = _WS.match(text, at)
    return match.end() if match else at


def _expect(text: str, at: int, chars: str, what: str) -> str:
    char = text[at : at + 1]
    if not char or char not in chars:
        found = f"{char!r}" if char else "the end of the data"
        raise _Unreadable(f"invalid JSON at character {at}: expected {what}, found {found}")
    return char


def _split(text: str, found: Salvage) -> None:
    """Walk ``{"Records": [...], ...}``, keeping each sound record's own text in ``found``."""
    decoder = json.JSONDecoder(parse_constant=_NonStandard)

    def value(at: int) -> tuple[Any, int]:
        try:
            return decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise _Unreadable(f"invalid JSON at character {exc.pos}: {exc.msg}") from None
        except RecursionError:
            raise _Unreadable(f"invalid JSON at character {at}: nested too deeply") from None

    at = _ws(text, 0)
    _expect(text, at, "{", "a JSON object")
    at = _ws(text, at + 1)
    seen_records = False
    if text[at : at + 1] != "}":
        while True:
            _expect(text, at, '"', "a member name")
            key, at = value(at)
            at = _ws(text, at)
            _expect(text, at, ":", "':'")
            at = _ws(text, at + 1)
            if key == "Records" and not seen_records:
                seen_records = True
                at = _records(text, at, value, found)
            else:
                _, at = value(at)
            at = _ws(text, at)
            if _expect(text, at, ",}", "',' or '}'") == "}":
                break
            at = _ws(text, at + 1)
    at = _ws(text, at + 1)
    if at != len(text):
        raise _Unreadable(f"invalid JSON at character {at}: extra data after the document")


def _records(text: str, at: int, value: Any, found: Salvage) -> int:
    if text.startswith("null", at):
        return at + 4
    _expect(text, at, "[", "the Records array")
    at = _ws(text, at + 1)
    if text[at : at + 1] == "]":
        return at + 1
    index = 0
    while True:
        index += 1
        start = at
        record, at = value(at)
        problem = check_record(record)
        if problem:
            found.skip(index, problem)
        else:
            found.keep(index, text[start:at])
        at = _ws(text, at)
        if _expect(text, at, ",]", "',' or ']'") == "]":
            return at + 1
        at = _ws(text, at + 1)


def check_record(record: Any) -> str | None:
    """Return why a parsed record is not a sound CloudTrail record, or None.

    Args:
        record: the record as parsed, NaN and Infinity standing as ``_NonStandard``.

    Returns:
        A short reason, or None.
    """
    if not isinstance(record, dict):
        return f"not a JSON object but {_json_kind(record)}"
    stack: list[Any] = [record]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, member in item.items():
                if not _is_unicode(key):
                    return f"a member name is not valid Unicode ({_escape(key)})"
                stack.append(member)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if not _is_unicode(item):
                return f"a string is not valid Unicode ({_escape(item)})"
        elif isinstance(item, _NonStandard):
            return f"{item.literal} is not standard JSON"
    return None


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _escape(text: str) -> str:
    """Return the first invalid character, escaped, so a warning never prints it raw."""
    for char in text:
        if 0xD800 <= ord(char) <= 0xDFFF:
            return f"lone surrogate \\u{ord(char):04x}"
    return "invalid text"


def _json_kind(item: Any) -> str:
    if isinstance(item, list):
        return "an array"
    if isinstance(item, str):
        return "a string"
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "a boolean"
    return "a number"
