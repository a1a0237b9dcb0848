"""Grant operations: CreateGrant, ListGrants, ListRetirableGrants, RevokeGrant, RetireGrant.

Grants are stored on their key in ListGrants shape. The engine only stores them;
enforcement belongs to the authorizer, which gets the key's grants and the request's
grant tokens. A grant token is self-authenticating: ``base64url(region|key-id|grant-id
+ HMAC-SHA256 tag)`` under a key derived from the root key.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Iterable
from typing import Any

from kmslab.kms._context import RequestContext
from kmslab.kms._records import Key
from kmslab.kms._registry import Registry
from kmslab.kms._responses import paginate, ts
from kmslab.kms.errors import (
    InvalidGrantIdException,
    InvalidGrantTokenException,
    NotFoundException,
    ValidationException,
)
from kmslab.kms.operation_groups import BY_KEY_USAGE, DATA_KEY
from kmslab.kms.policy import NEW_GRANT_CONSTRAINTS_KEY

_ALWAYS = frozenset({"DescribeKey", "CreateGrant", "RetireGrant"})
_TAG = 16
# CreateGrant API reference, Constraints: "Each constraint value can include up to 8 encryption
# context pairs. The encryption context value in each constraint cannot exceed 384 characters."
_MAX_CONSTRAINT_PAIRS = 8
_MAX_CONSTRAINT_VALUE = 384


def make_token(registry: Registry, region: str, key_id: str, grant_id: str) -> str:
    """Return the grant token for a grant.

    Args:
        registry: the endpoint's state (its grant-token subkey).
        region: the key's region.
        key_id: the key ID.
        grant_id: the grant ID.

    Returns:
        The token.
    """
    body = f"{region}|{key_id}|{grant_id}|{os.urandom(8).hex()}".encode()
    tag = hmac.new(registry.grant_token_key, body, "sha256").digest()[:_TAG]
    return base64.urlsafe_b64encode(body + tag).decode().rstrip("=")


def parse_token(registry: Registry, token: str) -> tuple[str, str, str]:
    """Check a grant token and return what it names.

    Args:
        registry: the endpoint's state (its grant-token subkey).
        token: a grant token.

    Returns:
        (region, key ID, grant ID).

    Raises:
        InvalidGrantTokenException: the token was not issued by this engine.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidGrantTokenException("Invalid grant token.") from None
    body, tag = raw[:-_TAG], raw[-_TAG:]
    if len(raw) <= _TAG or not hmac.compare_digest(
        hmac.new(registry.grant_token_key, body, "sha256").digest()[:_TAG], tag
    ):
        raise InvalidGrantTokenException("Invalid grant token.")
    region, key_id, grant_id, _ = body.decode().split("|")
    return region, key_id, grant_id


def check_tokens(registry: Registry, tokens: Iterable[str]) -> tuple[str, ...]:
    """Refuse malformed grant tokens in a request.

    Args:
        registry: the endpoint's state (its grant-token subkey).
        tokens: the GrantTokens parameter.

    Returns:
        The tokens.

    Raises:
        InvalidGrantTokenException: a token was not issued by this engine.
    """
    out = tuple(tokens)
    for token in out:
        parse_token(registry, token)
    return out


