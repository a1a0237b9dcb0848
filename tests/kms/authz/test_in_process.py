"""Through the engine's in-process boto3 client with a fixed caller per client."""

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
APP_ROLE = f"arn:aws:iam::{ACCT}:role/app"
STORE = parse_identities(
    {
        "account": ACCT,
        "identities": [
            {
                "arn": ALICE,
                "access_key_id": "AKIAALICE00000000000",
                "secret_access_key": "a",
                "policies": [{"Statement": [{"Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}]}],
            }
        ],
    }
)
POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "AliceAdmin", "Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "kms:*", "Resource": "*"},
        {
            "Sid": "AppSalesOnly",
            "Effect": "Allow",
            "Principal": {"AWS": APP_ROLE},
            "Action": ["kms:Encrypt", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:dept": "sales"}},
        },
        {
            "Sid": "NoDisable",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:DisableKey",
            "Resource": "*",
        },
    ],
}


def code_and_message(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_conditions_denies_and_lockout_through_the_engine() -> None:
    kms = LocalKms(None, account=ACCT, authorizer=KmsAuthorizer(STORE))
    try:
        root = kms.boto3_client(caller=caller_for_arn(ROOT))
        alice = kms.boto3_client(caller=caller_for_arn(ALICE))
        app = kms.boto3_client(caller=caller_for_arn(APP_ROLE))
        key_arn = root.create_key(Policy=json.dumps(POLICY))["KeyMetadata"]["Arn"]

        blob = app.encrypt(KeyId=key_arn, Plaintext=b"p", EncryptionContext={"dept": "sales"})["CiphertextBlob"]
        assert app.decrypt(CiphertextBlob=blob, EncryptionContext={"dept": "sales"})["Plaintext"] == b"p"
        with pytest.raises(ClientError) as exc:
            app.encrypt(KeyId=key_arn, Plaintext=b"p", EncryptionContext={"dept": "hr"})
        assert code_and_message(exc)[0] == "AccessDeniedException"

        with pytest.raises(ClientError) as exc:
            alice.disable_key(KeyId=key_arn)
        assert code_and_message(exc) == (
            "AccessDeniedException",
            f"User: {ALICE} is not authorized to perform: kms:DisableKey on resource: {key_arn} "
            "with an explicit deny in a resource-based policy",
        )
        with pytest.raises(ClientError) as exc:
            alice.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7)
        assert code_and_message(exc)[1].endswith("with an explicit deny in an identity-based policy")

        without_alice = {
            **POLICY,
            "Statement": [s for s in POLICY["Statement"] if s["Sid"] not in ("AliceAdmin", "Root")],
        }
        without_root = {**POLICY, "Statement": [s for s in POLICY["Statement"] if s["Sid"] != "Root"]}
        # Without her statement and without the account (root) statement Alice would be locked out.
        with pytest.raises(ClientError) as exc:
            alice.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(without_alice))
        assert code_and_message(exc) == (
            "MalformedPolicyDocumentException",
            "The new key policy will not allow you to update the key policy in the future.",
        )
        alice.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(without_root))
        with pytest.raises(ClientError) as exc:
            root.describe_key(KeyId=key_arn)
        assert code_and_message(exc)[0] == "AccessDeniedException"
        with pytest.raises(ClientError) as exc:
            root.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps({"Statement": []}))
        assert code_and_message(exc)[1].endswith("because no resource-based policy allows the kms:PutKeyPolicy action")
    finally:
        kms.close()
