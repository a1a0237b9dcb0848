"""AWS managed keys (``aws/s3``, ``aws/ssm``, ``aws/secretsmanager``): made by KMS on a service's first use.

Not an API operation: a service (S3 SSE-KMS with no key ID, an SSM SecureString or a Secrets Manager
secret with no key) asks for its key through :meth:`kmslab.kms.LocalKms.aws_managed_key`, and
DescribeKey on a predefined alias such as ``alias/aws/s3`` creates the key too, as AWS documents for
DescribeKey. Such a key, as on AWS:

- has ``KeyManager: AWS`` and the alias ``alias/aws/<service>`` (a prefix customers may not use);
- has AWS's key policy for managed keys: the account's principals may use it for cryptography only
  through the service (``kms:ViaService`` and ``kms:CallerAccount`` conditions) and may read its
  metadata directly; nothing lets anyone change its policy, disable it, stop its rotation, tag it or
  schedule its deletion, so those calls fail with ``AccessDeniedException`` ("no resource-based policy
  allows ..."), exactly as AWS answers them;
- rotates every year (AWS KMS has rotated AWS managed keys yearly since May 2022; see the
  EnableKeyRotation API reference), so GetKeyRotationStatus shows it on, every 365 days.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from kmslab.kms._context import RequestContext
from kmslab.kms._crypto import generate_material
from kmslab.kms._records import Alias, BackingKey, Key
from kmslab.kms.ops.keys import new_material_id

__all__ = ["DESCRIPTIONS", "ROTATION_DAYS", "ensure_managed_key", "managed_key_policy", "predefined_service"]

#: the services whose AWS managed keys the local cloud makes, and the descriptions AWS gives them
DESCRIPTIONS = {
    "s3": "Default key that protects my S3 objects when no other key is defined",
    "ssm": "Default key that protects my SSM parameters when no other key is defined",
    "secretsmanager": "Default key that protects my Secrets Manager data when no other key is defined",
}
ROTATION_DAYS = 365
_USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


def managed_key_policy(account: str, region: str, service: str) -> str:
    """Return the key policy AWS gives the AWS managed key of a service.

    Args:
        account: the account.
        region: the key's region.
        service: ``s3``, ``ssm`` or ``secretsmanager``.

    Returns:
        The policy JSON.
    """
    use = {
        "Sid": f"Allow access through {service} for all principals in the account that are authorized to use it",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": _USE,
        "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:CallerAccount": account, "kms:ViaService": f"{service}.{region}.amazonaws.com"}
        },
    }
    read = {
        "Sid": "Allow direct access to key metadata to the account",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Id": f"auto-{service}-1", "Statement": [use, read]}, indent=2)


def predefined_service(ref: object, region: str, account: str) -> str | None:
    """Tell which service's predefined alias a KeyId names (``alias/aws/s3`` or its ARN), if any.

    Args:
        ref: the KeyId parameter.
        region: the request's region.
        account: the account.

    Returns:
        ``s3``, ``ssm``, ``secretsmanager``, or None.
    """
    if not isinstance(ref, str):
        return None
    prefix = f"arn:aws:kms:{region}:{account}:"
    name = ref[len(prefix) :] if ref.startswith(prefix) else ref
    if not name.startswith("alias/aws/"):
        return None
    service = name[len("alias/aws/") :]
    return service if service in DESCRIPTIONS else None


def ensure_managed_key(ctx: RequestContext, service: str) -> Key:
    """Return the region's AWS managed key of ``service``, creating it (and its alias) when missing.

    Args:
        ctx: the context (its region; the caller does not matter: KMS itself makes the key).
        service: ``s3``, ``ssm`` or ``secretsmanager``.

    Returns:
        The key.

    Raises:
        ValueError: the service has no AWS managed key here.
    """
    if service not in DESCRIPTIONS:
        raise ValueError(f"no AWS managed key for {service!r}")
    name = f"alias/aws/{service}"
    alias = ctx.registry.alias(ctx.region, name)
    if alias is not None:
        found = ctx.registry.key(ctx.region, alias.target_key_id)
        if found is not None:
            return found
    key = Key(
        key_id=str(uuid.uuid4()),
        region=ctx.region,
        account=ctx.account,
        created=ctx.now,
        key_spec="SYMMETRIC_DEFAULT",
        key_usage="ENCRYPT_DECRYPT",
        origin="AWS_KMS",
        description=DESCRIPTIONS[service],
        policy=managed_key_policy(ctx.account, ctx.region, service),
        state="Enabled",
        rotation_enabled=True,
        rotation_period_days=ROTATION_DAYS,
        next_rotation=ctx.now + timedelta(days=ROTATION_DAYS),
        usage_since=ctx.now,
        key_manager="AWS",
    )
    key.backing.append(BackingKey(new_material_id(), generate_material("SYMMETRIC_DEFAULT"), ctx.now))
    ctx.add_key(key)
    ctx.put_alias(ctx.region, Alias(name=name, target_key_id=key.key_id, created=ctx.now, updated=ctx.now))
    return key
