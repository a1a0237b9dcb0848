"""Small helpers over moto's in-process backends (SQS, CloudWatch Logs), keyed by ARN."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any


def sqs_send(account: str, queue_arn: str, body: str, attributes: dict[str, str] | None = None) -> None:
    """Send one message to an SQS queue moto stores.

    Args:
        account: the cloud's account (moto's backends are per account).
        queue_arn: ``arn:aws:sqs:<region>:<account>:<name>``.
        body: the message body.
        attributes: string message attributes.

    Raises:
        Exception: moto's error (the queue does not exist...).
    """
    from moto.sqs.models import sqs_backends

    parts = queue_arn.split(":")
    attrs = {k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()}
    sqs_backends[parts[4] or account][parts[3]].send_message(
        queue_name=parts[5], message_body=body, message_attributes=attrs or None
    )


def logs_put(account: str, region: str, group: str, stream: str, messages: Iterable[tuple[int, str]]) -> None:
    """Append events to a CloudWatch Logs stream moto stores, creating the group and stream if missing.

    Args:
        account: the account.
        region: the Region.
        group: the log group.
        stream: the log stream.
        messages: ``(timestamp in ms, message)`` pairs.
    """
    from moto.logs.models import logs_backends

    backend = logs_backends[account][region]
    if group not in backend.groups:
        backend.create_log_group(group, {})
    if stream not in backend.groups[group].streams:
        backend.create_log_stream(group, stream)
    events = [{"timestamp": ts, "message": message} for ts, message in messages]
    if events:
        backend.put_log_events(group, stream, events)


def now_ms() -> int:
    """The current time in milliseconds since the epoch."""
    return int(time.time() * 1000)


def backend_or_none(module: str, name: str, account: str, region: str) -> Any:
    """Return a moto backend if moto's module is loaded (else nothing of it exists yet).

    Args:
        module: e.g. ``moto.sns.models``.
        name: e.g. ``sns_backends``.
        account: the account.
        region: the Region.

    Returns:
        The backend, or None.
    """
    import sys

    loaded = sys.modules.get(module)
    if loaded is None:
        return None
    return getattr(loaded, name)[account][region]
