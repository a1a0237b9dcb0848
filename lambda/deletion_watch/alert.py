"""Build the alert for a scheduled deletion or a disabled key, with the key's last use."""

from __future__ import annotations

from datetime import datetime

from kms_events.events import KmsApiCallEvent
from kms_events.facts import KeyFacts
from kms_events.publish import Alert, subject_naming

from deletion_watch.last_use import LastUseSearch

EVENT_TYPES = {"ScheduleKeyDeletion": "KeyDeletionScheduled", "DisableKey": "KeyDisabled"}
DEFAULT_WINDOW_DAYS = 30


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _window_days(event: KmsApiCallEvent, facts: KeyFacts) -> int:
    requested = event.detail.request_parameters.get("pendingWindowInDays")
    if isinstance(requested, int):
        return requested
    return facts.pending_window_days or DEFAULT_WINDOW_DAYS


def _last_use_lines(search: LastUseSearch, now: datetime) -> tuple[str, list[str]]:
    if search.last_use is None:
        if not search.complete:
            return "UNKNOWN", [f"Last use:       unknown: the search did not finish ({search.error})"]
        return "NO RECENT USE", [f"Last use:       none since {_iso(search.since)} (CloudTrail event history, 90 days)"]
    use = search.last_use
    days = (now - use.event_time).days
    lines = [
        f"Last use:       {_iso(use.event_time)} ({days} day{'s' if days != 1 else ''} ago), {use.operation}",
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
        f"Key ARN:        {facts.key_arn or detail.key_arn or 'unknown'}",
        f"Key ID:         {facts.key_id}",
        f"Aliases:        {', '.join(facts.aliases) or '(none)'}",
        f"Description:    {facts.description or '(none)'}",
        f"Key state:      {facts.state or 'unknown'}",
    ]
    if scheduled:
        window = _window_days(event, facts)
        when = _iso(facts.deletion_date) if facts.deletion_date else "unknown (see the key in the console)"
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
        f"Source IP:      {detail.source_ip or 'unknown'}",
        f"User agent:     {detail.user_agent or 'unknown'}",
        f"Event time:     {detail.event_time or event.get('time') or 'unknown'}",
        f"Region:         {region}",
        f"Account:        {detail.recipient_account_id or event.get('account') or 'unknown'}",
        f"EventBridge ID: {event.event_id}",
        f"CloudTrail ID:  {detail.event_id or 'unknown'}",
    ]
    if facts.lookup_errors:
        lines.append("Lookups that failed: " + "; ".join(facts.lookup_errors))
    lines += ["", "What to do:"]
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
    attributes = {
        "key_id": facts.key_id,
        "operation": operation,
        "principal": who.principal,
        "region": region,
        "event_type": EVENT_TYPES.get(operation, operation),
    }
    return Alert(subject=subject, body="\n".join(lines) + "\n", attributes=attributes)
