"""``kmslab check 3``: bob kept out, the grants key, its explicit deny, and no grant for bob left over."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.guide.checks.conftest import ACCOUNT, run_chapter
from tests.integration.conftest import Kit

BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
ALICE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/kmslab-key-user"


def _policy(*, deny_bob: bool, condition: bool = False) -> str:
    alice = {
        "Sid": "AliceUsesAndShares",
        "Effect": "Allow",
        "Principal": {"AWS": ALICE_ROLE},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants"],
        "Resource": "*",
    }
    if condition:
        alice["Condition"] = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    statements = [
        {
            "Sid": "EnableIamPolicies",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        alice,
    ]
    if deny_bob:
        statements.append(
            {
                "Sid": "BobNeverDecrypts",
                "Effect": "Deny",
                "Principal": {"AWS": BOB},
                "Action": "kms:Decrypt",
                "Resource": "*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def test_the_grant_walk_through_step_by_step(
    kit: Kit, profiles: Callable[..., None], workshop_aliases: Callable[..., str]
) -> None:
    before = run_chapter(3)
    assert [f.ok for f in before] == [True, False, False, False]
    assert all("step 3.5" in f.hint for f in before[1:])

    kms = kit.client("kms")
    key = workshop_aliases("alias/workshop/grants", Policy=_policy(deny_bob=False, condition=True))
    conditional = run_chapter(3)
    assert not conditional[1].ok  # only grants for AWS resources: alice cannot share it herself
    assert "step 3.7" in conditional[2].hint and conditional[3].ok

    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=_policy(deny_bob=False))
    alice = kit.as_role("kms", "kmslab-key-user")
    grant = alice.create_grant(KeyId=key, GranteePrincipal=BOB, Operations=["Encrypt", "Decrypt"], Name="friday")
    shared = run_chapter(3)
    assert [f.ok for f in shared] == [True, True, False, False]
    assert "retire or revoke friday (step 3.8)" in shared[3].hint

    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=_policy(deny_bob=True))
    kms.revoke_grant(KeyId=key, GrantId=grant["GrantId"])
    assert all(f.ok for f in run_chapter(3))


def test_bob_with_kms_permissions_fails_the_first_check(kit: Kit, profiles: Callable[..., None]) -> None:
    profiles(users={"admin": "admin", "bob": "alice"})  # alice's user has KMS permissions of her own
    found = run_chapter(3)[0]
    assert not found.ok and "no KMS permission" in found.hint
