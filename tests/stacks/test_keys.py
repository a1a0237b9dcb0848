"""KeysStack: rotation, explicit key policies that separate administrators from users, optional keys."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Capture, Match

from stacks.key_policy import ADMIN_ACTIONS, SYMMETRIC_USER_ACTIONS
from tests.stacks.conftest import ACCOUNT, REGION, REPLICA_REGION, Synthesized, ref, resource
from tests.stacks.policy_eval import CRYPTO_ACTIONS, allowed_actions, expand

ADMIN_FORBIDDEN = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey"}
USER_FORBIDDEN = {"kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:DisableKey", "kms:CancelKeyDeletion"}


def statements(synth: Synthesized, key: Any) -> list[dict[str, Any]]:
    """The key policy statements of ``key``, captured from the template (matched by the key's description)."""
    captured = Capture()
    description = key.node.default_child.description
    synth.templates["keys"].has_resource_properties(
        "AWS::KMS::Key", {"Description": description, "KeyPolicy": {"Statement": captured}}
    )
    result: list[dict[str, Any]] = captured.as_array()
    assert result == resource(synth.templates["keys"], key.node.default_child)["Properties"]["KeyPolicy"]["Statement"]
    return result


def by_sid(stmts: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    matches = [s for s in stmts if s.get("Sid") == sid]
    assert len(matches) == 1, f"expected one {sid} statement, got {len(matches)}"
    return matches[0]


def test_symmetric_keys_rotate_with_the_configured_period(default_synth: Synthesized, full_synth: Synthesized) -> None:
    for synth, days in ((default_synth, 365), (full_synth, 180)):
        for key in (synth.kit.keys.data_key, synth.kit.keys.audit_key):
            props = resource(synth.templates["keys"], key.node.default_child)["Properties"]
            assert props["EnableKeyRotation"] is True
            assert props["RotationPeriodInDays"] == days
            assert props["KeySpec"] == "SYMMETRIC_DEFAULT"


def test_aliases_and_pending_window(default_synth: Synthesized, full_synth: Synthesized) -> None:
    template = default_synth.templates["keys"]
    for name in ("data", "audit"):
        template.has_resource_properties("AWS::KMS::Alias", {"AliasName": f"alias/kmslab/{name}"})
    template.all_resources_properties("AWS::KMS::Key", {"PendingWindowInDays": 7})
    full_synth.templates["keys"].all_resources_properties("AWS::KMS::Key", {"PendingWindowInDays": 30})


def test_key_policy_is_explicit_not_the_cdk_default(default_synth: Synthesized) -> None:
    stmts = statements(default_synth, default_synth.kit.keys.data_key)
    assert [s["Sid"] for s in stmts] == [
        "EnableIamPolicies",
        "AllowKeyAdministration",
        "AllowKeyUse",
        "AllowGrantsForAwsResources",
    ]
    root = by_sid(stmts, "EnableIamPolicies")
    assert root["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert root["Action"] == "kms:*"


def test_administrators_cannot_use_the_key_and_users_cannot_manage_it(default_synth: Synthesized) -> None:
    keys = default_synth.kit.keys
    assert keys.admin_role is not None and keys.user_role is not None
    admin, user = ref(keys.admin_role, "Arn"), ref(keys.user_role, "Arn")
    stmts = statements(default_synth, keys.data_key)
    admin_allowed = allowed_actions(stmts, admin)
    user_allowed = allowed_actions(stmts, user)
    # Administrators: full life cycle, no cryptography at all.
    assert {"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand"} <= admin_allowed
    assert not admin_allowed & CRYPTO_ACTIONS
    # ... nor rewrite the policy to give themselves use: key policy changes go through CloudFormation.
    assert "kms:PutKeyPolicy" not in admin_allowed
    assert not admin_allowed & ADMIN_FORBIDDEN
    # ... and no grants either: a grant to itself would be a back door to Decrypt.
    assert "kms:CreateGrant" not in admin_allowed
    # Users: cryptography, no life cycle.
    assert expand(SYMMETRIC_USER_ACTIONS) <= user_allowed
    assert not user_allowed & USER_FORBIDDEN
    assert not user_allowed & expand(ADMIN_ACTIONS) - {
        "kms:DescribeKey",
        "kms:CreateGrant",
        "kms:ListGrants",
        "kms:RevokeGrant",
    }


def test_configured_principals_replace_the_workshop_roles(full_synth: Synthesized) -> None:
    keys = full_synth.kit.keys
    assert keys.admin_role is None and keys.user_role is None and keys.auditor_role is None
    # The only role left is CDK's own provider of the cross-Region reference (the replica's primary key ARN).
    roles = full_synth.templates["keys"].find_resources("AWS::IAM::Role")
    assert all("CrossRegionExportWriter" in logical_id for logical_id in roles)
    stmts = statements(full_synth, keys.data_key)
    admin = f"arn:aws:iam::{ACCOUNT}:role/SecurityAdmin"
    assert by_sid(stmts, "AllowKeyAdministration")["Principal"] == {"AWS": admin}
    assert not allowed_actions(stmts, admin) & CRYPTO_ACTIONS
    for user in ("AppRunner", "Deployer"):
        allowed = allowed_actions(stmts, f"arn:aws:iam::{ACCOUNT}:role/{user}")
        assert "kms:Decrypt" in allowed and "kms:ScheduleKeyDeletion" not in allowed


def test_grants_only_for_aws_resources(default_synth: Synthesized) -> None:
    grants = by_sid(statements(default_synth, default_synth.kit.keys.data_key), "AllowGrantsForAwsResources")
    assert sorted(grants["Action"]) == ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_cloudtrail_may_encrypt_only_for_this_accounts_trails_and_this_trail(default_synth: Synthesized) -> None:
    stmts = statements(default_synth, default_synth.kit.keys.audit_key)
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/kmslab-trail"
    encrypt = by_sid(stmts, "AllowCloudTrailEncryptLogs")
    assert encrypt["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert encrypt["Action"] == "kms:GenerateDataKey*"
    assert encrypt["Condition"] == {
        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"},
        "StringEquals": {"aws:SourceArn": trail_arn},
    }
    describe = by_sid(stmts, "AllowCloudTrailDescribeKey")
    assert describe["Action"] == "kms:DescribeKey"
    assert describe["Condition"] == {"StringEquals": {"aws:SourceArn": trail_arn}}
    # The trail's real ARN (from the trail stack) is the one the key policy names.
    trail_stack = default_synth.kit.trail
    assert trail_stack.resolve(trail_stack.trail_arn) == trail_arn
    # CloudTrail gets nothing else from this key.
    cloudtrail_actions = {
        a for s in stmts if s.get("Principal") == {"Service": "cloudtrail.amazonaws.com"} for a in [s["Action"]]
    }
    assert cloudtrail_actions == {"kms:GenerateDataKey*", "kms:DescribeKey"}


def test_auditors_decrypt_trail_logs_with_account_and_context_conditions(default_synth: Synthesized) -> None:
    keys = default_synth.kit.keys
    stmts = statements(default_synth, keys.audit_key)
    readers = by_sid(stmts, "AllowAuditorsReadTrail")
    assert keys.auditor_role is not None
    assert readers["Principal"] == {"AWS": ref(keys.auditor_role, "Arn")}
    # Key users use the data key; reading the audit trail is the auditors' job.
    assert not allowed_actions(stmts, ref(keys.user_role, "Arn"))
    assert sorted(readers["Action"]) == ["kms:Decrypt", "kms:ReEncryptFrom"]
    assert readers["Condition"]["StringEquals"] == {"kms:CallerAccount": ACCOUNT}
    assert readers["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"
    }


def test_cloudwatch_logs_may_use_the_audit_key_for_the_trail_log_group_only(default_synth: Synthesized) -> None:
    logs = by_sid(statements(default_synth, default_synth.kit.keys.audit_key), "AllowCloudWatchLogsTrailGroup")
    assert logs["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/kmslab/cloudtrail"
        }
    }


def test_data_key_policy_has_no_service_principals(default_synth: Synthesized) -> None:
    for stmt in statements(default_synth, default_synth.kit.keys.data_key):
        assert "Service" not in stmt["Principal"]


def test_removal_policy_retain_by_default_and_delete_when_destroy(
    default_synth: Synthesized, full_synth: Synthesized
) -> None:
    for synth, policy in ((default_synth, "Retain"), (full_synth, "Delete")):
        keys = synth.templates["keys"].find_resources("AWS::KMS::Key")
        assert keys and all(k["DeletionPolicy"] == policy and k["UpdateReplacePolicy"] == policy for k in keys.values())


def test_optional_keys_off_by_default(default_synth: Synthesized) -> None:
    keys = default_synth.kit.keys
    assert keys.signing_key is None and keys.hmac_key is None
    assert default_synth.kit.key_replica is None
    template = default_synth.templates["keys"]
    template.resource_count_is("AWS::KMS::Key", 2)
    template.has_resource_properties(
        "AWS::KMS::Key", {"Description": Match.string_like_regexp("data key"), "MultiRegion": Match.absent()}
    )


def test_signing_key_is_asymmetric_sign_verify_without_rotation(full_synth: Synthesized) -> None:
    key = full_synth.kit.keys.signing_key
    assert key is not None
    props = resource(full_synth.templates["keys"], key.node.default_child)["Properties"]
    assert (props["KeySpec"], props["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert "RotationPeriodInDays" not in props and props.get("EnableKeyRotation") is not True
    use = by_sid(props["KeyPolicy"]["Statement"], "AllowKeyUse")
    assert sorted(use["Action"]) == ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:Verify"]


def test_hmac_key(full_synth: Synthesized) -> None:
    key = full_synth.kit.keys.hmac_key
    assert key is not None
    props = resource(full_synth.templates["keys"], key.node.default_child)["Properties"]
    assert (props["KeySpec"], props["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")
    use = by_sid(props["KeyPolicy"]["Statement"], "AllowKeyUse")
    assert sorted(use["Action"]) == ["kms:DescribeKey", "kms:GenerateMac", "kms:VerifyMac"]


def test_the_data_key_never_changes_multi_region_so_adding_a_replica_is_an_update_that_works(
    default_synth: Synthesized, full_synth: Synthesized
) -> None:
    # CloudFormation refuses to change MultiRegion on an existing key: turning the replica on must add a key.
    for synth in (default_synth, full_synth):
        data = synth.kit.keys.data_key.node.default_child
        assert synth.kit.keys.get_logical_id(data) == default_synth.kit.keys.get_logical_id(
            default_synth.kit.keys.data_key.node.default_child
        )
        assert "MultiRegion" not in resource(synth.templates["keys"], data)["Properties"]
    assert default_synth.kit.keys.multi_region_key is None
    default_synth.templates["keys"].has_resource_properties("AWS::KMS::Key", {"MultiRegion": Match.absent()})
    mrk = full_synth.kit.keys.multi_region_key
    assert mrk is not None
    props = resource(full_synth.templates["keys"], mrk.node.default_child)["Properties"]
    assert props["MultiRegion"] is True and props["RotationPeriodInDays"] == 180
    full_synth.templates["keys"].has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/kmslab/multi-region"})


def test_multi_region_primary_with_a_replica_in_the_second_region(full_synth: Synthesized) -> None:
    kit = full_synth.kit
    assert kit.keys.multi_region_key is not None
    assert kit.key_replica is not None
    assert kit.key_replica.region == REPLICA_REGION
    replica_template = full_synth.templates["key_replica"]
    replica = resource(replica_template, kit.key_replica.replica_key)
    assert replica["DeletionPolicy"] == "Delete"
    props = replica["Properties"]
    # The primary's ARN crosses Regions through CDK's cross-Region reference (an SSM parameter written by the keys
    # stack, read here), never as a hand-written ARN, and never as a weak Fn::GetStackOutput.
    arn = json.dumps(props["PrimaryKeyArn"])
    assert "Fn::GetStackOutput" not in arn and "ExportsReader" in arn
    assert props["PendingWindowInDays"] == 30
    sids = [s["Sid"] for s in props["KeyPolicy"]["Statement"]]
    assert sids == ["EnableIamPolicies", "AllowKeyAdministration", "AllowKeyUse", "AllowGrantsForAwsResources"]
    replica_template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/kmslab/multi-region"})
    assert kit.keys in kit.key_replica.dependencies


def test_removal_policy_comes_from_the_config() -> None:
    from stacks.config import KitConfig

    assert KitConfig().removal_policy == cdk.RemovalPolicy.RETAIN
    assert KitConfig(removal="destroy").removal_policy == cdk.RemovalPolicy.DESTROY
