"""Build the alert for a scheduled deletion or a disabled key, with the key's last use."""

from __future__ import annotations

from datetime import datetime

from kms_events.alert_text import advice_heading, alert_attributes, call_lines, iso, key_lines
from kms_events.events import KmsApiCallEvent
from kms_events.facts import KeyFacts
from kms_events.publish import Alert, subject_naming

from deletion_watch.last_use import LastUseSearch

EVENT_TYPES = {"ScheduleKeyDeletion": "KeyDeletionScheduled", "DisableKey": "KeyDisabled"}
DEFAULT_WINDOW_DAYS = 30


def _window_days(event: KmsApiCallEvent, facts: KeyFacts) -> int:
    requested = event.detail.request_parameters.get("pendingWindowInDays")
    if isinstance(requested, int):
        return requested
    return facts.pending_window_days or DEFAULT_WINDOW_DAYS


def _last_use_lines(search: LastUseSearch, now: datetime) -> tuple[str, list[str]]:
    if search.last_use is None:
        if not search.complete:
            return "UNKNOWN", [f"Last use:       unknown: the search did not finish ({search.error})"]
        return "NO RECENT USE", [f"Last use:       none since {iso(search.since)} (CloudTrail event history, 90 days)"]
    use = search.last_use
    days = (now - use.event_time).days
    lines = [
        f"Last use:       {iso(use.event_time)} ({days} day{'s' if days != 1 else ''} ago), {use.operation}",
        f"  by            {use.principal}" + (f" via {use.invoked_by}" if use.invoked_by else ""),
        f"  CloudTrail ID {use.event_id or 'unknown'}",
    ]
    return "LIVE KEY", lines


def build_deletion_alert(event: KmsApiCallEvent, facts: KeyFacts, search: LastUseSearch, now: datetime) -> Alert:
    """Build the alert for one ScheduleKeyDeletion or DisableKey call.

    Args:
        event: the KMS API call event.
        facts: what DescribeKey and ListAliases said.
        search: when the key was last used.
        now: the moment to count from (the call's time).

    Returns:
        The alert.
    """
    detail = event.detail
    who = detail.user_identity
    region = detail.region or event.get("region") or "unknown"
    operation = detail.event_name
    verdict, use_lines = _last_use_lines(search, now)
    scheduled = operation == "ScheduleKeyDeletion"
    what = "scheduled for deletion" if scheduled else "disabled"
    subject = subject_naming(f"KMS key {what}: ", facts.display_name, f" [{verdict}]")
    lines = [
        f"KMS key {facts.display_name} was {what} by {who.principal}.",
        "",
        f"Verdict:        {verdict}",
        *key_lines(event, facts),
        f"Description:    {facts.description or '(none)'}",
        f"Key state:      {facts.state or 'unknown'}",
    ]
    if scheduled:
        window = _window_days(event, facts)
        when = iso(facts.deletion_date) if facts.deletion_date else "unknown (see the key in the console)"
        left = facts.days_left(now)
        remaining = f"{left} day{'s' if left != 1 else ''} left, " if left is not None else ""
        lines.append(f"Deletion date:  {when} ({remaining}{window}-day window)")
    lines += use_lines
    lines += [
        f"Operation:      {operation}",
        f"Principal:      {who.principal} ({who.identity_type or 'unknown type'})",
    ]
    if who.invoked_by:
        lines.append(f"Invoked by:     {who.invoked_by}")
    lines += [
        *call_lines(event, region),
        f"EventBridge ID: {event.event_id}",
        f"CloudTrail ID:  {detail.event_id or 'unknown'}",
    ]
    lines += advice_heading(facts)
    if verdict == "LIVE KEY":
        lines.append("  This key was in use recently: confirm with its owner before it goes.")
    if scheduled:
        lines += [
            "  If the deletion is a mistake, cancel it (the key then stays Disabled until enabled):",
            f"    aws kms cancel-key-deletion --key-id {facts.key_id} --region {region}",
            f"    aws kms enable-key --key-id {facts.key_id} --region {region}",
            "  Uses of the key until then are refused and raise a 'pending deletion' alert.",
        ]
    else:
        lines += [
            "  If disabling it is a mistake, enable it again:",
            f"    aws kms enable-key --key-id {facts.key_id} --region {region}",
        ]
    attributes = alert_attributes(facts, operation, who, region, EVENT_TYPES.get(operation, operation))
    return Alert(subject=subject, body="\n".join(lines) + "\n", attributes=attributes)
