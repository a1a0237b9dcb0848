"""The KMS API operations, and the one table of them.

Each operation is a function ``(RequestContext, validated params) -> response`` in one of this
package's modules, grouped by subject. :data:`OPERATIONS` names every operation the endpoint
answers with its handler and whether it is read-only: a read-only operation changes no key, so
the engine runs it without its lock and CloudTrail marks its record ``readOnly``
(:mod:`kmslab.trail.record` reads :data:`READ_ONLY`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kmslab.kms._context import RequestContext
from kmslab.kms.ops import agreement, aliases, crypto, custom_stores, grants, imports, keys, meta, rotation, signing

Handler = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Operation:
    """One row of the operation table.

    Args:
        handler: answers the operation.
        read_only: the operation changes no key.
    """

    handler: Handler
    read_only: bool = False


def _read(handler: Handler) -> Operation:
    return Operation(handler, read_only=True)


OPERATIONS: dict[str, Operation] = {
    # Keys, their lifecycle and multi-Region replicas
    "CreateKey": Operation(keys.create_key),
    "DescribeKey": _read(keys.describe_key),
    "ListKeys": _read(keys.list_keys),
    "EnableKey": Operation(keys.enable_key),
    "DisableKey": Operation(keys.disable_key),
    "ScheduleKeyDeletion": Operation(keys.schedule_key_deletion),
    "CancelKeyDeletion": Operation(keys.cancel_key_deletion),
    "UpdateKeyDescription": Operation(keys.update_key_description),
    "ReplicateKey": Operation(keys.replicate_key),
    "UpdatePrimaryRegion": Operation(keys.update_primary_region),
    # Aliases
    "CreateAlias": Operation(aliases.create_alias),
    "UpdateAlias": Operation(aliases.update_alias),
    "DeleteAlias": Operation(aliases.delete_alias),
    "ListAliases": _read(aliases.list_aliases),
    # Tags, key policies, last usage
    "TagResource": Operation(meta.tag_resource),
    "UntagResource": Operation(meta.untag_resource),
    "ListResourceTags": _read(meta.list_resource_tags),
    "GetKeyPolicy": _read(meta.get_key_policy),
    "PutKeyPolicy": Operation(meta.put_key_policy),
    "ListKeyPolicies": _read(meta.list_key_policies),
    "GetKeyLastUsage": _read(meta.get_key_last_usage),
    # Rotation
    "EnableKeyRotation": Operation(rotation.enable_key_rotation),
    "DisableKeyRotation": Operation(rotation.disable_key_rotation),
    "GetKeyRotationStatus": _read(rotation.get_key_rotation_status),
    "RotateKeyOnDemand": Operation(rotation.rotate_key_on_demand),
    "ListKeyRotations": _read(rotation.list_key_rotations),
    # Cryptography
    "Encrypt": _read(crypto.encrypt),
    "Decrypt": _read(crypto.decrypt),
    "ReEncrypt": _read(crypto.re_encrypt),
    "GenerateDataKey": _read(crypto.generate_data_key),
    "GenerateDataKeyWithoutPlaintext": _read(crypto.generate_data_key_without_plaintext),
    "GenerateDataKeyPair": _read(crypto.generate_data_key_pair),
    "GenerateDataKeyPairWithoutPlaintext": _read(crypto.generate_data_key_pair_without_plaintext),
    "GenerateRandom": _read(crypto.generate_random),
    "Sign": _read(signing.sign),
    "Verify": _read(signing.verify),
    "GenerateMac": _read(signing.generate_mac),
    "VerifyMac": _read(signing.verify_mac),
    "GetPublicKey": _read(signing.get_public_key),
    "DeriveSharedSecret": _read(agreement.derive_shared_secret),
    "Encapsulate": _read(agreement.encapsulate),
    "Decapsulate": _read(agreement.decapsulate),
    # Grants
    "CreateGrant": Operation(grants.create_grant),
    "ListGrants": _read(grants.list_grants),
    "ListRetirableGrants": _read(grants.list_retirable_grants),
    "RevokeGrant": Operation(grants.revoke_grant),
    "RetireGrant": Operation(grants.retire_grant),
    # Imported key material
    "GetParametersForImport": _read(imports.get_parameters_for_import),
    "ImportKeyMaterial": Operation(imports.import_key_material),
    "DeleteImportedKeyMaterial": Operation(imports.delete_imported_key_material),
    # Custom key stores: refused, not emulated
    **{
        name: _read(handler) if name.startswith("Describe") else Operation(handler)
        for name, handler in custom_stores.HANDLERS.items()
    },
}

#: operations that change no key.
READ_ONLY: frozenset[str] = frozenset(name for name, op in OPERATIONS.items() if op.read_only)

__all__ = ["OPERATIONS", "READ_ONLY", "Handler", "Operation"]
