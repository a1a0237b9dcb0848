"""Key lifecycle operations: create, describe, list, enable/disable, deletion, replication."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from kmslab.kms import policy as _policy
from kmslab.kms._context import RequestContext
from kmslab.kms._crypto import generate_material
from kmslab.kms._lifecycle import start_updating
from kmslab.kms._records import BackingKey, Key
from kmslab.kms._responses import key_metadata, paginate, ts
from kmslab.kms._specs import ENCRYPT_DECRYPT, NOT_EMULATED, SPECS
from kmslab.kms.errors import (
    AlreadyExistsException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from kmslab.kms.ops.meta import check_tags

# Specs that take imported key material: symmetric, HMAC, RSA and the NIST/SECG curves (PKCS #8 DER).
_IMPORTABLE = frozenset(name for name, info in SPECS.items() if info.family in ("symmetric", "hmac", "rsa", "ecc"))


def new_material_id() -> str:
    """Return a fresh KeyMaterialId (64 hex).

    Returns:
        The ID.
    """
    return uuid.uuid4().hex + uuid.uuid4().hex


def _apply_policy(ctx: RequestContext, text: str | None, bypass: bool) -> str:
    if text is None:
        return _policy.default_key_policy(ctx.account)
    _policy.validate_key_policy(text)
    if not bypass:
        _policy.check_lockout(text, caller=ctx.caller, account=ctx.account)
    return text


def _spec_and_usage(p: dict[str, Any]) -> tuple[str, str]:
    if p.get("KeySpec") and p.get("CustomerMasterKeySpec"):
        raise ValidationException(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
            "CustomerMasterKeySpec is deprecated."
        )
    spec = p.get("KeySpec") or p.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    if spec in NOT_EMULATED:
        raise UnsupportedOperationException(NOT_EMULATED[spec])
    if spec not in SPECS:
        raise UnsupportedOperationException(f"KeySpec {spec} is not supported in this region.")
    usage = p.get("KeyUsage") or ENCRYPT_DECRYPT
    if usage not in SPECS[spec].usages:
        raise ValidationException(f"KeyUsage {usage} is not compatible with KeySpec {spec}.")
    return spec, usage


def create_key(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """CreateKey: a new KMS key of the requested spec, usage and origin (or multi-Region), with policy and tags."""
    spec, usage = _spec_and_usage(p)
    origin = p.get("Origin") or "AWS_KMS"
    if origin in ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE") or p.get("CustomKeyStoreId") or p.get("XksKeyId"):
        raise UnsupportedOperationException("Custom key stores are not supported by the local KMS.")
    if origin == "EXTERNAL" and spec not in _IMPORTABLE:
        raise UnsupportedOperationException(
            f"Importing key material for KeySpec {spec} is not supported by the local KMS."
        )
    multi_region = bool(p.get("MultiRegion"))
    bypass = bool(p.get("BypassPolicyLockoutSafetyCheck"))
    tags = check_tags(p.get("Tags") or [])
    ctx.authorize(
        "kms:CreateKey",
        None,
        context={
            "kms:KeySpec": spec,
            "kms:CustomerMasterKeySpec": spec,
            "kms:KeyUsage": usage,
            "kms:KeyOrigin": origin,
            "kms:MultiRegion": multi_region,
            "kms:BypassPolicyLockoutSafetyCheck": bypass,
            **({"kms:MultiRegionKeyType": "PRIMARY"} if multi_region else {}),
            **{f"aws:RequestTag/{t['TagKey']}": t["TagValue"] for t in p.get("Tags") or []},
            "aws:TagKeys": [t["TagKey"] for t in p.get("Tags") or []],
        },
    )
    policy_text = _apply_policy(ctx, p.get("Policy"), bypass)
    key_id = f"mrk-{uuid.uuid4().hex}" if multi_region else str(uuid.uuid4())
    key = Key(
        key_id=key_id,
        region=ctx.region,
        account=ctx.account,
        created=ctx.now,
        key_spec=spec,
        key_usage=usage,
        origin=origin,
        description=p.get("Description") or "",
        policy=policy_text,
        state="PendingImport" if origin == "EXTERNAL" else "Enabled",
        multi_region=multi_region,
        primary_region=ctx.region if multi_region else None,
        tags=tags,
        usage_since=ctx.now,
    )
    if origin != "EXTERNAL":
        key.backing.append(BackingKey(new_material_id(), generate_material(spec), ctx.now))
    ctx.add_key(key)
    return {"KeyMetadata": key_metadata(ctx.registry, key)}


def describe_key(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """DescribeKey: a key's KeyMetadata (the key may be named by alias)."""
    key, alias = ctx.resolve(p["KeyId"])
    ctx.authorize("kms:DescribeKey", key, request_alias=alias, grant_tokens=p.get("GrantTokens", ()))
    return {"KeyMetadata": key_metadata(ctx.registry, key)}


