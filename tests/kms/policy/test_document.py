"""Parsing and validating key policies and IAM policies."""

from __future__ import annotations

import json

import pytest

from kmslab.kms.errors import LimitExceededException, MalformedPolicyDocumentException
from kmslab.kms.policy import (
    INVALID_PRINCIPALS,
    NO_PRINCIPAL,
    default_key_policy,
    parse_policy,
    validate_key_policy,
)

ACCT = "111122223333"


def _doc(**statement: object) -> str:
    base: dict[str, object] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    base.update(statement)
    return json.dumps({"Version": "2012-10-17", "Statement": [base]})


def test_default_key_policy_is_valid_and_names_the_account_root() -> None:
    doc = validate_key_policy(default_key_policy(ACCT))
    (stmt,) = doc["Statement"]
    assert stmt["Principal"] == {"AWS": f"arn:aws:iam::{ACCT}:root"}
    assert stmt["Action"] == "kms:*"
    assert stmt["Sid"] == "Enable IAM User Permissions"


def test_statement_may_be_a_single_object_and_lists_are_normalized() -> None:
    policy = parse_policy(
        {"Statement": {"Effect": "Deny", "Principal": "*", "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*"}}
    )
    (stmt,) = policy.statements
    assert stmt.effect == "Deny"
    assert stmt.principal is not None and stmt.principal.anyone
    assert stmt.actions == ("kms:Decrypt", "kms:Encrypt")
    assert stmt.label == "statement #1"


def test_account_id_principal_is_stored_as_root_arn() -> None:
    policy = parse_policy(_doc(Principal={"AWS": ACCT}))
    assert policy.statements[0].principal is not None
    assert policy.statements[0].principal.aws == (f"arn:aws:iam::{ACCT}:root",)


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": "alice"},
        {"AWS": "arn:aws:iam::*:root"},
        {"AWS": "arn:aws:iam::1111:root"},
        {"AWS": "arn:aws:iam::111122223333:group/admins"},
        {"AWS": "AIDACKCEVSQ6C2EXAMPLE"},
        {"Service": "not a service"},
        {"CanonicalUser": "abc"},
        {},
        "everyone",
    ],
)
def test_invalid_principals_use_aws_message(principal: object) -> None:
    with pytest.raises(MalformedPolicyDocumentException) as err:
        validate_key_policy(_doc(Principal=principal))
    assert err.value.message == INVALID_PRINCIPALS
    assert err.value.code == "MalformedPolicyDocumentException"


def test_valid_principal_forms_pass() -> None:
    validate_key_policy(
        _doc(
            Principal={
                "AWS": [
                    ACCT,
                    f"arn:aws:iam::{ACCT}:user/alice",
                    f"arn:aws:iam::{ACCT}:role/path/app",
                    f"arn:aws:sts::{ACCT}:assumed-role/app/session-1",
                    "*",
                ],
                "Service": ["cloudtrail.amazonaws.com", "logs.us-east-1.amazonaws.com"],
            }
        )
    )


def test_statement_without_principal_is_refused_with_aws_message() -> None:
    doc = json.dumps({"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]})
    with pytest.raises(MalformedPolicyDocumentException, match=NO_PRINCIPAL):
        validate_key_policy(doc)


def test_identity_policy_must_not_have_principal() -> None:
    with pytest.raises(MalformedPolicyDocumentException, match="cannot have a Principal"):
        parse_policy(_doc(), kind="identity")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        (json.dumps({"Version": "2012-10-17"}), "no Statement"),
        (json.dumps({"Statement": []}), "empty Statement"),
        (json.dumps({"Version": "2020-01-01", "Statement": []}), "invalid Version"),
        (_doc(Effect="allow"), "invalid Effect"),
        (_doc(Effect="Permit"), "invalid Effect"),
        (_doc(Condition={"StringEqualz": {"kms:CallerAccount": ACCT}}), "unknown condition operator: StringEqualz"),
        (_doc(Condition={"ForSomeValues:StringEquals": {"a": "b"}}), "unknown condition operator"),
        (_doc(Condition={"NullIfExists": {"a": "true"}}), "unknown condition operator"),
        (_doc(Condition={"StringEquals": {"a": {"nested": 1}}}), "invalid value"),
        (_doc(NotAction="kms:Decrypt"), "both Action and NotAction"),
        (_doc(Colour="blue"), "unknown element: Colour"),
        (_doc(Action=[]), "empty Action"),
    ],
)
def test_malformed_documents(text: str, fragment: str) -> None:
    with pytest.raises(MalformedPolicyDocumentException, match=fragment):
        validate_key_policy(text)


def test_statement_missing_action_or_resource_is_accepted_as_aws_does() -> None:
    doc = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Resource": "*"}]})
    assert validate_key_policy(doc)["Statement"][0]["Effect"] == "Allow"


def test_size_limit_is_32_kib() -> None:
    sid = "x" * 32768
    with pytest.raises(LimitExceededException, match="32768"):
        validate_key_policy(_doc(Sid=sid))
    fits = _doc(Sid="x" * (32768 - len(_doc(Sid=""))))
    assert len(fits) == 32768
    validate_key_policy(fits)


def test_characters_outside_latin1_are_refused() -> None:
    with pytest.raises(MalformedPolicyDocumentException, match="characters"):
        validate_key_policy(_doc(Sid="\u20ac").replace("\\u20ac", "\u20ac"))
    validate_key_policy(_doc(Sid="caf\u00e9").replace("\\u00e9", "\u00e9"))


def test_cloudformation_key_policy_dict_is_accepted() -> None:
    cfn = {
        "Statement": [
            {
                "Action": "kms:*",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
                "Resource": "*",
            },
            {
                "Action": ["kms:Decrypt", "kms:Encrypt"],
                "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCT}:role/app-role"},
                "Resource": "*",
            },
        ],
        "Version": "2012-10-17",
    }
    assert validate_key_policy(cfn) == cfn
    assert len(parse_policy(cfn).statements) == 2
