"""KmsAuthorizer decisions, built from AuthorizationRequest objects directly.

AWS messages checked here (sources in the report): "User: <arn> is not authorized to perform:
kms:<Action> on resource: <key ARN> because no resource-based policy allows the kms:<Action>
action", "... because no identity-based policy allows ...", "... with an explicit deny in a
resource-based policy", "... with an explicit deny in an identity-based policy".
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmslab.kms.authz import RETIRE_GRANT_ID_KEY, KmsAuthorizer, parse_identities
from kmslab.kms.errors import AccessDeniedException
from kmslab.kms.policy import default_key_policy
from kmslab.kms.seams import AuthorizationRequest, Caller, FixedClock

ACCT = "111122223333"
OTHER = "444455556666"
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
CAROL = f"arn:aws:iam::{ACCT}:user/carol"
EVE = f"arn:aws:iam::{OTHER}:user/eve"


def iam(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def store_with(policies: dict[str, list[dict[str, Any]]]) -> KmsAuthorizer:
    identities = [
        {"arn": arn, "access_key_id": f"AKIA{i:016d}", "secret_access_key": "s", "policies": docs}
        for i, (arn, docs) in enumerate(policies.items())
    ]
    return KmsAuthorizer(parse_identities({"account": ACCT, "identities": identities}), clock=FixedClock())


def caller(arn: str, **kw: Any) -> Caller:
    account = arn.split(":")[4]
    if arn.endswith(":root"):
        return Caller.root(account, **kw)
    kind = "AssumedRole" if ":assumed-role/" in arn else "IAMUser"
    return Caller(arn=arn, account=account, identity_type=kind, principal_id="AIDAEXAMPLE", **kw)


def req(
    who: str | Caller,
    action: str,
    policy: str | dict[str, Any] | None = None,
    *,
    key: str | None = KEY,
    grants: tuple[dict[str, Any], ...] = (),
    tokens: tuple[str, ...] = (),
    context: dict[str, Any] | None = None,
) -> AuthorizationRequest:
    text = policy if isinstance(policy, str) or policy is None else json.dumps(policy)
    if key is not None and text is None:
        text = default_key_policy(ACCT)
    return AuthorizationRequest(
        caller=who if isinstance(who, Caller) else caller(who),
        action=action,
        region="us-east-1",
        key_arn=key,
        key_policy=text,
        grants=grants,
        grant_tokens=tokens,
        context=context or {},
    )


def key_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def stmt(effect: str, principal: Any, action: Any, sid: str = "", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": action, "Resource": "*", **extra}
    if sid:
        out["Sid"] = sid
    return out


ROOT_STMT = stmt("Allow", {"AWS": f"arn:aws:iam::{ACCT}:root"}, "kms:*", "Enable IAM User Permissions")
ALLOW_ALL_KMS = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}


def denied(authz: KmsAuthorizer, request: AuthorizationRequest) -> str:
    with pytest.raises(AccessDeniedException) as err:
        authz.authorize(request)
    assert err.value.code == "AccessDeniedException"
    return err.value.message


# --- key policy only ---------------------------------------------------------------------------


def test_key_policy_alone_allows_a_named_user_without_iam_policies() -> None:
    authz = store_with({ALICE: []})
    policy = key_policy(stmt("Allow", {"AWS": ALICE}, ["kms:Encrypt", "kms:Decrypt"], "Allow use"))
    authz.authorize(req(ALICE, "kms:Decrypt", policy))
    decision = authz.decide(req(ALICE, "kms:Decrypt", policy))
    assert [r.sid for r in decision.deciding] == ["Allow use"]
    msg = denied(authz, req(ALICE, "kms:ScheduleKeyDeletion", policy))
    assert msg == (
        f"User: {ALICE} is not authorized to perform: kms:ScheduleKeyDeletion on resource: {KEY} "
        "because no resource-based policy allows the kms:ScheduleKeyDeletion action"
    )


def test_actions_are_case_insensitive_and_wildcards_work() -> None:
    authz = store_with({})
    policy = key_policy(stmt("Allow", {"AWS": ALICE}, ["KMS:generatedatakey*", "kms:ReEncrypt?rom"]))
    authz.authorize(req(ALICE, "kms:GenerateDataKeyWithoutPlaintext", policy))
    authz.authorize(req(ALICE, "kms:ReEncryptFrom", policy))
    denied(authz, req(ALICE, "kms:ReEncryptTo", policy))


# --- IAM policies ------------------------------------------------------------------------------


def test_iam_policy_allows_when_key_policy_has_the_root_statement() -> None:
    authz = store_with({ALICE: [iam({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})]})
    authz.authorize(req(ALICE, "kms:Decrypt", key_policy(ROOT_STMT)))
    decision = authz.decide(req(ALICE, "kms:Decrypt", key_policy(ROOT_STMT)))
    assert {r.source for r in decision.deciding} == {"key policy", "identity policy alice-policy-1"}
    assert decision.deciding[0].via_account


def test_iam_policy_alone_is_not_enough_without_the_root_statement() -> None:
    authz = store_with({ALICE: [iam(ALLOW_ALL_KMS)]})
    policy = key_policy(stmt("Allow", {"AWS": BOB}, "kms:*"))
    msg = denied(authz, req(ALICE, "kms:Decrypt", policy))
    assert msg.endswith("because no resource-based policy allows the kms:Decrypt action")


def test_root_statement_without_iam_policy_gives_identity_based_message() -> None:
    authz = store_with({ALICE: []})
    msg = denied(authz, req(ALICE, "kms:Decrypt", key_policy(ROOT_STMT)))
    assert msg == (
        f"User: {ALICE} is not authorized to perform: kms:Decrypt on resource: {KEY} "
        "because no identity-based policy allows the kms:Decrypt action"
    )


def test_iam_resource_patterns_and_not_resource() -> None:
    other_key = KEY.replace("1234abcd", "99999999")
    authz = store_with(
        {
            ALICE: [
                iam({"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "arn:aws:kms:*:111122223333:key/1234*"})
            ],
            BOB: [iam({"Effect": "Allow", "Action": "kms:Encrypt", "NotResource": other_key})],
        }
    )
    policy = key_policy(ROOT_STMT)
    authz.authorize(req(ALICE, "kms:Encrypt", policy))
    denied(authz, req(ALICE, "kms:Encrypt", policy, key=other_key))
    authz.authorize(req(BOB, "kms:Encrypt", policy))
    denied(authz, req(BOB, "kms:Encrypt", policy, key=other_key))


def test_not_action_in_iam_policy() -> None:
    authz = store_with(
        {ALICE: [iam({"Effect": "Allow", "NotAction": ["kms:ScheduleKeyDeletion", "kms:Put*"], "Resource": "*"})]}
    )
    policy = key_policy(ROOT_STMT)
    authz.authorize(req(ALICE, "kms:Decrypt", policy))
    denied(authz, req(ALICE, "kms:PutKeyPolicy", policy))
    denied(authz, req(ALICE, "kms:ScheduleKeyDeletion", policy))


# --- explicit denies ---------------------------------------------------------------------------


def test_explicit_deny_in_key_policy_wins_over_everything() -> None:
    authz = store_with({ALICE: [iam(ALLOW_ALL_KMS)]})
    policy = key_policy(
        ROOT_STMT, stmt("Allow", {"AWS": ALICE}, "kms:*"), stmt("Deny", "*", "kms:Decrypt", "NoDecrypt")
    )
    grants = ({"GrantId": "g1", "GranteePrincipal": ALICE, "Operations": ["Decrypt"]},)
    msg = denied(authz, req(ALICE, "kms:Decrypt", policy, grants=grants, tokens=("g1",)))
    assert (
        msg == f"User: {ALICE} is not authorized to perform: kms:Decrypt on resource: {KEY} "
        "with an explicit deny in a resource-based policy"
    )
    assert authz.decide(req(ALICE, "kms:Decrypt", policy)).deciding[0].sid == "NoDecrypt"


def test_explicit_deny_in_identity_policy_wins_over_key_policy_and_grants() -> None:
    authz = store_with({ALICE: [iam({"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"})]})
    policy = key_policy(stmt("Allow", {"AWS": ALICE}, "kms:*"))
    grants = ({"GrantId": "g1", "GranteePrincipal": ALICE, "Operations": ["Decrypt"]},)
    msg = denied(authz, req(ALICE, "kms:Decrypt", policy, grants=grants))
    assert msg.endswith("with an explicit deny in an identity-based policy")
    authz.authorize(req(ALICE, "kms:Encrypt", policy))


def test_deny_naming_the_account_applies_to_its_users() -> None:
    authz = store_with({})
    policy = key_policy(stmt("Allow", {"AWS": ALICE}, "kms:*"), stmt("Deny", {"AWS": ACCT}, "kms:Disable*"))
    denied(authz, req(ALICE, "kms:DisableKey", policy))
    authz.authorize(req(ALICE, "kms:EnableKey", policy))


def test_not_principal_deny_protects_everyone_but_the_listed_admin() -> None:
    authz = store_with({})
    policy = key_policy(
        stmt("Allow", "*", "kms:*", Condition={"StringEquals": {"kms:CallerAccount": ACCT}}),
        {"Effect": "Deny", "NotPrincipal": {"AWS": [ALICE]}, "Action": "kms:ScheduleKeyDeletion", "Resource": "*"},
    )
    authz.authorize(req(ALICE, "kms:ScheduleKeyDeletion", policy))
    assert denied(authz, req(BOB, "kms:ScheduleKeyDeletion", policy)).endswith(
        "explicit deny in a resource-based policy"
    )
    authz.authorize(req(BOB, "kms:Encrypt", policy))


# --- conditions --------------------------------------------------------------------------------


def test_encryption_context_condition_in_key_policy() -> None:
    authz = store_with({})
    policy = key_policy(
        stmt(
            "Allow", {"AWS": ALICE}, "kms:Decrypt", Condition={"StringEquals": {"kms:EncryptionContext:dept": "sales"}}
        )
    )
    authz.authorize(req(ALICE, "kms:Decrypt", policy, context={"kms:EncryptionContext:dept": "sales"}))
    denied(authz, req(ALICE, "kms:Decrypt", policy, context={"kms:EncryptionContext:dept": "hr"}))
    denied(authz, req(ALICE, "kms:Decrypt", policy))
    skipped = authz.decide(req(ALICE, "kms:Decrypt", policy)).skipped
    assert "kms:EncryptionContext:dept" in skipped[0][1]


def test_caller_account_condition_with_star_principal() -> None:
    authz = store_with({})
    policy = key_policy(stmt("Allow", "*", "kms:Encrypt", Condition={"StringEquals": {"kms:CallerAccount": ACCT}}))
    authz.authorize(req(ALICE, "kms:Encrypt", policy, context={"kms:CallerAccount": ACCT}))
    # The derived kms:CallerAccount is used when the engine does not pass it.
    authz.authorize(req(ALICE, "kms:Encrypt", policy))
    denied(authz, req(EVE, "kms:Encrypt", policy))


def test_source_ip_and_principal_arn_globals_come_from_the_caller() -> None:
    authz = store_with({})
    policy = key_policy(
        stmt(
            "Allow",
            "*",
            "kms:Encrypt",
            Condition={
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:user/a*"},
            },
        )
    )
    authz.authorize(req(caller(ALICE, source_ip="10.1.1.1"), "kms:Encrypt", policy))
    denied(authz, req(caller(ALICE, source_ip="192.0.2.9"), "kms:Encrypt", policy))
    denied(authz, req(caller(BOB, source_ip="10.1.1.1"), "kms:Encrypt", policy))


def test_assumed_role_session_matches_role_principal() -> None:
    authz = store_with({})
    session = Caller(arn=f"arn:aws:sts::{ACCT}:assumed-role/app/i-123", account=ACCT, identity_type="AssumedRole")
    policy = key_policy(stmt("Allow", {"AWS": f"arn:aws:iam::{ACCT}:role/app"}, "kms:Decrypt"))
    authz.authorize(req(session, "kms:Decrypt", policy))
    other = Caller(arn=f"arn:aws:sts::{ACCT}:assumed-role/other/i-123", account=ACCT, identity_type="AssumedRole")
    denied(authz, req(other, "kms:Decrypt", policy))


def test_service_principal_with_source_account_condition() -> None:
    authz = store_with({})
    trail = Caller(
        arn="cloudtrail.amazonaws.com",
        account=ACCT,
        identity_type="AWSService",
        principal_id="cloudtrail.amazonaws.com",
    )
    policy = key_policy(
        ROOT_STMT,
        stmt(
            "Allow",
            {"Service": "cloudtrail.amazonaws.com"},
            "kms:GenerateDataKey*",
            Condition={"StringEquals": {"aws:SourceAccount": ACCT}},
        ),
    )
    authz.authorize(req(trail, "kms:GenerateDataKey", policy, context={"aws:SourceAccount": ACCT}))
    denied(authz, req(trail, "kms:GenerateDataKey", policy, context={"aws:SourceAccount": OTHER}))
    denied(authz, req(trail, "kms:Decrypt", policy, context={"aws:SourceAccount": ACCT}))


# --- root and lockout --------------------------------------------------------------------------


def test_root_user_is_allowed_by_root_statement_but_not_without_it() -> None:
    authz = store_with({})
    root = f"arn:aws:iam::{ACCT}:root"
    authz.authorize(req(root, "kms:ScheduleKeyDeletion", key_policy(ROOT_STMT)))
    locked = key_policy(stmt("Allow", {"AWS": ALICE}, "kms:*"))
    msg = denied(authz, req(root, "kms:PutKeyPolicy", locked))
    assert msg.startswith(f"User: {root} is not authorized to perform: kms:PutKeyPolicy")


def test_default_key_policy_lets_iam_decide() -> None:
    authz = store_with({ALICE: [iam({"Effect": "Allow", "Action": ["kms:Encrypt"], "Resource": "*"})], BOB: []})
    authz.authorize(req(ALICE, "kms:Encrypt"))
    denied(authz, req(ALICE, "kms:Decrypt"))
    denied(authz, req(BOB, "kms:Encrypt"))


# --- account-level actions ----------------------------------------------------------------------


def test_account_level_actions_are_decided_by_iam_alone() -> None:
    authz = store_with(
        {ALICE: [iam({"Effect": "Allow", "Action": ["kms:CreateKey", "kms:List*"], "Resource": "*"})], BOB: []}
    )
    authz.authorize(req(ALICE, "kms:CreateKey", key=None))
    authz.authorize(req(ALICE, "kms:ListAliases", key=None))
    msg = denied(authz, req(BOB, "kms:CreateKey", key=None))
    assert (
        msg == f"User: {BOB} is not authorized to perform: kms:CreateKey on resource: * "
        "because no identity-based policy allows the kms:CreateKey action"
    )
    authz.authorize(req(f"arn:aws:iam::{ACCT}:root", "kms:GenerateRandom", key=None))


def test_key_arn_resource_does_not_cover_create_key() -> None:
    authz = store_with({ALICE: [iam({"Effect": "Allow", "Action": "kms:*", "Resource": "arn:aws:kms:*:*:key/*"})]})
    denied(authz, req(ALICE, "kms:CreateKey", key=None))


# --- cross-account -----------------------------------------------------------------------------


def test_cross_account_needs_key_policy_and_iam_policy() -> None:
    authz = store_with({EVE: [iam({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})], CAROL: []})
    policy = key_policy(ROOT_STMT, stmt("Allow", {"AWS": f"arn:aws:iam::{OTHER}:root"}, "kms:Decrypt"))
    authz.authorize(req(EVE, "kms:Decrypt", policy))
    denied(authz, req(EVE, "kms:Encrypt", policy))
    only_key = key_policy(stmt("Allow", {"AWS": EVE}, "kms:Encrypt"))
    assert denied(authz, req(EVE, "kms:Encrypt", only_key)).endswith(
        "no identity-based policy allows the kms:Encrypt action"
    )


# --- grants ------------------------------------------------------------------------------------


def test_grant_alone_allows_the_grantee() -> None:
    authz = store_with({BOB: []})
    policy = key_policy(ROOT_STMT)
    grant = {"GrantId": "g-1", "GranteePrincipal": BOB, "Operations": ["Encrypt", "Decrypt"], "KeyId": KEY}
    denied(authz, req(BOB, "kms:Encrypt", policy))
    authz.authorize(req(BOB, "kms:Encrypt", policy, grants=(grant,)))
    decision = authz.decide(req(BOB, "kms:Encrypt", policy, grants=(grant,), tokens=("g-1",)))
    assert decision.deciding[0].source == "grant g-1"
    assert "grant token" in decision.reason
    denied(authz, req(BOB, "kms:GenerateDataKey", policy, grants=(grant,)))
    denied(authz, req(CAROL, "kms:Encrypt", policy, grants=(grant,)))


def test_grant_constraints_subset_and_equals() -> None:
    authz = store_with({})
    policy = key_policy(ROOT_STMT)
    subset = {
        "GrantId": "s",
        "GranteePrincipal": BOB,
        "Operations": ["Decrypt"],
        "Constraints": {"EncryptionContextSubset": {"dept": "sales"}},
    }
    equals = {
        "GrantId": "e",
        "GranteePrincipal": CAROL,
        "Operations": ["Decrypt"],
        "Constraints": {"EncryptionContextEquals": {"dept": "sales"}},
    }
    two = {"kms:EncryptionContext:dept": "sales", "kms:EncryptionContext:region": "eu"}
    one = {"kms:EncryptionContext:Dept": "sales"}
    authz.authorize(req(BOB, "kms:Decrypt", policy, grants=(subset,), context=two))
    denied(authz, req(BOB, "kms:Decrypt", policy, grants=(subset,), context={"kms:EncryptionContext:dept": "hr"}))
    authz.authorize(req(CAROL, "kms:Decrypt", policy, grants=(equals,), context=one))
    denied(authz, req(CAROL, "kms:Decrypt", policy, grants=(equals,), context=two))


def test_retire_grant_by_retiring_principal() -> None:
    authz = store_with({})
    policy = key_policy(stmt("Allow", {"AWS": ALICE}, "kms:CreateGrant"))
    grant = {"GrantId": "g-7", "GranteePrincipal": BOB, "RetiringPrincipal": CAROL, "Operations": ["Decrypt"]}
    ctx = {RETIRE_GRANT_ID_KEY: "g-7"}
    authz.authorize(req(CAROL, "kms:RetireGrant", policy, grants=(grant,), context=ctx))
    denied(authz, req(BOB, "kms:RetireGrant", policy, grants=(grant,), context=ctx))
    with_retire = {**grant, "Operations": ["Decrypt", "RetireGrant"]}
    authz.authorize(req(BOB, "kms:RetireGrant", policy, grants=(with_retire,), context=ctx))


def test_course_grant_walkthrough() -> None:
    """The course notes' demo: Bob is denied, Alice (a key user) grants him Encrypt/Decrypt, Bob succeeds."""
    authz = store_with({ALICE: [], BOB: []})
    policy = key_policy(
        ROOT_STMT,
        stmt(
            "Allow",
            {"AWS": [ALICE]},
            ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Allow use of the key",
        ),
        stmt(
            "Allow",
            {"AWS": [ALICE]},
            ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Allow attachment of persistent resources",
        ),
    )
    msg = denied(authz, req(BOB, "kms:Encrypt", policy))
    assert msg.startswith(f"User: {BOB} is not authorized to perform: kms:Encrypt on resource: {KEY}")
    authz.authorize(req(ALICE, "kms:Encrypt", policy))
    authz.authorize(req(ALICE, "kms:CreateGrant", policy, context={"kms:GrantOperations": ["Encrypt", "Decrypt"]}))
    grant = {
        "GrantId": "a9966",
        "GranteePrincipal": BOB,
        "Operations": ["Encrypt", "Decrypt"],
        "IssuingAccount": f"arn:aws:iam::{ACCT}:root",
    }
    authz.authorize(req(BOB, "kms:Encrypt", policy, grants=(grant,), tokens=("a9966",)))
    denied(authz, req(BOB, "kms:CreateGrant", policy, grants=(grant,)))