def list_keys(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """ListKeys (this region's keys, including keys pending deletion)."""
    ctx.authorize("kms:ListKeys", None)
    keys = ctx.registry.keys_in(ctx.region)
    keys.sort(key=lambda k: (k.created, k.key_id))
    page, more = paginate(keys, p)
    return {"Keys": [{"KeyId": k.key_id, "KeyArn": k.arn} for k in page], **more}


def enable_key(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """EnableKey: a Disabled key becomes Enabled again (an Enabled key stays Enabled)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:EnableKey", key)
    ctx.check_state("EnableKey", key)
    key.state = "Enabled"
    if key.rotation_enabled and key.next_rotation is not None and key.next_rotation <= ctx.now:
        # A disabled key is not rotated; once enabled after its rotation date, it rotates once, now,
        # and the period starts again from today (not one back-dated rotation per missed period).
        key.next_rotation = ctx.now
    ctx.save(key)
    return {}


def disable_key(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """DisableKey: the key becomes Disabled; its cryptographic operations then answer DisabledException."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:DisableKey", key)
    ctx.check_state("DisableKey", key)
    key.state = "Disabled"
    ctx.save(key)
    return {}


def schedule_key_deletion(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """ScheduleKeyDeletion (waiting period 7-30 days, default 30)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    days = p.get("PendingWindowInDays", 30)
    if days < 7 or days > 30:
        bound = "greater than or equal to 7" if days < 7 else "less than or equal to 30"
        raise ValidationException(
            f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy "
            f"constraint: Member must have value {bound}"
        )
    ctx.authorize("kms:ScheduleKeyDeletion", key)
    ctx.check_state("ScheduleKeyDeletion", key)
    key.pending_window_days = days
    live_replicas = [r for r in key.replica_regions if ctx.registry.has_key(r, key.key_id)]
    if key.multi_region and not key.is_replica and live_replicas:
        key.state = "PendingReplicaDeletion"
        key.deletion_date = None
    else:
        key.state = "PendingDeletion"
        key.deletion_date = ctx.now + timedelta(days=days)
    ctx.save(key)
    out: dict[str, Any] = {"KeyId": key.arn, "KeyState": key.state, "PendingWindowInDays": days}
    if key.deletion_date is not None:
        out["DeletionDate"] = ts(key.deletion_date)
    return out


def cancel_key_deletion(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """CancelKeyDeletion (the key is left Disabled)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:CancelKeyDeletion", key)
    ctx.check_state("CancelKeyDeletion", key)
    key.state = "Disabled" if key.origin != "EXTERNAL" or key.all_imported else "PendingImport"
    key.deletion_date = None
    key.pending_window_days = None
    ctx.save(key)
    return {"KeyId": key.arn}


def update_key_description(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """UpdateKeyDescription: replace a key's description."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:UpdateKeyDescription", key)
    ctx.check_state("UpdateKeyDescription", key)
    key.description = p["Description"]
    ctx.save(key)
    return {}


def replicate_key(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """ReplicateKey: copy a multi-Region primary key (ID, material, policy) into another region."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    target = p["ReplicaRegion"]
    bypass = bool(p.get("BypassPolicyLockoutSafetyCheck"))
    ctx.authorize("kms:ReplicateKey", key, context={"kms:ReplicaRegion": target})
    if not key.multi_region:
        raise UnsupportedOperationException(f"{key.arn} is not a multi-Region key.")
    if key.is_replica:
        raise UnsupportedOperationException(f"{key.arn} is a replica key; only a primary key can be replicated.")
    ctx.check_state("ReplicateKey", key)
    if target == key.region or ctx.registry.has_key(target, key.key_id):
        raise AlreadyExistsException(f"The key {ctx.arn_for(key.key_id, target)} already exists in {target}.")
    tags = check_tags(p.get("Tags") or [])
    policy_text = _apply_policy(ctx, p.get("Policy"), bypass) if p.get("Policy") is not None else key.policy
    external = key.origin == "EXTERNAL"  # imported material must be imported into each replica
    replica = Key(
        key_id=key.key_id,
        region=target,
        account=key.account,
        created=ctx.now,
        key_spec=key.key_spec,
        key_usage=key.key_usage,
        origin=key.origin,
        description=p["Description"] if p.get("Description") is not None else key.description,
        policy=policy_text,
        state="PendingImport" if external else "Enabled",
        multi_region=True,
        primary_region=key.region,
        backing=[
            BackingKey(b.material_id, None if external else b.material, b.created, b.rotation_type, pending=b.pending)
            for b in key.backing
        ],
        tags=tags,
        import_fingerprint=key.import_fingerprint,
        usage_since=ctx.now,
    )
    ctx.add_key(replica)
    key.replica_regions = [*key.replica_regions, target]
    ctx.save(key)
    return {
        "ReplicaKeyMetadata": key_metadata(ctx.registry, replica),
        "ReplicaPolicy": replica.policy,
        "ReplicaTags": [{"TagKey": k, "TagValue": v} for k, v in replica.tags.items()],
    }


def update_primary_region(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """UpdatePrimaryRegion: the replica in PrimaryRegion becomes the primary, the primary a replica.

    Both keys must be Enabled; both are Updating for a few seconds of the engine's clock afterwards.
    The new primary takes over the shared properties the primary owns (the replica list, rotation).
    """
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    target = p["PrimaryRegion"]
    ctx.authorize("kms:UpdatePrimaryRegion", key, context={"kms:PrimaryRegion": target})
    if not key.multi_region:
        raise UnsupportedOperationException(f"{key.arn} is not a multi-Region key.")
    if key.is_replica:
        raise UnsupportedOperationException(
            f"{key.arn} is a replica key. Call UpdatePrimaryRegion on the primary key, in {key.primary_region}."
        )
    if target not in key.replica_regions or not ctx.registry.has_key(target, key.key_id):
        raise NotFoundException(f"Key '{ctx.arn_for(key.key_id, target)}' does not exist")
    new = ctx.key_by_id(key.key_id, target)
    ctx.authorize("kms:UpdatePrimaryRegion", new, context={"kms:PrimaryRegion": target})
    ctx.check_state("UpdatePrimaryRegion", key)
    ctx.check_state("UpdatePrimaryRegion", new)
    others = [r for r in key.replica_regions if r != target]
    new.replica_regions = [*others, key.region]
    new.primary_region = target
    new.rotation_enabled, new.rotation_period_days = key.rotation_enabled, key.rotation_period_days
    new.next_rotation = key.next_rotation
    key.replica_regions, key.primary_region = [], target
    key.rotation_enabled, key.rotation_period_days, key.next_rotation = False, None, None
    for region in others:
        replica = ctx.registry.key(region, key.key_id)
        if replica is not None:
            replica.primary_region = target
            ctx.save(replica)
    start_updating(ctx, key, new)
    return {}
