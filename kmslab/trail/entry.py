"""A journal entry of the recorder: a record's grouping key (region, event time), then its JSON.

The key lets the recorder group records into log files without decoding them again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kmslab.trail.record import record_json

_json_string = json.encoder.encode_basestring  # a JSON string literal (C): never a raw line break


def journal_entry(record: Mapping[str, Any]) -> bytes:
    """Return a record's journal entry: its grouping key, then its standard JSON, as it goes into a log file.

    ``["<awsRegion>","<eventTime>"]`` (JSON: no raw line break), a line break, then the record.

    Args:
        record: a CloudTrail record.

    Returns:
        The entry.

    Raises:
        ValueError: the record is not standard JSON (NaN, an infinity, an unpaired surrogate).
    """
    region, event_time = str(record.get("awsRegion", "")), str(record.get("eventTime", ""))
    key = f"[{_json_string(region)},{_json_string(event_time)}]\n".encode()  # strict UTF-8, as the record
    return key + record_json(record)


def split_entry(entry: bytes) -> tuple[str, str, bytes]:
    """Split a journal entry into its region, its event time and its record's JSON.

    An entry of an earlier version (the record's JSON alone) is read too.

    Args:
        entry: an entry from :func:`journal_entry`.

    Returns:
        (``awsRegion``, ``eventTime``, the record's JSON).

    Raises:
        ValueError: the entry is damaged.
    """
    if entry[:1] == b"{":  # the record alone (written before the key was added)
        record = json.loads(entry)
        if not isinstance(record, dict):
            raise ValueError("a journal entry is not a record")
        return str(record.get("awsRegion", "")), str(record.get("eventTime", "")), entry
    key, newline, body = entry.partition(b"\n")
    region, event_time = json.loads(key)
    if not (newline and body[:1] == b"{" and isinstance(region, str) and isinstance(event_time, str)):
        raise ValueError("a damaged journal entry")
    return region, event_time, body


def entry_record(entry: bytes) -> dict[str, Any]:
    """Return the record a journal entry holds.

    Args:
        entry: an entry from :func:`journal_entry`.

    Returns:
        The record.

    Raises:
        ValueError: the entry is damaged.
    """
    record = json.loads(split_entry(entry)[2])
    if not isinstance(record, dict):
        raise ValueError("a journal entry is not a record")
    return record
