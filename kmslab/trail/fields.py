"""Which request and response fields a CloudTrail record of a KMS call carries: per-operation allow-lists.

Request parameters are copied through a per-operation allow-list: plaintext, ciphertext, messages,
signatures, MACs, key material and import tokens never reach a record (:data:`SECRET_FIELDS` are
dropped even if an allow-list named them). ``responseElements`` is null for cryptographic and read
operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kmslab.trail.text import cloudtrail_date, lower_camel, plain_copy

__all__ = ["REQUEST_FIELDS", "RESPONSE_FIELDS", "SECRET_FIELDS", "request_parameters", "response_elements"]

_GRANT = ("GrantTokens",)
_CONTEXT = ("EncryptionContext",)
_DATA_KEY = ("KeyId", "KeySpec", "NumberOfBytes", *_CONTEXT, *_GRANT, "DryRun")
_DATA_KEY_PAIR = ("KeyId", "KeyPairSpec", *_CONTEXT, *_GRANT, "DryRun")
_KEY_ONLY = ("KeyId",)

#: operation -> request fields CloudTrail records (wire names). Anything else is dropped.
REQUEST_FIELDS: dict[str, tuple[str, ...]] = {
    "Encrypt": ("KeyId", "EncryptionAlgorithm", *_CONTEXT, *_GRANT, "DryRun"),
    "Decrypt": ("KeyId", "EncryptionAlgorithm", *_CONTEXT, *_GRANT, "DryRun"),
    "ReEncrypt": (
        "SourceKeyId",
        "DestinationKeyId",
        "SourceEncryptionAlgorithm",
        "DestinationEncryptionAlgorithm",
        "SourceEncryptionContext",
        "DestinationEncryptionContext",
        *_GRANT,
        "DryRun",
    ),
    "GenerateDataKey": _DATA_KEY,
    "GenerateDataKeyWithoutPlaintext": _DATA_KEY,
    "GenerateDataKeyPair": _DATA_KEY_PAIR,
    "GenerateDataKeyPairWithoutPlaintext": _DATA_KEY_PAIR,
    "GenerateRandom": ("NumberOfBytes", "CustomKeyStoreId"),
    "Sign": ("KeyId", "SigningAlgorithm", "MessageType", *_GRANT, "DryRun"),
    "Verify": ("KeyId", "SigningAlgorithm", "MessageType", *_GRANT, "DryRun"),
    "GenerateMac": ("KeyId", "MacAlgorithm", *_GRANT, "DryRun"),
    "VerifyMac": ("KeyId", "MacAlgorithm", *_GRANT, "DryRun"),
    "DeriveSharedSecret": ("KeyId", "KeyAgreementAlgorithm", *_GRANT, "DryRun"),
    "Encapsulate": ("KeyId", "EncapsulationAlgorithm", *_GRANT, "DryRun"),
    "Decapsulate": ("KeyId", "EncapsulationAlgorithm", *_GRANT, "DryRun"),
    "GetKeyLastUsage": _KEY_ONLY,
    "CreateKey": (
        "Description",
        "KeyUsage",
        "KeySpec",
        "CustomerMasterKeySpec",
        "Origin",
        "MultiRegion",
        "CustomKeyStoreId",
        "XksKeyId",
        "BypassPolicyLockoutSafetyCheck",
        "Policy",
        "Tags",
    ),
    "ScheduleKeyDeletion": ("KeyId", "PendingWindowInDays"),
    "CancelKeyDeletion": _KEY_ONLY,
    "EnableKey": _KEY_ONLY,
    "DisableKey": _KEY_ONLY,
    "DescribeKey": ("KeyId", *_GRANT),
    "EnableKeyRotation": ("KeyId", "RotationPeriodInDays"),
    "DisableKeyRotation": _KEY_ONLY,
    "GetKeyRotationStatus": _KEY_ONLY,
    "RotateKeyOnDemand": _KEY_ONLY,
    "ListKeyRotations": ("KeyId", "Limit", "Marker"),
    "GetKeyPolicy": ("KeyId", "PolicyName"),
    "PutKeyPolicy": ("KeyId", "PolicyName", "Policy", "BypassPolicyLockoutSafetyCheck"),
    "ListKeyPolicies": ("KeyId", "Limit", "Marker"),
    "GetPublicKey": ("KeyId", *_GRANT),
    "CreateGrant": (
        "KeyId",
        "GranteePrincipal",
        "RetiringPrincipal",
        "Operations",
        "Constraints",
        "Name",
        *_GRANT,
        "DryRun",
    ),
    "RetireGrant": ("KeyId", "GrantId", "DryRun"),
    "RevokeGrant": ("KeyId", "GrantId", "DryRun"),
    "ListGrants": ("KeyId", "GrantId", "GranteePrincipal", "Limit", "Marker"),
    "ListRetirableGrants": ("RetiringPrincipal", "Limit", "Marker"),
    "GetParametersForImport": ("KeyId", "WrappingAlgorithm", "WrappingKeySpec"),
    "ImportKeyMaterial": (
        "KeyId",
        "ValidTo",
        "ExpirationModel",
        "ImportType",
        "KeyMaterialDescription",
        "KeyMaterialId",
    ),
    "DeleteImportedKeyMaterial": ("KeyId", "KeyMaterialId"),
    "CreateAlias": ("AliasName", "TargetKeyId"),
    "UpdateAlias": ("AliasName", "TargetKeyId"),
    "DeleteAlias": ("AliasName",),
    "ListAliases": ("KeyId", "Limit", "Marker"),
    "ListKeys": ("Limit", "Marker"),
    "TagResource": ("KeyId", "Tags"),
    "UntagResource": ("KeyId", "TagKeys"),
    "ListResourceTags": ("KeyId", "Limit", "Marker"),
    "UpdateKeyDescription": ("KeyId", "Description"),
    "ReplicateKey": ("KeyId", "ReplicaRegion", "Description", "Policy", "BypassPolicyLockoutSafetyCheck", "Tags"),
    "UpdatePrimaryRegion": ("KeyId", "PrimaryRegion"),
}

#: operation -> response fields CloudTrail records; every other operation logs ``responseElements: null``.
RESPONSE_FIELDS: dict[str, tuple[str, ...]] = {
    "CreateKey": ("KeyMetadata",),
    "ScheduleKeyDeletion": ("KeyId", "DeletionDate", "KeyState", "PendingWindowInDays"),
    "CancelKeyDeletion": ("KeyId",),
    "CreateGrant": ("GrantId",),
    "RotateKeyOnDemand": ("KeyId",),
    "ReplicateKey": ("ReplicaKeyMetadata",),
    "UpdateKeyDescription": (),
}

#: wire fields that hold secrets or bulk bytes; never copied even if an allow-list named them.
SECRET_FIELDS = frozenset(
    {
        "Plaintext",
        "CiphertextBlob",
        "CiphertextForRecipient",
        "KeyMaterial",
        "ImportToken",
        "EncryptedKeyMaterial",
        "Message",
        "Signature",
        "Mac",
        "PrivateKeyPlaintext",
        "PrivateKeyCiphertextBlob",
        "SharedSecret",
        "GrantToken",
        "Recipient",
        "PublicKey",
    }
)

#: operations that always log their algorithm, even when the request left it to the default.
_DEFAULT_ALGORITHM = {"Encrypt": "EncryptionAlgorithm", "Decrypt": "EncryptionAlgorithm"}

#: response fields holding timestamps, which CloudTrail prints as "Dec 4, 2023, 12:00:00 AM".
_DATE_FIELDS = frozenset({"CreationDate", "DeletionDate", "ValidTo", "ImportDate", "RotationDate"})


def request_parameters(operation: str, request: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the ``requestParameters`` CloudTrail logs for a request: allow-listed fields only.

    Args:
        operation: the KMS operation.
        request: the request in wire shape (may hold plaintext; it is not copied).

    Returns:
        The safe fields, lowerCamelCase, or None when the request carried none.
    """
    allowed = REQUEST_FIELDS.get(operation, ("KeyId",))
    params: dict[str, Any] = {}
    for name in allowed:
        if name in SECRET_FIELDS or name not in request:
            continue
        params[lower_camel(name)] = plain_copy(request[name])
    algorithm = _DEFAULT_ALGORITHM.get(operation)
    if algorithm is not None:
        params.setdefault(lower_camel(algorithm), "SYMMETRIC_DEFAULT")
    return params or None


def response_elements(operation: str, response: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Return the ``responseElements`` CloudTrail logs: null for cryptographic and read operations.

    Args:
        operation: the KMS operation.
        response: the response in wire shape, or None when the call failed.

    Returns:
        The allow-listed fields, lowerCamelCase with CloudTrail's date text, or None.
    """
    allowed = RESPONSE_FIELDS.get(operation)
    if response is None or not allowed:
        return None
    elements = {
        lower_camel(name): _response_value(name, response[name])
        for name in allowed
        if name in response and name not in SECRET_FIELDS
    }
    return elements or None


def _response_value(name: str, value: Any) -> Any:
    if name in _DATE_FIELDS and isinstance(value, int | float | datetime):
        return cloudtrail_date(value)
    if isinstance(value, Mapping):
        return {
            lower_camel(str(k)): _response_value(str(k), v) for k, v in value.items() if str(k) not in SECRET_FIELDS
        }
    if isinstance(value, list | tuple):
        return [_response_value(name, v) for v in value]
    return value
