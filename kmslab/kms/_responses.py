"""Response shapes shared by several operations: wire blobs and timestamps, KeyMetadata, list pagination."""

from __future__ import annotations

import binascii
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from kmslab.kms._records import Key, key_arn
from kmslab.kms._registry import Registry
from kmslab.kms._specs import SPECS
from kmslab.kms.errors import InvalidMarkerException

T = TypeVar("T")


def b64(data: bytes) -> str:
    """Encode bytes as a wire blob.

    Args:
        data: the bytes.

    Returns:
        Base64 text.
    """
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def ts(value: datetime) -> float:
    """Encode a datetime as a wire timestamp.

    Args:
        value: an aware datetime.

    Returns:
        Epoch seconds.
    """
    return value.timestamp()


def multi_region_configuration(registry: Registry, key: Key) -> dict[str, Any]:
    """Return a multi-Region key's MultiRegionConfiguration.

    Args:
        registry: the endpoint's keys.
        key: a multi-Region key (primary or replica).

    Returns:
        The configuration: type, primary and replicas.
    """
    primary_region = key.primary_region or key.region
    primary = registry.key(primary_region, key.key_id)
    replicas = primary.replica_regions if primary is not None else []
    return {
        "MultiRegionKeyType": "REPLICA" if key.is_replica else "PRIMARY",
        "PrimaryKey": {"Arn": key_arn(primary_region, key.account, key.key_id), "Region": primary_region},
        "ReplicaKeys": [{"Arn": key_arn(r, key.account, key.key_id), "Region": r} for r in replicas],
    }


def key_metadata(registry: Registry, key: Key) -> dict[str, Any]:
    """Return a key's KeyMetadata as DescribeKey shows it.

    Args:
        registry: the endpoint's keys.
        key: the key.

    Returns:
        KeyMetadata in wire shape.
    """
    meta: dict[str, Any] = {
        "AWSAccountId": key.account,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": ts(key.created),
        "Enabled": key.state in ("Enabled", "Updating"),
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.state,
        "Origin": key.origin,
        "KeyManager": key.key_manager,
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        **SPECS[key.key_spec].algorithms(key.key_usage),
        "MultiRegion": key.multi_region,
    }
    if key.deletion_date is not None:
        meta["DeletionDate"] = ts(key.deletion_date)
    if key.state in ("PendingDeletion", "PendingReplicaDeletion") and key.pending_window_days is not None:
        meta["PendingDeletionWindowInDays"] = key.pending_window_days
    if key.origin == "EXTERNAL":
        current = key.current_entry
        if current is not None and current.material is not None and current.expiration_model:
            meta["ExpirationModel"] = current.expiration_model
            if current.valid_to is not None:
                meta["ValidTo"] = ts(current.valid_to)
    if key.multi_region:
        meta["MultiRegionConfiguration"] = multi_region_configuration(registry, key)
    current = key.current
    if current is not None and key.key_spec == "SYMMETRIC_DEFAULT":
        meta["CurrentKeyMaterialId"] = current.material_id
    return meta


def paginate(
    items: Sequence[T], params: Mapping[str, Any], *, default_limit: int = 100, max_limit: int = 1000
) -> tuple[Sequence[T], dict[str, Any]]:
    """Cut one page out of a list, with AWS's Limit / Marker / Truncated / NextMarker.

    Args:
        items: the whole list, in a stable order.
        params: the request (Limit, Marker).
        default_limit: the page size when Limit is absent.
        max_limit: the largest page AWS returns.

    Returns:
        The page, and the Truncated/NextMarker fields for the response.

    Raises:
        InvalidMarkerException: the Marker is not one this engine returned.
    """
    limit = min(int(params.get("Limit") or default_limit), max_limit)
    start = 0
    marker = params.get("Marker")
    if marker is not None:
        if not marker.startswith("kmslab-") or not marker[7:].isdigit():
            raise InvalidMarkerException("The marker that specifies where pagination should next begin is not valid.")
        start = int(marker[7:])
        if start > len(items):
            raise InvalidMarkerException("The marker that specifies where pagination should next begin is not valid.")
    page = items[start : start + limit]
    end = start + len(page)
    if end < len(items):
        return page, {"Truncated": True, "NextMarker": f"kmslab-{end}"}
    return page, {"Truncated": False}
