"""One alert: an SNS subject, a plain-text body and message attributes for filtering."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SUBJECT_MAX = 99  # SNS: "must be less than 100 characters"
ATTRIBUTE_NAMES = ("key_id", "operation", "principal", "region", "event_type")
_NOT_SUBJECT_SAFE = re.compile(r"[^\x20-\x7e]")


def make_subject(text: str) -> str:
    """Make a string a valid SNS subject: printable ASCII, one line, under 100 characters.

    Args:
        text: the wanted subject.

    Returns:
        The subject, with other characters replaced by ``?`` and cut with ``...`` when too long.
    """
    clean = _NOT_SUBJECT_SAFE.sub("?", " ".join(text.split()))
    return clean if len(clean) <= SUBJECT_MAX else clean[: SUBJECT_MAX - 3] + "..."


def subject_naming(prefix: str, name: str, suffix: str) -> str:
    """Make a subject ``prefix + name + suffix``, shortening the name (never the rest) to fit.

    Args:
        prefix: the start (``KMS key pending deletion used: ``).
        name: the key's alias or ID.
        suffix: the end (`` (Decrypt)``).

    Returns:
        A valid SNS subject.
    """
    room = SUBJECT_MAX - len(prefix) - len(suffix)
    if len(name) > room:
        name = name[: max(room - 3, 0)] + "..."
    return make_subject(prefix + name + suffix)


@dataclass(frozen=True)
class Alert:
    """An alert ready to publish.

    Args:
        subject: the SNS subject (valid: see :func:`make_subject`).
        body: the message body.
        attributes: message attributes; must hold every name in ``ATTRIBUTE_NAMES``.
    """

    subject: str
    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.subject or make_subject(self.subject) != self.subject:
            raise ValueError(f"not a valid SNS subject: {self.subject!r}")
        if not self.body:
            raise ValueError("an alert needs a body")
        missing = [name for name in ATTRIBUTE_NAMES if not self.attributes.get(name)]
        if missing:
            raise ValueError(f"alert attributes missing or empty: {missing}")

    def message_attributes(self) -> dict[str, dict[str, str]]:
        """Return the attributes in SNS Publish's ``MessageAttributes`` shape.

        Returns:
            ``{name: {"DataType": "String", "StringValue": value}}``.
        """
        return {name: {"DataType": "String", "StringValue": value} for name, value in self.attributes.items()}


def publish_alert(sns: Any, topic_arn: str, alert: Alert) -> str:
    """Publish an alert. Errors propagate, so Lambda retries and the dead-letter queue keep the event.

    Args:
        sns: a boto3 SNS client.
        topic_arn: the topic.
        alert: the alert.

    Returns:
        The SNS message ID.
    """
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=alert.subject,
        Message=alert.body,
        MessageAttributes=alert.message_attributes(),
    )
    return str(response["MessageId"])
