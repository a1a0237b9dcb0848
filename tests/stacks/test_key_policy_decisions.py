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
from kmslab.kms.authz.identities import Identity, NamedPolicy
from kmslab.kms.errors import AccessDeniedException
from kmslab.kms.policy import parse_policy
from kmslab.kms.seams import AuthorizationRequest, Caller
from tests.stacks.conftest import ACCOUNT, REGION, Synthesized, cfn, resource

KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PSEUDO = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::URLSuffix": "amazonaws.com"}
AUTHORIZER = KmsAuthorizer(IdentityStore(ACCOUNT))  # no IAM policies: only the key policy decides


def resolve(value: Any, *, lenient: bool = False) -> Any:
    """Resolve the intrinsics a key policy may hold (pseudo parameters and joins) into plain strings.

    With ``lenient``, other references (resources of the policy's own stack) become placeholder text.
    """
    if isinstance(value, list):
        return [resolve(v, lenient=lenient) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in PSEUDO:
        return PSEUDO[value["Ref"]]
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve(p, lenient=lenient)) for p in parts)
    if any(k.startswith("Fn::") or k == "Ref" for k in value):
        if lenient:
            return f"unresolved-{json.dumps(value, sort_keys=True)}"
        raise AssertionError(f"a key policy intrinsic this test cannot resolve offline: {value}")
    return {k: resolve(v, lenient=lenient) for k, v in value.items()}


def key_policy(synth: Synthesized, key: Any) -> str:
    template = synth.templates["keys"]
    return json.dumps(resolve(resource(template, cfn(key))["Properties"]["KeyPolicy"]))


def default_key_policy(synth: Synthesized, key: Any) -> str:
    """A key policy of the default config, its workshop roles standing for ``role/<name>`` ARNs."""
    keys = synth.kit.keys
    roles = {
        keys.get_logical_id(cfn(role)): f"arn:aws:iam::{ACCOUNT}:role/{cfn(role).role_name}"
        for role in (keys.admin_role, keys.user_role, keys.auditor_role)
        if role is not None
    }
    document = resource(synth.templates["keys"], cfn(key))["Properties"]["KeyPolicy"]
    return json.dumps(resolve(substitute(document, {("Fn::GetAtt", rid, "Arn"): arn for rid, arn in roles.items()})))