def _check_grant(key: Key, grantee: str | None, operations: list[str], constraints: dict[str, Any]) -> None:
    """Refuse a grant without a grantee, without operations, with operations the key cannot do, or two constraints."""
    if not grantee:
        raise ValidationException(
            "1 validation error detected: Value null at 'granteePrincipal' failed to satisfy constraint: "
            "Member must not be null"
        )
    if not operations:
        raise ValidationException("The Operations list must name at least one operation.")
    if key.key_spec == "SYMMETRIC_DEFAULT":
        allowed = _ALWAYS | (BY_KEY_USAGE["ENCRYPT_DECRYPT"] - {"GetPublicKey"})
    elif key.key_usage == "ENCRYPT_DECRYPT":
        allowed = _ALWAYS | (BY_KEY_USAGE["ENCRYPT_DECRYPT"] - DATA_KEY)
    else:
        allowed = _ALWAYS | BY_KEY_USAGE.get(key.key_usage, frozenset())
    bad = [op for op in operations if op not in allowed]
    if bad:
        raise ValidationException(
            f"Grant operations {bad} are not valid for a KMS key with key spec {key.key_spec} "
            f"and key usage {key.key_usage}."
        )
    if "EncryptionContextSubset" in constraints and "EncryptionContextEquals" in constraints:
        raise ValidationException("A grant can have EncryptionContextSubset or EncryptionContextEquals, not both.")


def _check_constraint_limits(constraints: dict[str, Any]) -> None:
    """Refuse a constraint with more than 8 pairs or a value longer than 384 characters."""
    errors = []
    for kind in ("EncryptionContextSubset", "EncryptionContextEquals"):
        pairs = constraints.get(kind)
        if pairs is None:
            continue
        path = f"constraints.{kind[:1].lower()}{kind[1:]}"
        if len(pairs) > _MAX_CONSTRAINT_PAIRS:
            errors.append(
                f"Value at '{path}' failed to satisfy constraint: "
                f"Member must have at most {_MAX_CONSTRAINT_PAIRS} encryption context pairs"
            )
        for key, value in pairs.items():
            if len(value) > _MAX_CONSTRAINT_VALUE:
                errors.append(
                    f"Value at '{path}.{key[:64]}' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {_MAX_CONSTRAINT_VALUE}"
                )
    if errors:
        noun = "error" if len(errors) == 1 else "errors"
        raise ValidationException(f"{len(errors)} validation {noun} detected: " + "; ".join(errors))


def _same_named_grant(
    key: Key,
    name: str | None,
    grantee: str | None,
    retiring: str | None,
    operations: list[str],
    constraints: dict[str, Any],
) -> str | None:
    """Return the ID of a grant with this name and identical parameters (CreateGrant is idempotent by name)."""
    if name is None:
        return None
    for entry in key.grants.values():
        if (
            entry.get("Name") == name
            and entry["GranteePrincipal"] == grantee
            and entry.get("RetiringPrincipal") == retiring
            and sorted(entry["Operations"]) == sorted(operations)
            and entry.get("Constraints", {}) == constraints
        ):
            return str(entry["GrantId"])
    return None


