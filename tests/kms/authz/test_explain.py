"""explain(): the structured decision, and the ``explain`` click command (offline, with --policy-file)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from kmslab.kms.authz import ExplainError, explain, parse_identities
from kmslab.kms.authz.cli import explain as explain_cmd

ACCT = "111122223333"
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "SalesOnly",
            "Effect": "Allow",
            "Principal": {"AWS": ALICE},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:dept": "sales"}},
        },
    ],
}
IDENTITIES = {
    "account": ACCT,
    "identities": [
        {"arn": ALICE, "access_key_id": "AKIAALICE00000000000", "secret_access_key": "a"},
        {
            "arn": BOB,
            "access_key_id": "AKIABOB0000000000000",
            "secret_access_key": "b",
            "policies": [
                {
                    "name": "bob-encrypt",
                    "document": {"Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]},
                }
            ],
        },
    ],
}


def test_explain_names_deciding_statement_and_skipped_ones() -> None:
    store = parse_identities(IDENTITIES)
    ok = explain(
        principal=ALICE,
        action="Decrypt",
        store=store,
        key_arn=KEY,
        key_policy=POLICY,
        context={"kms:EncryptionContext:dept": "sales"},
    )
    assert ok.allowed and ok.deny_kind is None and ok.message is None
    assert [(r.source, r.sid) for r in ok.deciding] == [("key policy", "SalesOnly")]
    no = explain(principal=ALICE, action="kms:Decrypt", store=store, key_arn=KEY, key_policy=POLICY)
    assert not no.allowed
    assert no.deny_kind == "implicit-identity"
    why = dict((r.sid, w) for r, w in no.skipped)
    assert "kms:EncryptionContext:dept" in why["SalesOnly"]
    body = no.to_dict()
    assert body["decision"] == "DENY"
    assert body["message"].endswith("because no identity-based policy allows the kms:Decrypt action")
    bob = explain(principal=BOB, action="kms:Encrypt", store=store, key_arn=KEY, key_policy=json.dumps(POLICY))
    assert bob.allowed and {r.source for r in bob.deciding} == {"key policy", "identity policy bob-encrypt"}


def test_explain_command_offline(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(POLICY))
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(IDENTITIES))
    runner = CliRunner()
    args = [
        "--principal",
        ALICE,
        "--action",
        "kms:Decrypt",
        "--key",
        KEY,
        "--policy-file",
        str(policy),
        "--identities",
        str(ids),
    ]
    out = runner.invoke(explain_cmd, [*args, "--context", "kms:EncryptionContext:dept=sales"])
    assert out.exit_code == 0, out.output
    assert out.output.startswith(f"ALLOW: {ALICE} -> kms:Decrypt on {KEY}")
    assert "deciding: [Allow] key policy: SalesOnly" in out.output
    out = runner.invoke(explain_cmd, [*args, "--context", "kms:EncryptionContext:dept=hr", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["allowed"] is False
    assert data["message"] == (
        f"User: {ALICE} is not authorized to perform: kms:Decrypt on resource: {KEY} "
        "because no identity-based policy allows the kms:Decrypt action"
    )
    short_key = runner.invoke(
        explain_cmd,
        [
            "--principal",
            BOB,
            "--action",
            "Encrypt",
            "--key",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "--policy-file",
            str(policy),
            "--identities",
            str(ids),
        ],
    )
    assert short_key.exit_code == 0 and short_key.output.startswith("ALLOW")


def test_explain_command_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(explain_cmd, ["--principal", ALICE, "--action", "kms:Decrypt", "--key", KEY])
    assert out.exit_code == 2 and "--endpoint" in out.output
    out = runner.invoke(explain_cmd, ["--principal", ALICE, "--action", "kms:Decrypt", "--context", "nokey"])
    assert out.exit_code == 2 and "KEY=VALUE" in out.output


def test_explain_command_unreachable_endpoint_is_one_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    runner = CliRunner()
    out = runner.invoke(
        explain_cmd,
        ["--principal", ALICE, "--action", "kms:Decrypt", "--key", "alias/x", "--endpoint", f"http://127.0.0.1:{port}"],
    )
    assert isinstance(out.exception, ExplainError)
    assert f"127.0.0.1:{port}" in str(out.exception)


def test_account_level_explain_needs_no_key() -> None:
    store = parse_identities(IDENTITIES)
    decision = explain(principal=BOB, action="kms:CreateKey", store=store)
    assert not decision.allowed and decision.resource == "*"
    assert explain(principal=f"arn:aws:iam::{ACCT}:root", action="kms:CreateKey", store=store).allowed


@pytest.mark.parametrize("bad", ["arn:aws:s3:::bucket", "bob"])
def test_explain_rejects_non_principal_arns(bad: str) -> None:
    from kmslab.kms.authz import IdentityFileError

    with pytest.raises(IdentityFileError):
        explain(principal=bad, action="kms:Decrypt", store=parse_identities(IDENTITIES))


# --- issue 17: an unknown action is refused; the output always names what decided ------------------


@pytest.mark.parametrize(
    ("action", "says"),
    [
        ("kms:Fly", "unknown action 'kms:Fly'"),
        ("Fly", "unknown action 'Fly'"),
        ("kms:Decrpyt", "did you mean kms:Decrypt?"),
        ("kms:ReEncrypt", "kms:ReEncryptFrom"),
        ("kms:Generate*", "is a pattern"),
        ("s3:GetObject", "not a KMS action"),
    ],
)
def test_unknown_action_is_one_line_and_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str, says: str
) -> None:
    from kmslab.cli import main

    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(POLICY))
    argv = ["kms", "explain", "--principal", BOB, "--action", action, "--key", KEY, "--policy-file", str(policy)]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    assert exc.value.code == 2
    assert out == ""
    assert err.count("\n") == 1 and says in err and "Traceback" not in err
    with pytest.raises(ExplainError, match="action"):
        explain(principal=BOB, action=action, store=parse_identities(IDENTITIES), key_arn=KEY, key_policy=POLICY)


def test_actions_are_matched_without_regard_to_case_and_permission_only_ones_are_known() -> None:
    store = parse_identities(IDENTITIES)
    assert explain(principal=BOB, action="KMS:encrypt", store=store, key_arn=KEY, key_policy=POLICY).action == (
        "kms:Encrypt"
    )
    for action in ("kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:SynchronizeMultiRegionKey", "kms:GenerateMac"):
        assert explain(principal=BOB, action=action, store=store, key_arn=KEY, key_policy=POLICY).action == action


def test_text_output_names_what_decided_even_when_no_statement_applies() -> None:
    from kmslab.kms.authz.explain import format_decision

    store = parse_identities(IDENTITIES)
    only_alice = {"Statement": [POLICY["Statement"][1]]}
    denied = format_decision(
        explain(principal=BOB, action="kms:Decrypt", store=store, key_arn=KEY, key_policy=only_alice)
    )
    assert "deciding: no statement or grant allows kms:Decrypt here" in denied
    assert "not applicable: [Allow] key policy: SalesOnly" in denied
    root = format_decision(explain(principal=f"arn:aws:iam::{ACCT}:root", action="kms:CreateKey", store=store))
    assert "deciding: no statement: the root user holds every permission" in root
    allowed = format_decision(explain(principal=BOB, action="kms:Encrypt", store=store, key_arn=KEY, key_policy=POLICY))
    assert "deciding: [Allow] key policy: Enable IAM User Permissions" in allowed
    assert "deciding: [Allow] identity policy bob-encrypt" in allowed