def substitute(value: Any, known: dict[tuple[str, ...], str]) -> Any:
    """Replace the references named in ``known`` (``("Ref", id)``, ``("Fn::GetAtt", id, attr)``, ...) by values."""
    if isinstance(value, list):
        return [substitute(v, known) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((name, argument),) = value.items()
        key = (name, *argument) if isinstance(argument, list) else (name, argument)
        if all(isinstance(part, str) for part in key) and key in known:
            return known[key]
    return {k: substitute(v, known) for k, v in value.items()}


def role_session(name: str) -> Caller:
    return Caller(
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/session", account=ACCOUNT, identity_type="AssumedRole"
    )


def allowed(
    policy: str,
    caller: Caller,
    action: str,
    context: dict[str, Any] | None = None,
    *,
    authorizer: KmsAuthorizer = AUTHORIZER,
) -> bool:
    request = AuthorizationRequest(
        caller=caller,
        action=action,
        region=REGION,
        key_arn=KEY_ARN,
        key_policy=policy,
        context={"kms:CallerAccount": caller.account, **(context or {})},
    )
    try:
        authorizer.authorize(request)
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
    assert allowed(data_policy, role_session("Deployer"), action)
    assert not allowed(data_policy, role_session("Auditor"), action)  # auditors read the trail, not data


@pytest.mark.parametrize("action", ["kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:DisableKey"])
def test_key_users_cannot_manage_the_data_key(data_policy: str, action: str) -> None:
    assert not allowed(data_policy, role_session("AppRunner"), action)


@pytest.mark.parametrize("action", [a for a in ADMIN if a != "kms:PutKeyPolicy"])
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


def test_auditors_decrypt_trail_logs_only(full_synth: Synthesized, audit_policy: str) -> None:
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{full_synth.kit.config.trail_name}"
    reader = role_session("Auditor")
    assert allowed(audit_policy, reader, "kms:Decrypt", {"kms:EncryptionContext:aws:cloudtrail:arn": trail_arn})
    assert not allowed(audit_policy, reader, "kms:Decrypt", {"kms:EncryptionContext:purpose": "other"})
    assert not allowed(audit_policy, reader, "kms:Encrypt", {"kms:EncryptionContext:aws:cloudtrail:arn": trail_arn})


# -- issue 13, item 10: administrators manage, never use; policy changes go through CloudFormation -----------


def test_a_key_administrator_cannot_put_a_key_policy(data_policy: str, audit_policy: str) -> None:
    # The README's claim: with the key policy alone, an administrator cannot rewrite the policy to give itself
    # Decrypt (kms:PutKeyPolicy is not in AllowKeyAdministration), nor create a grant.
    admin = role_session("SecurityAdmin")
    for policy in (data_policy, audit_policy):
        assert not allowed(policy, admin, "kms:PutKeyPolicy")
        assert allowed(policy, admin, "kms:ScheduleKeyDeletion")


def test_key_policy_changes_go_through_a_principal_with_an_iam_policy_as_the_readme_says(data_policy: str) -> None:
    # What the key policy cannot stop (README): EnableIamPolicies delegates to IAM, so the CloudFormation
    # execution role, whose IAM policy allows kms:*, may put the key policy; so may any principal given that.
    deployer_arn = f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-{REGION}"
    iam_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    deployer = Identity(
        arn=deployer_arn,
        account=ACCOUNT,
        identity_type="AssumedRole",
        principal_id="AROADEPLOYER",
        access_key_id="ASIADEPLOYER",
        secret_access_key="not-used",  # noqa: S106 - a placeholder, never used to sign
        policies=(NamedPolicy("AdministratorAccess", parse_policy(iam_policy, kind="identity")),),
    )
    authorizer = KmsAuthorizer(IdentityStore(ACCOUNT, [deployer]))
    session = role_session(f"cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-{REGION}")
    assert allowed(data_policy, session, "kms:PutKeyPolicy", authorizer=authorizer)
    assert not allowed(data_policy, session, "kms:PutKeyPolicy")  # without that IAM policy: no


# -- issue 13, item 5: auditors read the trail and the query results; key users do not ---------------------


def trail_context(synth: Synthesized) -> dict[str, Any]:
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{synth.kit.config.trail_name}"
    return {
        "kms:EncryptionContext:aws:cloudtrail:arn": trail_arn,
        "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::trail-bucket/AWSLogs/111122223333/CloudTrail/x.json.gz",
        "kms:ViaService": f"s3.{REGION}.amazonaws.com",
    }


RESULTS_BUCKET_ARN = "arn:aws:s3:::kmslab-query-results"


def auditor_identity(synth: Synthesized, role_name: str) -> Identity:
    """The auditor role with its synthesized IAM policy (the analytics stack's AuditorAccess), references resolved."""
    analytics = synth.kit.analytics
    access = analytics.auditor_access
    assert access is not None
    results = cfn(analytics.results_bucket)
    document = resource(synth.templates["analytics"], cfn(access.policy))["Properties"]["PolicyDocument"]
    known = {("Fn::GetAtt", analytics.get_logical_id(results), "Arn"): RESULTS_BUCKET_ARN}
    imports = {
        ("Fn::ImportValue", name): KEY_ARN
        for name in _import_names(document)  # the audit key's ARN is the one import of the policy
    }
    resolved = resolve(substitute(substitute(document, known), imports), lenient=True)
    return Identity(
        arn=f"arn:aws:iam::{ACCOUNT}:role/{role_name}",
        account=ACCOUNT,
        identity_type="AssumedRole",
        principal_id=f"AROA{role_name.upper()}",
        access_key_id=f"ASIA{role_name.upper()}",
        secret_access_key="not-used",  # noqa: S106 - a placeholder, never used to sign
        policies=(NamedPolicy("AuditorAccess", parse_policy(resolved, kind="identity")),),
    )


def _import_names(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*(_import_names(v) for v in value)) if value else set()
    if isinstance(value, dict):
        if set(value) == {"Fn::ImportValue"}:
            return {value["Fn::ImportValue"]}
        return set().union(*(_import_names(v) for v in value.values())) if value else set()
    return set()


def test_an_auditor_can_and_a_key_user_cannot_read_the_trail(default_synth: Synthesized) -> None:
    audit = default_key_policy(default_synth, default_synth.kit.keys.audit_key)
    context = trail_context(default_synth)
    assert allowed(audit, role_session("kmslab-auditor"), "kms:Decrypt", context)
    assert not allowed(audit, role_session("kmslab-key-user"), "kms:Decrypt", context)
    assert not allowed(audit, role_session("kmslab-key-admin"), "kms:Decrypt", context)


def test_an_auditor_can_read_and_write_query_results_under_the_audit_key(full_synth: Synthesized) -> None:
    # Query results sit in a bucket with a Bucket Key: S3 sends the bucket ARN as aws:s3:arn. The auditor's IAM
    # policy allows exactly that context; the key policy delegates to IAM (EnableIamPolicies).
    audit = key_policy(full_synth, full_synth.kit.keys.audit_key)
    authorizer = KmsAuthorizer(IdentityStore(ACCOUNT, [auditor_identity(full_synth, "Auditor")]))
    auditor = role_session("Auditor")
    results = {"kms:EncryptionContext:aws:s3:arn": RESULTS_BUCKET_ARN}
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        assert allowed(audit, auditor, action, results, authorizer=authorizer)
    other_bucket = {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::someone-elses-bucket"}
    assert not allowed(audit, auditor, "kms:Decrypt", other_bucket, authorizer=authorizer)
    assert not allowed(audit, auditor, "kms:Decrypt", {}, authorizer=authorizer)
    # both contexts: the trail's log files too
    assert allowed(audit, auditor, "kms:Decrypt", trail_context(full_synth), authorizer=authorizer)
    # and a key user, even with the same context, gets nothing from the audit key
    assert not allowed(audit, role_session("AppRunner"), "kms:Decrypt", results, authorizer=authorizer)
