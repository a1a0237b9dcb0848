"""The kit's own key policies, taken from the synthesized templates, decided offline by the local KMS's evaluator.

The structure tests (test_keys.py) read the statements; these tests ask the question a reviewer asks:
given exactly this policy, may this principal do this? The evaluator is the one the local KMS uses for
every request (kmslab.kms.authz), so the answers follow AWS's evaluation logic, conditions included.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmslab.kms.authz import IdentityStore, KmsAuthorizer
from kmslab.kms.errors import AccessDeniedException
from kmslab.kms.seams import AuthorizationRequest, Caller
from tests.stacks.conftest import ACCOUNT, REGION, Synthesized, cfn, resource

KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PSEUDO = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::URLSuffix": "amazonaws.com"}
AUTHORIZER = KmsAuthorizer(IdentityStore(ACCOUNT))  # no IAM policies: only the key policy decides


def resolve(value: Any) -> Any:
    """Resolve the intrinsics a key policy may hold (pseudo parameters and joins) into plain strings."""
    if isinstance(value, list):
        return [resolve(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in PSEUDO:
        return PSEUDO[value["Ref"]]
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve(p)) for p in parts)
    if any(k.startswith("Fn::") or k == "Ref" for k in value):
        raise AssertionError(f"a key policy intrinsic this test cannot resolve offline: {value}")
    return {k: resolve(v) for k, v in value.items()}


def key_policy(synth: Synthesized, key: Any) -> str:
    template = synth.templates["keys"]
    return json.dumps(resolve(resource(template, cfn(key))["Properties"]["KeyPolicy"]))


def role_session(name: str) -> Caller:
    return Caller(
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/session", account=ACCOUNT, identity_type="AssumedRole"
    )


def allowed(policy: str, caller: Caller, action: str, context: dict[str, Any] | None = None) -> bool:
    request = AuthorizationRequest(
        caller=caller,
        action=action,
        region=REGION,
        key_arn=KEY_ARN,
        key_policy=policy,
        context={"kms:CallerAccount": caller.account, **(context or {})},
    )
    try:
        AUTHORIZER.authorize(request)
    except AccessDeniedException:
        return False
    return True


CRYPTO = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
)
ADMIN = (
    "kms:DescribeKey",
    "kms:EnableKeyRotation",
    "kms:DisableKey",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:TagResource",
)


@pytest.fixture(scope="module")
def data_policy(full_synth: Synthesized) -> str:
    return key_policy(full_synth, full_synth.kit.keys.data_key)


@pytest.fixture(scope="module")
def audit_policy(full_synth: Synthesized) -> str:
    return key_policy(full_synth, full_synth.kit.keys.audit_key)


@pytest.mark.parametrize("action", CRYPTO)
def test_key_users_can_use_the_data_key(data_policy: str, action: str) -> None:
    assert allowed(data_policy, role_session("AppRunner"), action)
    assert allowed(data_policy, role_session("Auditor"), action)


@pytest.mark.parametrize("action", ["kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:DisableKey"])
def test_key_users_cannot_manage_the_data_key(data_policy: str, action: str) -> None:
    assert not allowed(data_policy, role_session("AppRunner"), action)


@pytest.mark.parametrize("action", ADMIN)
def test_key_administrators_can_manage_the_data_key(data_policy: str, action: str) -> None:
    assert allowed(data_policy, role_session("SecurityAdmin"), action)


@pytest.mark.parametrize("action", [*CRYPTO, "kms:CreateGrant"])
def test_key_administrators_cannot_use_the_data_key_nor_grant_themselves_use(data_policy: str, action: str) -> None:
    assert not allowed(data_policy, role_session("SecurityAdmin"), action)


def test_users_may_create_grants_only_for_aws_resources(data_policy: str) -> None:
    user = role_session("AppRunner")
    assert allowed(data_policy, user, "kms:CreateGrant", {"kms:GrantIsForAWSResource": True})
    assert not allowed(data_policy, user, "kms:CreateGrant", {"kms:GrantIsForAWSResource": False})


def test_a_stranger_gets_nothing_from_the_key_policy(data_policy: str) -> None:
    stranger = role_session("Intern")  # same account, no IAM policy: the root statement alone grants nothing
    assert not allowed(data_policy, stranger, "kms:Decrypt")
    outsider = Caller(arn="arn:aws:iam::444455556666:root", account="444455556666", identity_type="Root")
    assert not allowed(data_policy, outsider, "kms:Decrypt")


def cloudtrail(source_arn: str) -> Caller:
    return Caller(arn="cloudtrail.amazonaws.com", account=ACCOUNT, identity_type="AWSService", invoked_by=None)


def test_cloudtrail_can_only_generate_data_keys_for_this_trail_with_its_context(
    full_synth: Synthesized, audit_policy: str
) -> None:
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{full_synth.kit.config.trail_name}"
    service = cloudtrail(trail_arn)
    good = {
        "aws:SourceArn": trail_arn,
        "aws:SourceAccount": ACCOUNT,
        "kms:EncryptionContext:aws:cloudtrail:arn": trail_arn,
        "kms:EncryptionContextKeys": ["aws:cloudtrail:arn"],
    }
    assert allowed(audit_policy, service, "kms:GenerateDataKey", good)
    assert allowed(audit_policy, service, "kms:DescribeKey", {"aws:SourceArn": trail_arn})
    # without CloudTrail's encryption context, for another trail, or for anything but data keys: no
    no_context = {k: v for k, v in good.items() if not k.startswith("kms:EncryptionContext")}
    assert not allowed(audit_policy, service, "kms:GenerateDataKey", no_context)
    other_trail = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/someone-elses"
    assert not allowed(audit_policy, service, "kms:GenerateDataKey", {**good, "aws:SourceArn": other_trail})
    for action in ("kms:Decrypt", "kms:Encrypt", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"):
        assert not allowed(audit_policy, service, action, good)


def test_log_readers_decrypt_trail_logs_only(full_synth: Synthesized, audit_policy: str) -> None:
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{full_synth.kit.config.trail_name}"
    reader = role_session("Auditor")
    assert allowed(audit_policy, reader, "kms:Decrypt", {"kms:EncryptionContext:aws:cloudtrail:arn": trail_arn})
    assert not allowed(audit_policy, reader, "kms:Decrypt", {"kms:EncryptionContext:purpose": "other"})
    assert not allowed(audit_policy, reader, "kms:Encrypt", {"kms:EncryptionContext:aws:cloudtrail:arn": trail_arn})
