"""AWS clients, created lazily and reused across invocations.

Clients honour ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` (botocore reads them), so the
same code runs against the local KMS endpoint and moto. The cache key includes those variables,
so a test that changes them gets a fresh client. Tests may also install a ready-made client
(for example ``LocalKms(...).boto3_client(region)``) with :func:`override`.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)
_overrides: dict[str, Any] = {}


def client(service: str, region: str | None = None) -> Any:
    """Return a client for a service.

    Args:
        service: the boto3 service name (``kms``, ``sns``, ``cloudtrail``, ``dynamodb``).
        region: the region; ``AWS_REGION`` when None.

    Returns:
        A botocore client (an installed override when there is one).
    """
    if service in _overrides:
        return _overrides[service]
    region_name = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    variable = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")
    endpoint = os.environ.get(variable) or os.environ.get("AWS_ENDPOINT_URL") or ""
    return _cached_client(service, region_name, endpoint)


@functools.lru_cache(maxsize=32)
def _cached_client(service: str, region: str, endpoint: str) -> Any:
    return boto3.session.Session().client(
        service,
        region_name=region,
        endpoint_url=endpoint or None,
        config=_CONFIG,
    )


def override(service: str, instance: Any) -> None:
    """Use a given client for a service until :func:`reset` (tests, benchmarks, the offline lab).

    Args:
        service: the boto3 service name.
        instance: the client to return.
    """
    _overrides[service] = instance


def reset() -> None:
    """Forget overrides and cached clients."""
    _overrides.clear()
    _cached_client.cache_clear()
