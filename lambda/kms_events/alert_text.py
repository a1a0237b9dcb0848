"""The lines every KMS alert body shares: the key, the call, failed lookups, and the message attributes."""

from __future__ import annotations

from datetime import datetime

from kms_events.events import KmsApiCallEvent, UserIdentity
from kms_events.facts import KeyFacts


def iso(moment: datetime) -> str:
    """Format a moment as the alerts print it.

    Args:
        moment: a timezone-aware datetime.

    Returns:
        ``YYYY-MM-DDTHH:MM:SSZ``.
    """
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def key_lines(event: KmsApiCallEvent, facts: KeyFacts) -> list[str]:
    """Return the lines naming the key: its ARN, ID and aliases.

    Args:
        event: the KMS API call event.
        facts: what DescribeKey and ListAliases said.

    Returns:
        The lines.
    """
    return [
        f"Key ARN:        {facts.key_arn or event.detail.key_arn or 'unknown'}",
        f"Key ID:         {facts.key_id}",
        f"Aliases:        {', '.join(facts.aliases) or '(none)'}",
    ]


def call_lines(event: KmsApiCallEvent, region: str) -> list[str]:
    """Return the lines saying where and when the call came from.

    Args:
        event: the KMS API call event.
        region: the call's Region.

    Returns:
        Source IP, user agent, event time, Region and account.
    """
    detail = event.detail
    return [
        f"Source IP:      {detail.source_ip or 'unknown'}",
        f"User agent:     {detail.user_agent or 'unknown'}",
        f"Event time:     {detail.event_time or event.get('time') or 'unknown'}",
        f"Region:         {region}",
        f"Account:        {detail.recipient_account_id or event.get('account') or 'unknown'}",
    ]


def advice_heading(facts: KeyFacts) -> list[str]:
    """Return the lines that end the facts (the lookups that failed) and open the advice.

    Args:
        facts: what DescribeKey and ListAliases said.

    Returns:
        The lines.
    """
    lines = ["Lookups that failed: " + "; ".join(facts.lookup_errors)] if facts.lookup_errors else []
    return [*lines, "", "What to do:"]


def alert_attributes(
    facts: KeyFacts, operation: str, who: UserIdentity, region: str, event_type: str
) -> dict[str, str]:
    """Return the message attributes subscribers filter on (:data:`kms_events.publish.ATTRIBUTE_NAMES`).

    Args:
        facts: the key's facts.
        operation: the KMS operation.
        who: the caller.
        region: the call's Region.
        event_type: the alert's type.

    Returns:
        The attributes.
    """
    return {
        "key_id": facts.key_id,
        "operation": operation,
        "principal": who.principal,
        "region": region,
        "event_type": event_type,
    }
