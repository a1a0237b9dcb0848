"""Key metadata operations: tags, key policies (Get/Put/ListKeyPolicies) and GetKeyLastUsage."""

from __future__ import annotations

from typing import Any

from kmslab.kms import policy as _policy
from kmslab.kms._context import RequestContext
from kmslab.kms._records import uuid_text
from kmslab.kms._responses import paginate, ts
from kmslab.kms.errors import LimitExceededException, NotFoundException, TagException

MAX_TAGS = 50


def check_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    """Validate a Tags list and return it as a dict (a repeated key keeps its last value).

    Args:
        tags: ``[{"TagKey": ..., "TagValue": ...}]``.

    Returns:
        The tags in order.

    Raises:
        TagException: a reserved ``aws:`` key.
        LimitExceededException: more than 50 tags.
    """
    out: dict[str, str] = {}
    for tag in tags:
        if tag["TagKey"].lower().startswith("aws:"):
            raise TagException("Tags beginning with aws: are reserved.")
        out[tag["TagKey"]] = tag["TagValue"]
    if len(out) > MAX_TAGS:
        raise LimitExceededException(f"A KMS key can have at most {MAX_TAGS} tags.")
    return out


def tag_resource(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """TagResource (adds or replaces tags)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize(
        "kms:TagResource",
        key,
        context={
            **{f"aws:RequestTag/{t['TagKey']}": t["TagValue"] for t in p["Tags"]},
            "aws:TagKeys": [t["TagKey"] for t in p["Tags"]],
        },
    )
    ctx.check_state("TagResource", key)
    new = check_tags(p["Tags"])
    merged = {**key.tags, **new}
    if len(merged) > MAX_TAGS:
        raise LimitExceededException(f"A KMS key can have at most {MAX_TAGS} tags.")
    key.tags = merged
    ctx.save(key)
    return {}


def untag_resource(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """UntagResource (removing a tag that is not there is not an error)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:UntagResource", key, context={"aws:TagKeys": list(p["TagKeys"])})
    ctx.check_state("UntagResource", key)
    for name in p["TagKeys"]:
        if name.lower().startswith("aws:"):
            raise TagException("Tags beginning with aws: are reserved.")
    key.tags = {k: v for k, v in key.tags.items() if k not in set(p["TagKeys"])}
    ctx.save(key)
    return {}


def list_resource_tags(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """ListResourceTags: a key's tags, as TagKey/TagValue pairs."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:ListResourceTags", key)
    tags = [{"TagKey": k, "TagValue": v} for k, v in sorted(key.tags.items())]
    page, more = paginate(tags, p, default_limit=50, max_limit=50)
    return {"Tags": list(page), **more}


def _policy_name(p: dict[str, Any]) -> str:
    name = str(p.get("PolicyName") or "default")
    if name != "default":
        raise NotFoundException(f"No such policy exists: {name}. The only valid policy name is 'default'.")
    return name


def get_key_policy(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """GetKeyPolicy (PolicyName must be ``default``)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:GetKeyPolicy", key)
    name = _policy_name(p)
    return {"Policy": key.policy, "PolicyName": name}


def put_key_policy(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """PutKeyPolicy (validated; the lockout safety check unless bypassed)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    bypass = bool(p.get("BypassPolicyLockoutSafetyCheck"))
    ctx.authorize("kms:PutKeyPolicy", key, context={"kms:BypassPolicyLockoutSafetyCheck": bypass})
    _policy_name(p)
    ctx.check_state("PutKeyPolicy", key)
    _policy.validate_key_policy(p["Policy"])
    if not bypass:
        _policy.check_lockout(p["Policy"], caller=ctx.caller, account=ctx.account)
    key.policy = p["Policy"]
    ctx.save(key)
    return {}


def list_key_policies(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """ListKeyPolicies (always ``["default"]``)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:ListKeyPolicies", key)
    page, more = paginate(["default"], p)
    return {"PolicyNames": list(page), **more}


def get_key_last_usage(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """GetKeyLastUsage: the key's last successful cryptographic operation, from the engine's own record.

    Each key of a multi-Region set tracks its own use; ReEncrypt counts for both its keys.
    """
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:GetKeyLastUsage", key)
    usage: dict[str, Any] = {}
    if key.last_usage is not None:
        operation, when, request_id, event_id = key.last_usage
        usage = {"Operation": operation, "Timestamp": ts(when), "KmsRequestId": request_id}
        if event_id:  # the eventID of the call's CloudTrail record (the engine hands it to the trail)
            usage["CloudTrailEventId"] = uuid_text(event_id)
    since = key.usage_since or key.created
    return {
        "KeyId": key.arn,
        "KeyLastUsage": usage,
        "TrackingStartDate": ts(max(since, key.created)),
        "KeyCreationDate": ts(key.created),
    }
