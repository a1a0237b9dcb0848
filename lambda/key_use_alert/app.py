"""Lambda handler: alert on use of a KMS key that is pending deletion.

Trigger: an EventBridge rule on ``aws.kms`` "AWS API Call via CloudTrail" events whose
``detail.errorMessage`` ends with ``is pending deletion.``. Environment: ``ALERT_TOPIC_ARN``,
``IDEMPOTENCY_TABLE``, ``ON_USE`` (``notify`` | ``cancel``; see :mod:`kms_events.settings`).
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
from kms_events.runner import handle, warn_if_on_use_unrecognised
from kms_events.settings import ON_USE_CANCEL, Settings

from key_use_alert.alert import build_use_alert
from key_use_alert.remediation import Remediation, cancel_deletion

NAME = "key_use_alert"
logger = Logger(service="kmslab-key-use-alert")
warn_if_on_use_unrecognised(logger)


def select(event: KmsApiCallEvent) -> None:
    """Accept only requests KMS refused because the key is pending deletion.

    Args:
        event: the KMS API call event.

    Raises:
        IgnoredEventError: the event is another error or a successful call.
    """
    if not event.detail.is_pending_deletion_error:
        raise IgnoredEventError("not_pending_deletion_error", f"errorCode={event.detail.error_code or None!r}")


def process(event: KmsApiCallEvent, settings: Settings) -> dict[str, Any]:
    """Gather the key's facts, optionally cancel the deletion, publish one alert.

    Args:
        event: the KMS API call event.
        settings: the configuration.

    Returns:
        A small summary (stored as the idempotent result).
    """
    detail = event.detail
    kms = clients.client("kms", detail.region or None)
    facts = gather_key_facts(kms, detail.key_arn, detail.key_id)
    remediation: Remediation | None = None
    if settings.on_use == ON_USE_CANCEL:
        remediation = cancel_deletion(kms, facts.key_id, facts.state)
    note = "" if settings.on_use_recognised else f"ON_USE={settings.on_use_raw!r} is not recognised: acting as notify."
    alert = build_use_alert(event, facts, detail.reference_time(datetime.now(UTC)), remediation, note)
    message_id = publish_alert(clients.client("sns"), settings.alert_topic_arn, alert)
    logger.info(
        "alert published",
        extra={
            "message_id": message_id,
            "principal": alert.attributes["principal"],
            "cancelled": bool(remediation and remediation.succeeded),
        },
    )
    return {
        "status": "alerted",
        "message_id": message_id,
        "key_id": facts.key_id,
        "cancelled": bool(remediation and remediation.succeeded),
    }


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
