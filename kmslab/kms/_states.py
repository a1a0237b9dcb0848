"""The key-state table: which operations a key in each state allows, and the error otherwise.

Follows AWS's "Key states of AWS KMS keys" table for the states the local KMS has
(Enabled, Disabled, PendingDeletion, PendingImport, PendingReplicaDeletion).
"""

from __future__ import annotations

from kmslab.kms.errors import DisabledException, KmsError, KMSInvalidStateException, UnsupportedOperationException
from kmslab.kms.operation_groups import KEY_USE

ENABLED = "Enabled"
DISABLED = "Disabled"
PENDING_DELETION = "PendingDeletion"
PENDING_IMPORT = "PendingImport"
PENDING_REPLICA_DELETION = "PendingReplicaDeletion"
# Transient, while UpdatePrimaryRegion completes: "you can use the keys in cryptographic operations, but
# you cannot replicate the new primary key or perform certain management operations, such as enabling or
# disabling these keys" (AWS developer guide, "Change the primary key in a set of multi-Region keys").
UPDATING = "Updating"

ALL_STATES = frozenset({ENABLED, DISABLED, PENDING_DELETION, PENDING_IMPORT, PENDING_REPLICA_DELETION, UPDATING})
_MANAGE = frozenset({ENABLED, DISABLED, PENDING_IMPORT, UPDATING})
_USE = frozenset({ENABLED, UPDATING})

# Operations that need an Enabled key (cryptography, grants, rotation settings).
_USE_OPERATIONS = KEY_USE | {"CreateGrant", "EnableKeyRotation", "DisableKeyRotation", "RotateKeyOnDemand"}

# Operation (or IAM action suffix, for ReEncryptFrom/To) -> states in which it succeeds.
ALLOWED: dict[str, frozenset[str]] = {
    **dict.fromkeys(_USE_OPERATIONS, _USE),
    **{
        op: ALL_STATES
        for op in (
            "DescribeKey",
            "GetKeyPolicy",
            "ListKeyPolicies",
            "PutKeyPolicy",
            "ListGrants",
            "RevokeGrant",
            "RetireGrant",
            "ListResourceTags",
            "ListAliases",
            "DeleteAlias",
        )
    },
    **{
        op: _MANAGE
        for op in (
            "ListKeyRotations",
            "CreateAlias",
            "UpdateAlias",
            "TagResource",
            "UntagResource",
            "UpdateKeyDescription",
            "GetParametersForImport",
            "ImportKeyMaterial",
        )
    },
    # "When the specified KMS key is in the PendingDeletion state, this operation does not change the KMS
    # key's state. Otherwise, it changes the KMS key's state to PendingImport." (DeleteImportedKeyMaterial)
    "DeleteImportedKeyMaterial": frozenset({ENABLED, DISABLED, PENDING_IMPORT, PENDING_DELETION, UPDATING}),
    "ScheduleKeyDeletion": frozenset({ENABLED, DISABLED, PENDING_IMPORT}),
    "EnableKeyRotation": frozenset({ENABLED}),
    "DisableKeyRotation": frozenset({ENABLED}),
    "RotateKeyOnDemand": frozenset({ENABLED}),
    "EnableKey": frozenset({ENABLED, DISABLED}),
    "DisableKey": frozenset({ENABLED, DISABLED}),
    "CancelKeyDeletion": frozenset({PENDING_DELETION, PENDING_REPLICA_DELETION}),
    "ReplicateKey": frozenset({ENABLED, PENDING_IMPORT}),
    # AWS's table: "?" (succeeds for keys that can rotate) in Enabled, Disabled and PendingDeletion;
    # while a key is pending deletion its rotation is reported off. PendingImport: see below.
    "GetKeyRotationStatus": frozenset({ENABLED, DISABLED, PENDING_DELETION, PENDING_REPLICA_DELETION, UPDATING}),
    # "Both the primary key and the replica key must be in the Enabled key state when the operation starts."
    "UpdatePrimaryRegion": frozenset({ENABLED}),
}

# Rotation settings of a key in PendingImport (only EXTERNAL keys are): AWS's key-state table answers
# "UnsupportedOperationException: <key ARN> origin is EXTERNAL which is not valid for this operation."
_EXTERNAL_ONLY = frozenset({"EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus"})

# Operations that answer DisabledException (not KMSInvalidStateException) for a disabled key.
_DISABLED_EXCEPTION = frozenset({*_USE_OPERATIONS, "ReplicateKey", "UpdatePrimaryRegion"})

_WORDS = {
    DISABLED: "is disabled.",
    PENDING_DELETION: "is pending deletion.",
    PENDING_IMPORT: "is pending import.",
    PENDING_REPLICA_DELETION: "is pending replica deletion.",
    UPDATING: "is updating its primary Region.",
}


def state_error(operation: str, state: str, arn: str) -> KmsError | None:
    """Return the error a key in ``state`` gives for ``operation``, or None if it is allowed.

    Args:
        operation: the operation (``ReEncryptFrom``/``ReEncryptTo`` for the two sides of ReEncrypt).
        state: the key's KeyState.
        arn: the key ARN, for the message.

    Returns:
        The error to raise, or None.
    """
    if state in ALLOWED.get(operation, ALL_STATES):
        return None
    if state == PENDING_IMPORT and operation in _EXTERNAL_ONLY:
        return UnsupportedOperationException(f"{arn} origin is EXTERNAL which is not valid for this operation.")
    if operation == "CancelKeyDeletion":
        return KMSInvalidStateException(f"{arn} is not pending deletion.")
    if state == DISABLED and operation in _DISABLED_EXCEPTION:
        return DisabledException(f"{arn} is disabled.")
    return KMSInvalidStateException(f"{arn} {_WORDS.get(state, 'is not in a valid state.')}")
