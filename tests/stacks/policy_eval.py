"""A tiny evaluator for policy statements taken from a synthesized template (allow-only, no conditions)."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

#: Every KMS action a key policy can name (the key-level actions of the KMS API reference).
KMS_ACTIONS = (
    "CancelKeyDeletion", "CreateAlias", "CreateGrant", "Decrypt", "DeleteAlias", "DeleteImportedKeyMaterial",
    "DeriveSharedSecret", "DescribeKey", "DisableKey", "DisableKeyRotation", "EnableKey", "EnableKeyRotation",
    "Encrypt", "GenerateDataKey", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext", "GenerateMac", "GetKeyPolicy", "GetKeyRotationStatus",
    "GetParametersForImport", "GetPublicKey", "ImportKeyMaterial", "ListAliases", "ListGrants", "ListKeyPolicies",
    "ListKeyRotations", "ListResourceTags", "PutKeyPolicy", "ReEncryptFrom", "ReEncryptTo", "ReplicateKey",
    "RetireGrant", "RevokeGrant", "RotateKeyOnDemand", "ScheduleKeyDeletion", "Sign", "SynchronizeMultiRegionKey",
    "TagResource", "UntagResource", "UpdateAlias", "UpdateKeyDescription", "UpdatePrimaryRegion", "Verify",
    "VerifyMac",
)  # fmt: skip
#: Actions that touch plaintext or produce/verify cryptographic output.
CRYPTO_ACTIONS = frozenset(
    {
        "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext",
        "kms:Sign", "kms:Verify", "kms:GenerateMac", "kms:VerifyMac", "kms:DeriveSharedSecret",
    }
)  # fmt: skip


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def principals_of(statement: dict[str, Any]) -> list[Any]:
    """The AWS principals a statement names (resolved template values)."""
    principal = statement.get("Principal", {})
    return _as_list(principal.get("AWS", [])) if isinstance(principal, dict) else [principal]


def expand(actions: Iterable[str]) -> set[str]:
    """Expand wildcard KMS actions (``kms:Get*``) to concrete action names."""
    result: set[str] = set()
    for pattern in actions:
        result |= {f"kms:{a}" for a in KMS_ACTIONS if fnmatchcase(f"kms:{a}", pattern)}
    return result


def allowed_actions(statements: Iterable[dict[str, Any]], principal: Any, *, sid_prefix: str = "") -> set[str]:
    """Actions the key policy allows ``principal`` (matched exactly as it appears in the template).

    Args:
        statements: The key policy statements from the template.
        principal: The principal as the template renders it (e.g. ``{"Fn::GetAtt": [id, "Arn"]}``).
        sid_prefix: Only consider statements whose Sid starts with this.

    Returns:
        The concrete KMS actions allowed by statements naming the principal.
    """
    allowed: set[str] = set()
    for statement in statements:
        if statement.get("Effect") != "Allow" or not str(statement.get("Sid", "")).startswith(sid_prefix):
            continue
        if principal in principals_of(statement):
            allowed |= expand(_as_list(statement["Action"]))
    return allowed
