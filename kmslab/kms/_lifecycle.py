"""What happens to keys as the clock passes, and the rotation rule the operations share.

The engine's sweep runs :func:`sweep` under its lock whenever the registry's earliest
deadline is due: keys whose waiting period is over are deleted (with their aliases, and
the primary of a multi-Region replica is told), the Updating state that UpdatePrimaryRegion
starts ends, imported material past its ValidTo is deleted, and keys with automatic rotation
rotate once per period that has passed. Each is also a KMS service event
(:mod:`kmslab.kms.service_events`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from kmslab.kms._context import RequestContext
from kmslab.kms._crypto import generate_material
from kmslab.kms._records import BackingKey, Key
from kmslab.kms.service_events import DELETE_EXPIRED_KEY_MATERIAL, DELETE_KEY, ROTATE_KEY

# How long both keys of an UpdatePrimaryRegion stay Updating ("a few more seconds" in AWS's guide).
UPDATING_SECONDS = 5
# Automatic rotations applied to one key in one sweep at most (a clock moved decades ahead).
_MAX_ROTATIONS_PER_SWEEP = 1000


def rotate(ctx: RequestContext, key: Key, rotation_type: str, when: datetime) -> BackingKey:
    """Add a new backing key to a key (and to its multi-Region replicas).

    Args:
        ctx: the request (or sweep) context.
        key: a symmetric key with AWS_KMS origin.
        rotation_type: ``AUTOMATIC`` or ``ON_DEMAND``.
        when: the rotation date.

    Returns:
        The new backing key.
    """
    backing = BackingKey(uuid.uuid4().hex + uuid.uuid4().hex, generate_material(key.key_spec), when, rotation_type)
    key.backing.append(backing)
    ctx.save(key)
    for region in key.replica_regions:
        replica = ctx.registry.key(region, key.key_id)
        if replica is not None:
            replica.backing.append(BackingKey(backing.material_id, backing.material, when, rotation_type))
            ctx.save(replica)
    return backing


def start_updating(ctx: RequestContext, *keys: Key) -> None:
    """Put the two keys of an UpdatePrimaryRegion in the Updating state for :data:`UPDATING_SECONDS`.

    Args:
        ctx: the request.
        *keys: the old and the new primary key.
    """
    until = ctx.now + timedelta(seconds=UPDATING_SECONDS)
    for key in keys:
        key.state, key.updating_until = "Updating", until
    ctx.save(*keys)


def sweep(ctx: RequestContext) -> None:
    """Apply every time-based event that is due at ``ctx.now`` (call under the engine lock).

    Args:
        ctx: the sweep's context (its changes are committed by the caller).
    """
    now = ctx.now
    for key in ctx.registry.all_keys():
        if not ctx.registry.has_key(key.region, key.key_id):
            continue
        if key.deletion_date is not None and key.deletion_date <= now:
            delete_key(ctx, key)
            ctx.service_event(key, DELETE_KEY, key.deletion_date)
            continue
        changed = _end_updating(key, now)
        changed = _expire_material(ctx, key, now) or changed
        if changed and not key.all_imported and key.state in ("Enabled", "Disabled"):
            key.state = "PendingImport"  # its current imported material is gone
        changed = _rotate_due(ctx, key, now) or changed
        if changed:
            ctx.save(key)
    ctx.registry.recompute_deadlines()


def _end_updating(key: Key, now: datetime) -> bool:
    if key.updating_until is None or key.updating_until > now:
        return False
    key.updating_until = None
    if key.state == "Updating":
        key.state = "Enabled"
    return True


def _expire_material(ctx: RequestContext, key: Key, now: datetime) -> bool:
    changed = False
    for backing in key.backing:
        if backing.material is not None and backing.valid_to is not None and backing.valid_to <= now:
            backing.material = None
            changed = True
            ctx.service_event(key, DELETE_EXPIRED_KEY_MATERIAL, backing.valid_to, key_material_id=backing.material_id)
    return changed


def _rotate_due(ctx: RequestContext, key: Key, now: datetime) -> bool:
    count = 0
    while (
        key.rotation_enabled
        and key.state == "Enabled"
        and key.next_rotation is not None
        and key.next_rotation <= now
        and key.rotation_period_days
        and count < _MAX_ROTATIONS_PER_SWEEP
    ):
        previous = key.current_entry
        new = rotate(ctx, key, "AUTOMATIC", key.next_rotation)
        ctx.service_event(
            key,
            ROTATE_KEY,
            key.next_rotation,
            rotation_type="AUTOMATIC",
            key_material_id=new.material_id,
            previous_key_material_id=previous.material_id if previous else None,
        )
        key.next_rotation += timedelta(days=key.rotation_period_days)
        count += 1
    return count > 0


def delete_key(ctx: RequestContext, key: Key) -> None:
    """Remove a key whose waiting period is over, with its aliases; a replica's primary forgets it.

    The last replica of a primary in PendingReplicaDeletion starts the primary's own waiting period.

    Args:
        ctx: the sweep's context.
        key: the key.
    """
    ctx.delete_key(key)
    if key.is_replica and key.primary_region is not None:
        primary = ctx.registry.key(key.primary_region, key.key_id)
        if primary is not None:
            primary.replica_regions = [r for r in primary.replica_regions if r != key.region]
            if primary.state == "PendingReplicaDeletion" and not primary.replica_regions:
                primary.state = "PendingDeletion"
                base = key.deletion_date or ctx.now
                primary.deletion_date = base + timedelta(days=primary.pending_window_days or 30)
            ctx.save(primary)
