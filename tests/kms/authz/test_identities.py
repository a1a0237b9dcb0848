"""Loading the identities file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kmslab.kms.authz import IdentityFileError, caller_for_arn, load_identities
from kmslab.kms.seams import Caller

ACCT = "111122223333"
ALICE = {
    "arn": f"arn:aws:iam::{ACCT}:user/alice",
    "access_key_id": "AKIAALICE00000000000",
    "secret_access_key": "top-secret-value",
    "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}],
}


def write(tmp_path: Path, data: object, name: str = "ids.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data))
    return path


def test_load_json_and_yaml(tmp_path: Path) -> None:
    data = {
        "account": ACCT,
        "identities": [
            ALICE,
            {"arn": f"arn:aws:iam::{ACCT}:root", "access_key_id": "AKIAROOT000000000000", "secret_access_key": "r"},
            {
                "arn": f"arn:aws:iam::{ACCT}:role/app",
                "access_key_id": "AKIAAPP0000000000000",
                "secret_access_key": "a",
                "session_name": "worker",
                "policies": [
                    {
                        "name": "app-kms",
                        "document": {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]},
                    }
                ],
            },
        ],
    }
    for name in ("ids.json", "ids.yaml"):
        store = load_identities(write(tmp_path, data, name))
        assert len(store) == 3
        alice = store.by_access_key("AKIAALICE00000000000")
        assert alice is not None and alice.identity_type == "IAMUser"
        assert alice.policies[0].name == "alice-policy-1"
        root = store.by_arn(f"arn:aws:iam::{ACCT}:root")
        assert root is not None and root.identity_type == "Root"
        app = store.by_access_key("AKIAAPP0000000000000")
        assert app is not None and app.arn == f"arn:aws:sts::{ACCT}:assumed-role/app/worker"
        assert app.policies[0].name == "app-kms"
        session = Caller(arn=f"arn:aws:sts::{ACCT}:assumed-role/app/other", account=ACCT, identity_type="AssumedRole")
        assert store.policies_for(session)[0].name == "app-kms"
        assert store.policies_for(Caller.root(ACCT)) == ()


def test_secrets_never_in_repr(tmp_path: Path) -> None:
    store = load_identities(write(tmp_path, {"account": ACCT, "identities": [ALICE]}))
    assert "top-secret-value" not in repr(store)
    assert "top-secret-value" not in repr(store.identities[0])
    assert "top-secret-value" not in repr(store.identities[0].caller())


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "must be an object"),
        ({"account": "123", "identities": []}, "12-digit"),
        ({"account": ACCT}, "identities must be a list"),
        (
            {"account": ACCT, "identities": [{**ALICE, "arn": "alice"}]},
            r"identities\[0\].arn: not an IAM principal ARN",
        ),
        ({"account": ACCT, "identities": [{**ALICE, "access_key_id": "lower"}]}, "access_key_id"),
        (
            {"account": ACCT, "identities": [{k: v for k, v in ALICE.items() if k != "secret_access_key"}]},
            "secret_access_key: missing",
        ),
        ({"account": ACCT, "identities": [ALICE, {**ALICE, "arn": f"arn:aws:iam::{ACCT}:user/bob"}]}, "used twice"),
        (
            {
                "account": ACCT,
                "identities": [
                    {**ALICE, "policies": [{"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}]}
                ],
            },
            r"policies\[0\]: .*Effect",
        ),
        ({"account": ACCT, "identities": [{**ALICE, "policies": "kms:*"}]}, "must be a list"),
    ],
)
def test_malformed_files_give_one_line_errors(tmp_path: Path, data: object, fragment: str) -> None:
    with pytest.raises(IdentityFileError, match=fragment) as err:
        load_identities(write(tmp_path, data))
    assert "\n" not in str(err.value)
    assert "top-secret-value" not in str(err.value)


def test_unreadable_and_unparseable_files(tmp_path: Path) -> None:
    with pytest.raises(IdentityFileError, match="cannot read"):
        load_identities(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(IdentityFileError, match="not valid JSON"):
        load_identities(bad)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("a: [1, 2\n")
    with pytest.raises(IdentityFileError, match="not valid YAML"):
        load_identities(bad_yaml)


def test_caller_for_arn_forms() -> None:
    assert caller_for_arn(f"arn:aws:iam::{ACCT}:root").identity_type == "Root"
    role = caller_for_arn(f"arn:aws:iam::{ACCT}:role/app")
    assert role.arn == f"arn:aws:sts::{ACCT}:assumed-role/app/kmslab"
    assert role.principal_id.endswith(":kmslab")
    with pytest.raises(IdentityFileError):
        caller_for_arn("arn:aws:s3:::bucket")
