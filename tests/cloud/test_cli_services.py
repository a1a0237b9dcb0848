"""SSM, Secrets Manager and STS with the real AWS CLI: a disabled key stops decryption; assume-role credentials work."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cloud._awscli import AwsCli
from tests.cloud.conftest import Running

ACCOUNT = "111122223333"


@pytest.fixture(scope="module")
def alice(cloud: Running, tmp_path_factory: pytest.TempPathFactory) -> AwsCli:
    """The CLI as alice (a key user with SSM and Secrets Manager rights)."""
    return AwsCli(cloud, tmp_path_factory.mktemp("alice"), cloud.creds("alice"))


def _key(cloud: Running) -> str:
    return str(cloud.client("kms").create_key()["KeyMetadata"]["Arn"])


def test_get_parameter_with_decryption_fails_with_a_disabled_key(cloud: Running, alice: AwsCli) -> None:
    key = _key(cloud)
    put = alice.run(
        "ssm", "put-parameter", "--name", "/cli/db", "--value", "p4ss", "--type", "SecureString", "--key-id", key
    )
    assert put.returncode == 0, put.stderr
    got = alice.json("ssm", "get-parameter", "--name", "/cli/db", "--with-decryption")
    assert got["Parameter"]["Value"] == "p4ss"
    cloud.client("kms").disable_key(KeyId=key)
    refused = alice.run("ssm", "get-parameter", "--name", "/cli/db", "--with-decryption")
    assert refused.returncode != 0
    assert "(InvalidKeyId) when calling the GetParameter operation" in refused.stderr
    assert "DisabledException" in refused.stderr
    masked = alice.json("ssm", "get-parameter", "--name", "/cli/db")  # without decryption: no KMS call
    assert masked["Parameter"]["Value"] != "p4ss"


def test_get_secret_value_fails_with_a_disabled_key(cloud: Running, alice: AwsCli) -> None:
    key = _key(cloud)
    made = alice.run(
        "secretsmanager", "create-secret", "--name", "cli/secret", "--secret-string", "s3cr3t", "--kms-key-id", key
    )
    assert made.returncode == 0, made.stderr
    assert alice.json("secretsmanager", "get-secret-value", "--secret-id", "cli/secret")["SecretString"] == "s3cr3t"
    cloud.client("kms").disable_key(KeyId=key)
    refused = alice.run("secretsmanager", "get-secret-value", "--secret-id", "cli/secret")
    assert refused.returncode != 0
    assert "(DecryptionFailure) when calling the GetSecretValue operation" in refused.stderr


def test_credentials_from_sts_assume_role(cloud: Running, alice: AwsCli, tmp_path: Path) -> None:
    key = _key(cloud)
    role = f"arn:aws:iam::{ACCOUNT}:role/kmslab-key-user"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam = cloud.client("iam")
    iam.create_role(RoleName="kmslab-key-user", AssumeRolePolicyDocument=json.dumps(trust))
    use = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": key}]}
    iam.put_role_policy(RoleName="kmslab-key-user", PolicyName="use", PolicyDocument=json.dumps(use))
    answer: Any = alice.json("sts", "assume-role", "--role-arn", role, "--role-session-name", "cli-test")
    creds = answer["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    assumed = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    session = AwsCli(cloud, tmp_path / "session", assumed)
    who = session.json("sts", "get-caller-identity")
    assert who["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/kmslab-key-user/cli-test"
    encrypted = session.json("kms", "encrypt", "--key-id", key, "--plaintext", "aGk=")
    assert encrypted["KeyId"] == key
    blob = tmp_path / "blob.bin"  # the CLI v1 sends a blob argument's text as is: give it the bytes
    blob.write_bytes(base64.b64decode(encrypted["CiphertextBlob"]))
    denied = session.run("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}")
    assert denied.returncode != 0 and "AccessDeniedException" in denied.stderr  # the role may only encrypt
    tokenless = AwsCli(cloud, tmp_path / "tokenless", {k: v for k, v in assumed.items() if k != "aws_session_token"})
    refused = tokenless.run("sts", "get-caller-identity")
    assert refused.returncode != 0
    assert "InvalidClientTokenId" in refused.stderr  # temporary keys without their session token are unknown
    bob = AwsCli(cloud, tmp_path / "bob", cloud.creds("bob"))
    assert "AccessDenied" in bob.run("sts", "assume-role", "--role-arn", role, "--role-session-name", "bob").stderr