def create_grant(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """CreateGrant (idempotent by Name with identical parameters)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    operations = list(dict.fromkeys(p["Operations"]))
    grantee = p.get("GranteePrincipal") or p.get("GranteeServicePrincipal")
    constraints = p.get("Constraints") or {}
    _check_constraint_limits(constraints)
    tokens = check_tokens(ctx.registry, p.get("GrantTokens", ()))
    context: dict[str, Any] = {
        "kms:GrantOperations": operations,
        "kms:GrantIsForAWSResource": ctx.caller.invoked_by is not None,
        # A grant that allows CreateGrant under a constraint only passes on an equally strict one.
        NEW_GRANT_CONSTRAINTS_KEY: constraints,
    }
    if grantee:
        context["kms:GranteePrincipal"] = grantee
    if p.get("RetiringPrincipal"):
        context["kms:RetiringPrincipal"] = p["RetiringPrincipal"]
    if constraints:
        context["kms:GrantConstraintType"] = next(iter(constraints))
    ctx.authorize("kms:CreateGrant", key, grant_tokens=tokens, context=context)
    ctx.check_state("CreateGrant", key)
    _check_grant(key, grantee, operations, constraints)
    ctx.dry_run(p)
    name = p.get("Name")
    existing = _same_named_grant(key, name, grantee, p.get("RetiringPrincipal"), operations, constraints)
    if existing is not None:
        return {"GrantId": existing, "GrantToken": make_token(ctx.registry, key.region, key.key_id, existing)}
    grant_id = os.urandom(32).hex()
    entry = {
        "KeyId": key.arn,
        "GrantId": grant_id,
        "CreationDate": ts(ctx.now),
        "GranteePrincipal": grantee,
        "IssuingAccount": f"arn:aws:iam::{ctx.account}:root",
        "Operations": operations,
    }
    if name is not None:
        entry["Name"] = name
    if p.get("RetiringPrincipal"):
        entry["RetiringPrincipal"] = p["RetiringPrincipal"]
    if constraints:
        entry["Constraints"] = constraints
    key.grants = {**key.grants, grant_id: entry}
    ctx.save(key)
    return {"GrantId": grant_id, "GrantToken": make_token(ctx.registry, key.region, key.key_id, grant_id)}


def list_grants(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """ListGrants (optionally one GrantId or one GranteePrincipal)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:ListGrants", key)
    grants = list(key.grants.values())
    if p.get("GrantId") is not None:
        grants = [g for g in grants if g["GrantId"] == p["GrantId"]]
    if p.get("GranteePrincipal") is not None:
        grants = [g for g in grants if g["GranteePrincipal"] == p["GranteePrincipal"]]
    page, more = paginate(grants, p, default_limit=50, max_limit=100)
    return {"Grants": [dict(g) for g in page], **more}


def list_retirable_grants(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """ListRetirableGrants (grants in this region whose RetiringPrincipal matches)."""
    principal = p.get("RetiringPrincipal") or p.get("RetiringServicePrincipal")
    if not principal:
        raise ValidationException(
            "1 validation error detected: Value null at 'retiringPrincipal' failed to satisfy constraint: "
            "Member must not be null"
        )
    ctx.authorize("kms:ListRetirableGrants", None)
    grants = [
        g
        for key in ctx.registry.keys_in(ctx.region)
        for g in key.grants.values()
        if g.get("RetiringPrincipal") == principal
    ]
    page, more = paginate(grants, p, default_limit=50, max_limit=100)
    return {"Grants": [dict(g) for g in page], **more}


def _remove(ctx: RequestContext, region: str, key_id: str, grant_id: str) -> None:
    key = ctx.key_by_id(key_id, region)
    if grant_id not in key.grants:
        raise NotFoundException(f"Grant ID {grant_id} not found")
    key.grants = {g: e for g, e in key.grants.items() if g != grant_id}
    ctx.save(key)


def revoke_grant(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """RevokeGrant (by KeyId and GrantId)."""
    key, _ = ctx.resolve(p["KeyId"], aliases=False)
    ctx.authorize("kms:RevokeGrant", key)
    if p["GrantId"] not in key.grants:
        raise InvalidGrantIdException(f"Grant ID {p['GrantId']} is not valid for {key.arn}")
    ctx.dry_run(p)
    _remove(ctx, key.region, key.key_id, p["GrantId"])
    return {}


def retire_grant(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """RetireGrant (by GrantToken, or by KeyId and GrantId)."""
    if p.get("GrantToken"):
        region, key_id, grant_id = parse_token(ctx.registry, p["GrantToken"])
        if region != ctx.region:
            raise InvalidGrantTokenException("Invalid grant token.")
        key = ctx.key_by_id(key_id)
    elif p.get("KeyId") and p.get("GrantId"):
        key, _ = ctx.resolve(p["KeyId"], aliases=False)
        grant_id = p["GrantId"]
    else:
        raise ValidationException("Specify either GrantToken, or both KeyId and GrantId.")
    ctx.authorize("kms:RetireGrant", key, context={"kms:GrantId": grant_id})
    if grant_id not in key.grants:
        raise NotFoundException(f"Grant ID {grant_id} not found")
    ctx.dry_run(p)
    _remove(ctx, key.region, key.key_id, grant_id)
    return {}
