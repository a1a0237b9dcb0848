"""Alias operations: CreateAlias, UpdateAlias, DeleteAlias, ListAliases."""

from __future__ import annotations

from typing import Any

from kmslab.kms._context import RequestContext
from kmslab.kms._records import Alias, alias_arn
from kmslab.kms._responses import paginate, ts
from kmslab.kms.errors import (
    AlreadyExistsException,
    NotAuthorizedException,
    NotFoundException,
    ValidationException,
)
from kmslab.kms.ops.managed import DESCRIPTIONS


def _check_name(name: str) -> None:
    if not name.startswith("alias/") or name == "alias/":
        raise ValidationException(
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    if name.startswith("alias/aws/"):
        raise NotAuthorizedException("")


def create_alias(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """CreateAlias: a new alias name in this region that points at a key."""
    name = p["AliasName"]
    _check_name(name)
    key, _ = ctx.resolve(p["TargetKeyId"], aliases=False)
    ctx.authorize("kms:CreateAlias", key, context={"kms:AliasName": name})
    ctx.check_state("CreateAlias", key)
    if ctx.registry.alias(ctx.region, name) is not None:
        raise AlreadyExistsException(
            f"An alias with the name {alias_arn(ctx.region, ctx.account, name)} already exists"
        )
    alias = Alias(name=name, target_key_id=key.key_id, created=ctx.now, updated=ctx.now)
    ctx.put_alias(ctx.region, alias)
    return {}


def _existing_alias(ctx: RequestContext, name: str) -> Alias:
    """The alias named ``name`` in the request's region, or NotFoundException as AWS words it."""
    alias = ctx.registry.alias(ctx.region, name)
    if alias is None:
        raise NotFoundException(f"Alias {alias_arn(ctx.region, ctx.account, name)} is not found.")
    return alias


def update_alias(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """UpdateAlias: point an alias at another key of the same type and usage."""
    name = p["AliasName"]
    _check_name(name)
    alias = _existing_alias(ctx, name)
    old = ctx.registry.key(ctx.region, alias.target_key_id)
    key, _ = ctx.resolve(p["TargetKeyId"], aliases=False)
    ctx.authorize("kms:UpdateAlias", key, context={"kms:AliasName": name})
    ctx.check_state("UpdateAlias", key)
    if old is not None and (
        old.key_usage != key.key_usage or (old.key_spec == "SYMMETRIC_DEFAULT") != (key.key_spec == "SYMMETRIC_DEFAULT")
    ):
        raise ValidationException(
            f"{key.arn} has key usage {key.key_usage} and key spec {key.key_spec}, but the alias points to a key "
            f"with key usage {old.key_usage} and key spec {old.key_spec}: they must be of the same type and usage."
        )
    updated = Alias(name=name, target_key_id=key.key_id, created=alias.created, updated=ctx.now)
    ctx.put_alias(ctx.region, updated)
    return {}


def delete_alias(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """DeleteAlias: remove an alias (the key it pointed at is not touched)."""
    name = p["AliasName"]
    _check_name(name)
    alias = _existing_alias(ctx, name)
    key = ctx.registry.key(ctx.region, alias.target_key_id)
    if key is not None:
        ctx.key_arns.append(key.arn)
    ctx.authorize("kms:DeleteAlias", key, context={"kms:AliasName": name})
    ctx.drop_alias(ctx.region, name)
    return {}


def list_aliases(ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
    """ListAliases (all of this region's, or one key's)."""
    key_ref = p.get("KeyId")
    target: str | None = None
    if key_ref is not None:
        key, _ = ctx.resolve(key_ref, aliases=False)
        target = key.key_id
    ctx.authorize("kms:ListAliases", None)
    made = list(ctx.registry.aliases_in(ctx.region))
    aliases: list[Alias | str]
    if target is not None:
        aliases = [a for a in made if a.target_key_id == target]
    else:
        # "The response might also include aliases that have no TargetKeyId field": the predefined
        # aliases of AWS managed keys that KMS has not made yet (ListAliases API reference).
        names = {a.name for a in made}
        aliases = [*made, *(f"alias/aws/{s}" for s in DESCRIPTIONS if f"alias/aws/{s}" not in names)]
    aliases.sort(key=lambda a: a.name if isinstance(a, Alias) else a)
    page, more = paginate(aliases, p, default_limit=50, max_limit=100)
    return {"Aliases": [_entry(ctx, a) for a in page], **more}


def _entry(ctx: RequestContext, a: Alias | str) -> dict[str, Any]:
    if isinstance(a, str):
        return {"AliasName": a, "AliasArn": alias_arn(ctx.region, ctx.account, a)}
    return {
        "AliasName": a.name,
        "AliasArn": alias_arn(ctx.region, ctx.account, a.name),
        "TargetKeyId": a.target_key_id,
        "CreationDate": ts(a.created),
        "LastUpdatedDate": ts(a.updated),
    }