def test_retire_grant_is_decided_by_the_grant_not_the_key_policy() -> None:
    authz = store_with({})
    policy = key_policy(stmt("Allow", {"AWS": BOB}, "kms:*"))
    grant = {"GrantId": "g-8", "GranteePrincipal": CAROL, "RetiringPrincipal": CAROL, "Operations": ["Decrypt"]}
    decision = authz.decide(req(BOB, "kms:RetireGrant", policy, grants=(grant,), context={RETIRE_GRANT_ID_KEY: "g-8"}))
    assert not decision.allowed and "may not retire grant g-8" in decision.reason
    # Without the grant ID (engine did not say which grant) the policy decides.
    authz.authorize(req(BOB, "kms:RetireGrant", policy, grants=(grant,)))


def test_grantee_with_create_grant_may_pass_on_only_its_own_operations() -> None:
    authz = store_with({})
    policy = key_policy(ROOT_STMT)
    grant = {"GrantId": "g-9", "GranteePrincipal": BOB, "Operations": ["Decrypt", "CreateGrant"]}
    ok = {"kms:GrantOperations": ["Decrypt"]}
    too_much = {"kms:GrantOperations": ["Decrypt", "Encrypt"]}
    authz.authorize(req(BOB, "kms:CreateGrant", policy, grants=(grant,), context=ok))
    denied(authz, req(BOB, "kms:CreateGrant", policy, grants=(grant,), context=too_much))


def test_root_of_a_trusted_account_needs_no_iam_policy() -> None:
    authz = store_with({})
    policy = key_policy(ROOT_STMT, stmt("Allow", {"AWS": OTHER}, "kms:Decrypt"))
    authz.authorize(req(f"arn:aws:iam::{OTHER}:root", "kms:Decrypt", policy))
    denied(authz, req("arn:aws:iam::777788889999:root", "kms:Decrypt", policy))
