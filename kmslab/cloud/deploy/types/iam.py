"""IAM roles and policies, created through the local IAM (moto), whose identities the local cloud trusts.

``AWS::IAM::Role``: ``Ref`` is the role name, attributes ``Arn`` and ``RoleId``. ``AWS::IAM::ManagedPolicy``:
``Ref`` is the policy ARN. ``AWS::IAM::Policy`` (inline): ``Ref`` is a generated ID.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from kmslab.cloud.deploy.resources import ProvisionContext, Provisioned
from kmslab.cloud.deploy.types._base import Handler, physical_name, policy_text, present, tag_list


class Role(Handler):
    """``AWS::IAM::Role``."""

    type_name = "AWS::IAM::Role"
    note = "local IAM: the role can be assumed (trust policy) and its policies are evaluated"
    immutable = frozenset({"RoleName", "Path"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        iam = ctx.client("iam")
        name = str(properties.get("RoleName") or physical_name(ctx, max_length=64))
        args: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": policy_text(properties["AssumeRolePolicyDocument"]),
            "Path": properties.get("Path", "/"),
        }
        args.update(present(properties, "Description", "MaxSessionDuration", "PermissionsBoundary"))
        if properties.get("Tags"):
            args["Tags"] = tag_list(properties)
        role = iam.create_role(**args)["Role"]
        self.apply(name, {}, properties, ctx)
        return Provisioned(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        iam = ctx.client("iam")
        if old and old.get("AssumeRolePolicyDocument") != new.get("AssumeRolePolicyDocument"):
            iam.update_assume_role_policy(
                RoleName=physical_id, PolicyDocument=policy_text(new["AssumeRolePolicyDocument"])
            )
        before, after = set(old.get("ManagedPolicyArns", [])), set(new.get("ManagedPolicyArns", []))
        for arn in sorted(after - before):
            iam.attach_role_policy(RoleName=physical_id, PolicyArn=arn)
        for arn in sorted(before - after):
            iam.detach_role_policy(RoleName=physical_id, PolicyArn=arn)
        inline_old = {p["PolicyName"]: p for p in old.get("Policies", [])}
        inline_new = {p["PolicyName"]: p for p in new.get("Policies", [])}
        for name, policy in inline_new.items():
            if inline_old.get(name) != policy:
                iam.put_role_policy(
                    RoleName=physical_id, PolicyName=name, PolicyDocument=policy_text(policy["PolicyDocument"])
                )
        for name in set(inline_old) - set(inline_new):
            iam.delete_role_policy(RoleName=physical_id, PolicyName=name)
        role = iam.get_role(RoleName=physical_id)["Role"]
        return Provisioned(physical_id, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        iam = ctx.client("iam")
        try:
            for arn in properties.get("ManagedPolicyArns", []):
                iam.detach_role_policy(RoleName=physical_id, PolicyArn=arn)
            for policy in properties.get("Policies", []):
                iam.delete_role_policy(RoleName=physical_id, PolicyName=policy["PolicyName"])
            iam.delete_role(RoleName=physical_id)
        except iam.exceptions.NoSuchEntityException:
            pass


class ManagedPolicy(Handler):
    """``AWS::IAM::ManagedPolicy``: a customer managed policy attached to the listed roles, users and groups."""

    type_name = "AWS::IAM::ManagedPolicy"
    note = "local IAM: evaluated for every service when identities are on"
    immutable = frozenset({"ManagedPolicyName", "Path"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        iam = ctx.client("iam")
        name = str(properties.get("ManagedPolicyName") or physical_name(ctx, max_length=128))
        args: dict[str, Any] = {
            "PolicyName": name,
            "PolicyDocument": policy_text(properties["PolicyDocument"]),
            "Path": properties.get("Path", "/"),
        }
        if "Description" in properties:
            args["Description"] = properties["Description"]
        arn = iam.create_policy(**args)["Policy"]["Arn"]
        _attach(iam, arn, {}, properties)
        return Provisioned(arn, {"PolicyArn": arn})

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        iam = ctx.client("iam")
        if old.get("PolicyDocument") != new.get("PolicyDocument"):
            versions = iam.list_policy_versions(PolicyArn=physical_id)["Versions"]
            if len(versions) >= 5:
                oldest = [v for v in versions if not v["IsDefaultVersion"]][-1]
                iam.delete_policy_version(PolicyArn=physical_id, VersionId=oldest["VersionId"])
            iam.create_policy_version(
                PolicyArn=physical_id, PolicyDocument=policy_text(new["PolicyDocument"]), SetAsDefault=True
            )
        _attach(iam, physical_id, old, new)
        return Provisioned(physical_id, {"PolicyArn": physical_id})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        iam = ctx.client("iam")
        try:
            _attach(iam, physical_id, properties, {})
            for version in iam.list_policy_versions(PolicyArn=physical_id)["Versions"]:
                if not version["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=physical_id, VersionId=version["VersionId"])
            iam.delete_policy(PolicyArn=physical_id)
        except iam.exceptions.NoSuchEntityException:
            pass


class InlinePolicy(Handler):
    """``AWS::IAM::Policy``: one inline policy put on each listed role, user and group."""

    type_name = "AWS::IAM::Policy"
    note = "local IAM inline policies"

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        self._put(ctx.client("iam"), properties)
        return Provisioned(f"{ctx.stack_name[:20]}-{properties['PolicyName']}")

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        iam = ctx.client("iam")
        self._remove(iam, old, keep=new)
        self._put(iam, new)
        return Provisioned(physical_id)

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        self._remove(ctx.client("iam"), properties, keep={})

    @staticmethod
    def _put(iam: Any, props: Mapping[str, Any]) -> None:
        document, name = policy_text(props["PolicyDocument"]), str(props["PolicyName"])
        for role in props.get("Roles", []):
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)
        for user in props.get("Users", []):
            iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=document)
        for group in props.get("Groups", []):
            iam.put_group_policy(GroupName=group, PolicyName=name, PolicyDocument=document)

    @staticmethod
    def _remove(iam: Any, props: Mapping[str, Any], keep: Mapping[str, Any]) -> None:
        name = props.get("PolicyName")
        if not name:
            return
        same = keep.get("PolicyName") == name
        for role in props.get("Roles", []):
            if not (same and role in keep.get("Roles", [])):
                _quietly(iam, iam.delete_role_policy, RoleName=role, PolicyName=name)
        for user in props.get("Users", []):
            if not (same and user in keep.get("Users", [])):
                _quietly(iam, iam.delete_user_policy, UserName=user, PolicyName=name)
        for group in props.get("Groups", []):
            if not (same and group in keep.get("Groups", [])):
                _quietly(iam, iam.delete_group_policy, GroupName=group, PolicyName=name)


def _attach(iam: Any, arn: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    for key, attach, detach, param in (
        ("Roles", iam.attach_role_policy, iam.detach_role_policy, "RoleName"),
        ("Users", iam.attach_user_policy, iam.detach_user_policy, "UserName"),
        ("Groups", iam.attach_group_policy, iam.detach_group_policy, "GroupName"),
    ):
        before, after = set(old.get(key, [])), set(new.get(key, []))
        for name in sorted(after - before):
            attach(**{param: name, "PolicyArn": arn})
        for name in sorted(before - after):
            _quietly(iam, detach, **{param: name, "PolicyArn": arn})


def _quietly(iam: Any, call: Any, **kwargs: Any) -> None:
    with contextlib.suppress(iam.exceptions.NoSuchEntityException):
        call(**kwargs)
