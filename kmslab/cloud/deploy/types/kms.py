"""KMS keys, replica keys and aliases, created through the local KMS (its key policy checks apply).

``AWS::KMS::Key`` follows the CloudFormation User Guide: ``Ref`` is the key ID; ``Arn`` and ``KeyId``
are attributes; deleting the resource schedules the key's deletion with ``PendingWindowInDays``
(default 30); changing ``MultiRegion`` on an existing key fails, as CloudFormation documents.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from kmslab.cloud.deploy.resources import NeedsReplacement, ProvisionContext, Provisioned
from kmslab.cloud.deploy.types._base import Handler, policy_text, tag_list


class KmsKey(Handler):
    """``AWS::KMS::Key``."""

    type_name = "AWS::KMS::Key"
    note = "local KMS: key policy (lockout check), spec, usage, rotation period, deletion window"
    immutable = frozenset({"KeySpec", "KeyUsage", "Origin"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        kms = ctx.client("kms")
        args: dict[str, Any] = {
            "KeySpec": properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            "KeyUsage": properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            "MultiRegion": bool(properties.get("MultiRegion", False)),
            "Origin": properties.get("Origin", "AWS_KMS"),
        }
        if "KeyPolicy" in properties:
            args["Policy"] = policy_text(properties["KeyPolicy"])
        if properties.get("Description"):
            args["Description"] = properties["Description"]
        if properties.get("BypassPolicyLockoutSafetyCheck"):
            args["BypassPolicyLockoutSafetyCheck"] = True
        if properties.get("Tags"):
            args["Tags"] = tag_list(properties, "TagKey", "TagValue")
        metadata = kms.create_key(**args)["KeyMetadata"]
        key_id = metadata["KeyId"]
        self._settle(kms, key_id, {}, properties)
        return Provisioned(key_id, {"Arn": metadata["Arn"], "KeyId": key_id})

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        if bool(old.get("MultiRegion", False)) != bool(new.get("MultiRegion", False)):
            # CloudFormation: "If you change the value of the MultiRegion property on an existing KMS key,
            # the update request fails."
            raise ValueError("You cannot change the MultiRegion property of an existing KMS key")
        kms = ctx.client("kms")
        if old.get("KeyPolicy") != new.get("KeyPolicy") and "KeyPolicy" in new:
            kms.put_key_policy(KeyId=physical_id, PolicyName="default", Policy=policy_text(new["KeyPolicy"]))
        if old.get("Description") != new.get("Description"):
            kms.update_key_description(KeyId=physical_id, Description=str(new.get("Description", "")))
        self._settle(kms, physical_id, old, new)
        metadata = kms.describe_key(KeyId=physical_id)["KeyMetadata"]
        return Provisioned(physical_id, {"Arn": metadata["Arn"], "KeyId": physical_id})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        kms = ctx.client("kms")
        state = kms.describe_key(KeyId=physical_id)["KeyMetadata"]["KeyState"]
        if state not in ("PendingDeletion", "PendingReplicaDeletion"):
            kms.schedule_key_deletion(
                KeyId=physical_id, PendingWindowInDays=int(properties.get("PendingWindowInDays", 30))
            )

    @staticmethod
    def _settle(kms: Any, key_id: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        rotation = (bool(new.get("EnableKeyRotation", False)), new.get("RotationPeriodInDays"))
        before = (bool(old.get("EnableKeyRotation", False)), old.get("RotationPeriodInDays"))
        if rotation != before:
            if rotation[0]:
                args = {"RotationPeriodInDays": int(rotation[1])} if rotation[1] else {}
                kms.enable_key_rotation(KeyId=key_id, **args)
            elif before[0]:
                kms.disable_key_rotation(KeyId=key_id)
        enabled, was = bool(new.get("Enabled", True)), bool(old.get("Enabled", True)) if old else True
        if enabled != was or (not old and not enabled):
            (kms.enable_key if enabled else kms.disable_key)(KeyId=key_id)


class KmsReplicaKey(Handler):
    """``AWS::KMS::ReplicaKey``: a replica of a multi-Region primary key, in this stack's Region."""

    type_name = "AWS::KMS::ReplicaKey"
    note = "local KMS ReplicateKey: the replica decrypts the primary's ciphertext"
    immutable = frozenset({"PrimaryKeyArn"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        primary = str(properties["PrimaryKeyArn"])
        primary_region = primary.split(":")[3]
        args: dict[str, Any] = {"KeyId": primary, "ReplicaRegion": ctx.region}
        if "KeyPolicy" in properties:
            args["Policy"] = policy_text(properties["KeyPolicy"])
        if properties.get("Description"):
            args["Description"] = properties["Description"]
        metadata = ctx.client_in("kms", primary_region).replicate_key(**args)["ReplicaKeyMetadata"]
        return Provisioned(metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        window = int(properties.get("PendingWindowInDays", 30))
        ctx.client("kms").schedule_key_deletion(KeyId=physical_id, PendingWindowInDays=window)


class KmsAlias(Handler):
    """``AWS::KMS::Alias``: ``Ref`` is the alias name."""

    type_name = "AWS::KMS::Alias"
    note = "local KMS aliases (reserved names and per-Region uniqueness apply)"
    immutable = frozenset({"AliasName"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        name = str(properties["AliasName"])
        ctx.client("kms").create_alias(AliasName=name, TargetKeyId=str(properties["TargetKeyId"]))
        return Provisioned(name)

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        ctx.client("kms").update_alias(AliasName=physical_id, TargetKeyId=str(new["TargetKeyId"]))
        return Provisioned(physical_id)

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        kms = ctx.client("kms")
        with contextlib.suppress(kms.exceptions.NotFoundException):
            kms.delete_alias(AliasName=physical_id)


__all__ = ["KmsAlias", "KmsKey", "KmsReplicaKey", "NeedsReplacement"]
