"""Lambda handler: alert when a KMS key is scheduled for deletion or disabled.

Trigger: an EventBridge rule on ``aws.kms`` "AWS API Call via CloudTrail" events with
``eventName`` ScheduleKeyDeletion or DisableKey. The alert says who did it, the deletion date
and window, and when the key was last used (CloudTrail LookupEvents, 90 days), so a responder
sees at once whether a live key is going away. Environment: ``ALERT_TOPIC_ARN``, ``IDEMPOTENCY_TABLE``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from kms_events import clients
from kms_events.errors import IgnoredEventError
from kms_events.events import KmsApiCallEvent
from kms_events.facts import gather_key_facts
from kms_events.publish import publish_alert
from kms_events.runner import handle
from kms_events.settings import Settings

from deletion_watch.alert import EVENT_TYPES, build_deletion_alert
from deletion_watch.last_use import find_last_use

NAME = "deletion_watch"
logger = Logger(service="kmslab-deletion-watch")


def select(event: KmsApiCallEvent) -> None:
    """Accept only successful ScheduleKeyDeletion and DisableKey calls.

    Args:
        event: the KMS API call event.

    Raises:
        IgnoredEventError: another operation, or a call KMS refused.
    """
    detail = event.detail
    if detail.event_name not in EVENT_TYPES:
        raise IgnoredEventError("not_watched_operation", f"eventName={detail.event_name!r}")
    if detail.error_code or detail.error_message:
        raise IgnoredEventError("call_failed", f"errorCode={detail.error_code!r}")


def process(event: KmsApiCallEvent, settings: Settings) -> dict[str, Any]:
    """Gather the key's facts and last use, publish one alert.

    Args:
        event: the KMS API call event.
        settings: the configuration.

    Returns:
        A small summary (stored as the idempotent result).
    """
    detail = event.detail
    region = detail.region or None
    facts = gather_key_facts(clients.client("kms", region), detail.key_arn, detail.key_id)
    now = detail.reference_time(datetime.now(UTC))
    search = find_last_use(
        clients.client("cloudtrail", region), facts.key_arn or detail.key_arn, now, skip_event_id=detail.event_id
    )
    alert = build_deletion_alert(event, facts, search, now)
    message_id = publish_alert(clients.client("sns"), settings.alert_topic_arn, alert)
    last_used = search.last_use.event_time.isoformat() if search.last_use else None
    logger.info("alert published", extra={"message_id": message_id, "last_used": last_used})
    return {"status": "alerted", "message_id": message_id, "key_id": facts.key_id, "last_used": last_used}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Handle one EventBridge event.

    Args:
        event: the EventBridge event.
        context: the Lambda context.

    Returns:
        ``{"status": "alerted", ...}`` or ``{"status": "ignored", "reason": ...}``.
    """
    return handle(event, context, name=NAME, logger=logger, select=select, process=process)
