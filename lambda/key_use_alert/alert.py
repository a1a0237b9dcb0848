"""Build the alert for a use of a key pending deletion, from the event and the key facts."""

from __future__ import annotations

from datetime import datetime

from kms_events.alert_text import advice_heading, alert_attributes, call_lines, iso, key_lines
from kms_events.events import KmsApiCallEvent
from kms_events.facts import KeyFacts
from kms_events.publish import Alert, subject_naming

from key_use_alert.remediation import Remediation

EVENT_TYPE = "KeyPendingDeletionUse"


def _deletion_line(facts: KeyFacts, now: datetime) -> str:
    if facts.deletion_date is None:
        return "not scheduled now" if facts.state else "unknown (DescribeKey failed)"
    days = facts.days_left(now)
    window = f", {facts.pending_window_days}-day window" if facts.pending_window_days else ""
    return f"{iso(facts.deletion_date)} ({days} day{'s' if days != 1 else ''} left{window})"


def _remediation_lines(remediation: Remediation | None, key_id: str, region: str, on_use_note: str) -> list[str]:
    cancel = f"aws kms cancel-key-deletion --key-id {key_id} --region {region}"
    enable = f"aws kms enable-key --key-id {key_id} --region {region}"
    if remediation is not None and remediation.succeeded:
        return [
            "  Automatic remediation (ON_USE=cancel): the deletion was CANCELLED.",
            f"  The key is now {remediation.state_after or 'Disabled'}: KMS leaves a cancelled key disabled,",
            "  so callers still fail until someone enables it. After reviewing who uses it:",
            f"    {enable}",
        ]
    lines = []
    if remediation is not None:
        lines.append(f"  Automatic remediation (ON_USE=cancel): {remediation.detail}.")
    elif on_use_note:
        lines.append(f"  {on_use_note}")
    lines += [
        "  Something still uses this key. If the deletion is a mistake, cancel it now:",
        f"    {cancel}",
        "  KMS leaves a cancelled key Disabled; enable it again after review:",
        f"    {enable}",
        "  If the deletion is intended, move the caller off this key before the deletion date:",
        "  after it, data encrypted under the key can never be decrypted.",
    ]
    return lines


def build_use_alert(
    event: KmsApiCallEvent,
    facts: KeyFacts,
    now: datetime,
    remediation: Remediation | None = None,
    on_use_note: str = "",
) -> Alert:
    """Build the alert for one refused use of a key pending deletion.

    Args:
        event: the KMS API call event.
        facts: what DescribeKey and ListAliases said.
        now: the moment to count the days left from (the call's time).
        remediation: what ON_USE=cancel did, or None when remediation is off.
        on_use_note: a line to show when ON_USE was set to a value that is not recognised.

    Returns:
        The alert.
    """
    detail = event.detail
    who = detail.user_identity
    region = detail.region or event.get("region") or "unknown"
    operation = detail.event_name
    cancelled = remediation is not None and remediation.succeeded
    prefix = "KMS key deletion CANCELLED after use: " if cancelled else "KMS key pending deletion used: "
    subject = subject_naming(prefix, facts.display_name, f" ({operation})")
    context = detail.encryption_context
    lines = [
        f"A request used a KMS key that is pending deletion; KMS refused it ({detail.error_code or 'error'}).",
        "",
        *key_lines(event, facts),
        f"Key state:      {facts.state or 'unknown'}",
        f"Deletion date:  {_deletion_line(facts, now)}",
        f"Operation:      {operation}",
        f"Principal:      {who.principal} ({who.identity_type or 'unknown type'})",
    ]
    if who.invoked_by:
        lines.append(f"Invoked by:     {who.invoked_by}, on behalf of the principal above")
    if who.session_issuer_arn and who.session_issuer_arn != who.arn:
        lines.append(f"Role:           {who.session_issuer_arn}")
    lines += call_lines(event, region)
    if detail.s3_object_arn:
        lines.append(f"S3 object:      {detail.s3_object_arn}")
    if context:
        lines.append("Encryption context:")
        lines += [f"  {k} = {v}" for k, v in sorted(context.items())]
    else:
        lines.append("Encryption context: (none)")
    lines += [
        f"Error:          {detail.error_message}",
        f"EventBridge ID: {event.event_id}",
        f"CloudTrail ID:  {detail.event_id or 'unknown'}",
        f"Request ID:     {detail.request_id or 'unknown'}",
    ]
    lines += advice_heading(facts)
    lines += _remediation_lines(remediation, facts.key_id, region, on_use_note)
    attributes = alert_attributes(facts, operation, who, region, EVENT_TYPE)
    return Alert(subject=subject, body="\n".join(lines) + "\n", attributes=attributes)
