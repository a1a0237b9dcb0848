"""The skeleton both handlers share: check the event, then do the work once per event ID."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from kms_events.errors import IgnoredEventError
from kms_events.events import KmsApiCallEvent, parse_kms_api_call
from kms_events.idempotency import run_once
from kms_events.settings import ON_USE_CHOICES, Settings

Selector = Callable[[KmsApiCallEvent], None]
Processor = Callable[[KmsApiCallEvent, Settings], dict[str, Any]]


def warn_if_on_use_unrecognised(logger: Logger) -> None:
    """Log one warning at cold start when ON_USE holds an unknown value (it then acts as ``notify``).

    Args:
        logger: the function's logger.
    """
    raw = Settings.on_use_from_env()
    if raw not in ON_USE_CHOICES:
        logger.warning(
            "ON_USE is not recognised; acting as notify",
            extra={"on_use": raw, "expected": list(ON_USE_CHOICES)},
        )


def handle(
    event: Any,
    context: LambdaContext,
    *,
    name: str,
    logger: Logger,
    select: Selector,
    process: Processor,
) -> dict[str, Any]:
    """Check an event, then process it once.

    A malformed or unrelated event is logged in one structured line and answered with
    ``{"status": "ignored", ...}``: no alert, no exception, no idempotency record.

    Args:
        event: the raw event.
        context: the Lambda context.
        name: the function's name (idempotency key prefix).
        logger: the function's logger.
        select: raises IgnoredEventError for events this function does not handle.
        process: the work; its errors propagate (so Lambda retries and the DLQ keep the event).

    Returns:
        The processor's result, or the ignore record.
    """
    try:
        parsed = parse_kms_api_call(event)
        select(parsed)
    except IgnoredEventError as ignored:
        event_id = event.get("id") if isinstance(event, dict) else None
        logger.info(
            "event ignored",
            extra={"reason": ignored.reason, "why": ignored.detail, "event_id": event_id},
        )
        return {"status": "ignored", "reason": ignored.reason}
    detail = parsed.detail
    logger.append_keys(event_id=parsed.event_id, key_id=detail.key_id, operation=detail.event_name)
    settings = Settings.from_env()

    def work(raw: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
        return process(KmsApiCallEvent(raw), settings)

    result: dict[str, Any] = run_once(name, settings.idempotency_table, work, parsed.raw_event, context)
    return result
