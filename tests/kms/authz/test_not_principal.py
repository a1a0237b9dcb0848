"""A Deny with NotPrincipal [alice, account root] through the engine, as IAM's NotPrincipal reference shows it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.kms.authz import KmsAuthorizer, caller_for_arn, parse_identities
from kmslab.kms.engine import LocalKms

ACCT = "111122223333"
ROOT = f"arn:aws:iam::{ACCT}:root"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
ADMIN = f"arn:aws:iam::{ACCT}:user/admin"
KMS_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
STORE = parse_identities(
    {
        "account": ACCT,
        "identities": [
            {"arn": ALICE, "access_key_id": "AKIAALICE00000000000", "secret_access_key": "a", "policies": [KMS_ALL]},
            {"arn": ADMIN, "access_key_id": "AKIAADMIN00000000000", "secret_access_key": "b", "policies": [KMS_ALL]},
        ],
    }
)


def policy(*extra: dict[str, Any]) -> str:
    statements = [
        {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
        *extra,
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def test_deny_not_principal_account_arn_does_not_exempt_the_account_admin() -> None:
    kms = LocalKms(None, account=ACCT, authorizer=KmsAuthorizer(STORE))
    try:
        root, alice, admin = (kms.boto3_client(caller=caller_for_arn(arn)) for arn in (ROOT, ALICE, ADMIN))
        only_alice = {
            "Sid": "OnlyAliceDecrypts",
            "Effect": "Deny",
            "NotPrincipal": {"AWS": [ALICE, ROOT]},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
        key = root.create_key(Policy=policy(only_alice))["KeyMetadata"]["Arn"]
        blob = admin.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
        assert alice.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
        assert root.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
        with pytest.raises(ClientError) as exc:
            admin.decrypt(CiphertextBlob=blob)
        assert exc.value.response["Error"] == {
            "Code": "AccessDeniedException",
            "Message": f"User: {ADMIN} is not authorized to perform: kms:Decrypt on resource: {key} "
            "with an explicit deny in a resource-based policy",
        }

        allow_everyone_else = {**only_alice, "Sid": "Everyone", "Effect": "Allow", "NotPrincipal": {"AWS": ALICE}}
        with pytest.raises(ClientError) as exc:
            root.put_key_policy(KeyId=key, PolicyName="default", Policy=policy(allow_everyone_else))
        assert exc.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
        with pytest.raises(ClientError) as exc:
            root.create_key(Policy=policy(allow_everyone_else))
        assert exc.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    finally:
        kms.close()


def test_a_stored_allow_not_principal_statement_has_no_effect_and_does_not_lock_the_key() -> None:
    # A key whose policy was stored before Allow + NotPrincipal was refused: its owner can still act.
    from kmslab.kms.authz import explain
    from kmslab.kms.policy import parse_policy

    everyone_but_alice = {"Sid": "Everyone", "Effect": "Allow", "NotPrincipal": {"AWS": ALICE}, "Action": "kms:*"}
    text = policy({**everyone_but_alice, "Resource": "*"})
    parsed = parse_policy(text, stored=True)
    assert parsed.statements[1].not_principal is not None
    key = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    admin = explain(principal=ADMIN, action="kms:PutKeyPolicy", store=STORE, key_arn=key, key_policy=text)
    assert admin.allowed and [r.sid for r in admin.deciding] == ["Account", "statement #1"]
    why = dict((ref.sid, reason) for ref, reason in admin.skipped)
    assert why["Everyone"] == "Allow with NotPrincipal is not supported, so the statement has no effect"
    no_iam = parse_identities({"account": ACCT, "identities": []})
    assert not explain(principal=ADMIN, action="kms:Decrypt", store=no_iam, key_arn=key, key_policy=text).allowed
