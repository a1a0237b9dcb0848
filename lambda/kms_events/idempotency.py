"""Powertools idempotency on the EventBridge event ID: one delivery, one alert.

The DynamoDB table has partition key ``id`` (Powertools' default) and TTL attribute
``expiration``. Records live ``IDEMPOTENCY_TTL_SECONDS``, longer than the rule targets'
maximum event age, so a late redelivery is still recognised.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from kms_events import clients

IDEMPOTENCY_TTL_SECONDS = 48 * 3600
EVENT_KEY_JMESPATH = "id"


@functools.lru_cache(maxsize=8)
def _persistence(table: str, dynamodb: Any) -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=dynamodb)


def run_once(
    name: str,
    table: str,
    function: Callable[[dict[str, Any], LambdaContext], dict[str, Any]],
    event: dict[str, Any],
    context: LambdaContext,
) -> Any:
    """Run ``function(event, context)`` at most once per event ID; a repeat returns the stored result.

    Args:
        name: the idempotency key prefix (the function's name), so functions sharing a table never collide.
        table: the idempotency table name.
        function: the work to do.
        event: the EventBridge event (its ``id`` is the key).
        context: the Lambda context (its remaining time bounds the in-progress lock).

    Returns:
        The function's result, or the stored result of the first run.
    """
    config = IdempotencyConfig(event_key_jmespath=EVENT_KEY_JMESPATH, expires_after_seconds=IDEMPOTENCY_TTL_SECONDS)
    store = _persistence(table, clients.client("dynamodb"))
    wrapped = idempotent(persistence_store=store, config=config, key_prefix=name)(function)
    return wrapped(event, context)


def reset() -> None:
    """Forget cached persistence layers (tests)."""
    _persistence.cache_clear()
