"""Key rotation: automatic (on a period, evaluated lazily against the clock) and on demand.

Each rotation adds a backing key and keeps the old ones, so old ciphertexts still
decrypt. A multi-Region primary shares each new backing key with its replicas.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kmslab.kms._context import RequestContext
from kmslab.kms._lifecycle import rotate
from kmslab.kms._records import BackingKey, Key
from kmslab.kms._responses import paginate, ts
from kmslab.kms.errors import KMSInvalidStateException, LimitExceededException, UnsupportedOperationException

DEFAULT_PERIOD_DAYS = 365
MAX_ON_DEMAND = 25


def _check_rotatable(key: Key, *, imported_ok: bool = False) -> None:
    if key.key_spec != "SYMMETRIC_DEFAULT":
        raise UnsupportedOperationException(f"{key.arn} key spec {key.key_spec} is not valid for this operation.")
    if key.origin != "AWS_KMS" and not (imported_ok and key.origin == "EXTERNAL"):
        raise UnsupportedOperationException(f"{key.arn} origin is {key.origin} which is not valid for this operation.")
    if key.is_replica:
        raise UnsupportedOperationException(
            f"{key.arn} is a multi-Region replica key. Rotation is managed on its primary key."
        )


def enable_key_rotation(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """EnableKeyRotation (RotationPeriodInDays 90-2560, default 365)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:EnableKeyRotation", key)
    ctx.check_state("EnableKeyRotation", key)
    _check_rotatable(key)
    period = int(p.get("RotationPeriodInDays") or DEFAULT_PERIOD_DAYS)
    if key.rotation_enabled and key.next_rotation is not None and key.rotation_period_days:
        last = key.next_rotation - timedelta(days=key.rotation_period_days)
        key.next_rotation = max(last + timedelta(days=period), ctx.now)
    else:
        key.next_rotation = ctx.now + timedelta(days=period)
    key.rotation_enabled = True
    key.rotation_period_days = period
    ctx.save(key)
    return {}


def disable_key_rotation(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """DisableKeyRotation: stop a key's automatic rotation (its earlier key materials stay usable)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:DisableKeyRotation", key)
    ctx.check_state("DisableKeyRotation", key)
    _check_rotatable(key)
    key.rotation_enabled = False
    key.next_rotation = None
    ctx.save(key)
    return {}


def get_key_rotation_status(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """GetKeyRotationStatus: whether automatic rotation is on, its period and next date (a replica's: its primary's)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:GetKeyRotationStatus", key)
    ctx.check_state("GetKeyRotationStatus", key)
    if key.key_spec != "SYMMETRIC_DEFAULT":
        raise UnsupportedOperationException(f"{key.arn} key spec {key.key_spec} is not valid for this operation.")
    primary = ctx.registry.key(key.primary_region, key.key_id) if key.is_replica and key.primary_region else key
    source = primary or key
    # While a key is pending deletion its rotation status is false; cancelling the deletion restores it.
    enabled = source.rotation_enabled and key.state not in ("PendingDeletion", "PendingReplicaDeletion")
    out: dict[str, Any] = {"KeyRotationEnabled": enabled, "KeyId": key.arn}
    if enabled and source.next_rotation is not None:
        out["RotationPeriodInDays"] = source.rotation_period_days
        out["NextRotationDate"] = ts(source.next_rotation)
    return out


def _pending_state(ctx: RequestContext, key: Key, backing: BackingKey) -> str:
    """PENDING_ROTATION, or PENDING_MULTI_REGION_IMPORT_AND_ROTATION while a replica still lacks the material."""
    for region in key.replica_regions:
        replica = ctx.registry.key(region, key.key_id)
        twin = replica.backing_by_id(backing.material_id) if replica is not None else None
        if replica is not None and (twin is None or twin.material is None):
            return "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"
    return "PENDING_ROTATION"


def _rotate_imported(ctx: RequestContext, key: Key) -> None:
    """Make imported material that is pending rotation current, in the key and its replicas."""
    pending = next((b for b in key.backing if b.pending and b.material is not None), None)
    if pending is None:
        raise KMSInvalidStateException(
            f"{key.arn} has no imported key material in PENDING_ROTATION state. Import new key material "
            "(ImportType NEW_KEY_MATERIAL) before rotating on demand."
        )
    if _pending_state(ctx, key, pending) != "PENDING_ROTATION":
        raise KMSInvalidStateException(
            f"Key material {pending.material_id} must be imported into every replica of {key.arn} first."
        )
    for owner in [key, *(ctx.registry.key(r, key.key_id) for r in key.replica_regions)]:
        entry = owner.backing_by_id(pending.material_id) if owner is not None else None
        if owner is None or entry is None:
            continue
        owner.backing.remove(entry)
        entry.pending, entry.rotation_type, entry.created = False, "ON_DEMAND", ctx.now
        owner.backing.append(entry)
        ctx.save(owner)


def rotate_key_on_demand(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """RotateKeyOnDemand (at most 25 on-demand rotations per key; EXTERNAL keys rotate to imported material)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:RotateKeyOnDemand", key)
    ctx.check_state("RotateKeyOnDemand", key)
    _check_rotatable(key, imported_ok=True)
    if sum(1 for b in key.backing if b.rotation_type == "ON_DEMAND") >= MAX_ON_DEMAND:
        raise LimitExceededException(f"{key.arn} has reached the maximum of {MAX_ON_DEMAND} on-demand rotations.")
    previous = key.current_entry
    if key.origin == "EXTERNAL":
        _rotate_imported(ctx, key)
    else:
        rotate(ctx, key, "ON_DEMAND", ctx.now)
    current = key.current_entry
    ctx.service_event(  # KMS logs the rotation itself as a RotateKey service event too
        key,
        "RotateKey",
        ctx.now,
        rotation_type="ON_DEMAND",
        key_material_id=current.material_id if current else None,
        previous_key_material_id=previous.material_id if previous else None,
    )
    return {"KeyId": key.arn}


def list_key_rotations(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """ListKeyRotations (completed rotations; ALL_KEY_MATERIAL adds the first material)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:ListKeyRotations", key)
    ctx.check_state("ListKeyRotations", key)
    if key.key_spec != "SYMMETRIC_DEFAULT":
        raise UnsupportedOperationException(f"{key.arn} key spec {key.key_spec} is not valid for this operation.")
    everything = p.get("IncludeKeyMaterial") == "ALL_KEY_MATERIAL"
    current = key.current_entry
    entries = []
    for backing in key.backing:
        if (backing.rotation_type is None or backing.pending) and not everything:
            continue
        if backing.pending:
            state = _pending_state(ctx, key, backing) if not key.is_replica else "PENDING_ROTATION"
        else:
            state = "CURRENT" if backing is current else "NON_CURRENT"
        entry: dict[str, Any] = {"KeyId": key.arn, "KeyMaterialId": backing.material_id, "KeyMaterialState": state}
        if backing.rotation_type is not None and not backing.pending:
            entry["RotationDate"] = ts(backing.created)
            entry["RotationType"] = backing.rotation_type
        if key.origin == "EXTERNAL":
            if backing.description is not None:
                entry["KeyMaterialDescription"] = backing.description
            entry["ImportState"] = "IMPORTED" if backing.material is not None else "PENDING_IMPORT"
            if backing.expiration_model:
                entry["ExpirationModel"] = backing.expiration_model
            if backing.valid_to is not None:
                entry["ValidTo"] = ts(backing.valid_to)
        entries.append(entry)
    page, more = paginate(entries, p)
    return {"Rotations": list(page), **more}
