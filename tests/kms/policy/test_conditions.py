"""Condition operators, one family at a time, with the request values that make them hold or fail."""

from __future__ import annotations

from typing import Any

import pytest

from kmslab.kms.policy import failing_condition, parse_operator


def holds(operator: str, key: str, values: list[str] | str, context: dict[str, Any]) -> bool:
    policy_values = tuple(values) if isinstance(values, list) else (values,)
    ctx = {k.lower(): v for k, v in context.items()}
    return failing_condition({operator: {key: policy_values}}, ctx) is None


@pytest.mark.parametrize(
    ("operator", "values", "actual", "expected"),
    [
        ("StringEquals", "sales", "sales", True),
        ("StringEquals", "sales", "Sales", False),
        ("StringEquals", ["hr", "sales"], "sales", True),
        ("StringNotEquals", "sales", "hr", True),
        ("StringNotEquals", ["hr", "sales"], "sales", False),
        ("StringEqualsIgnoreCase", "SALES", "sales", True),
        ("StringNotEqualsIgnoreCase", "SALES", "sales", False),
        ("StringLike", "sa*", "sales", True),
        ("StringLike", "s?les", "sales", True),
        ("StringLike", "s?les", "saales", False),
        ("StringNotLike", "sa*", "hr", True),
        ("StringNotLike", "sa*", "sales", False),
    ],
)
def test_string_operators(operator: str, values: list[str] | str, actual: str, expected: bool) -> None:
    assert holds(operator, "kms:EncryptionContext:dept", values, {"kms:EncryptionContext:dept": actual}) is expected


@pytest.mark.parametrize(
    ("operator", "value", "actual", "expected"),
    [
        ("NumericEquals", "10", 10, True),
        ("NumericNotEquals", "10", 11, True),
        ("NumericLessThan", "10", 9, True),
        ("NumericLessThan", "10", 10, False),
        ("NumericLessThanEquals", "10", 10, True),
        ("NumericGreaterThan", "10", 11, True),
        ("NumericGreaterThan", "10", 10, False),
        ("NumericGreaterThanEquals", "10", 10, True),
        ("NumericEquals", "10", "not-a-number", False),
    ],
)
def test_numeric_operators(operator: str, value: str, actual: object, expected: bool) -> None:
    assert (
        holds(operator, "kms:RecipientAttestation:Count", value, {"kms:RecipientAttestation:Count": actual}) is expected
    )


@pytest.mark.parametrize(
    ("operator", "value", "actual", "expected"),
    [
        ("DateEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00", True),
        ("DateNotEquals", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", True),
        ("DateLessThan", "2026-06-01T00:00:00Z", "2026-01-01T00:00:00Z", True),
        ("DateLessThan", "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z", False),
        ("DateLessThanEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", True),
        ("DateGreaterThan", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", True),
        ("DateGreaterThanEquals", "1767225600", "2026-01-01T00:00:00Z", True),
    ],
)
def test_date_operators(operator: str, value: str, actual: str, expected: bool) -> None:
    assert holds(operator, "aws:CurrentTime", value, {"aws:CurrentTime": actual}) is expected


def test_bool_operator_accepts_bool_and_string() -> None:
    assert holds("Bool", "kms:GrantIsForAWSResource", "true", {"kms:GrantIsForAWSResource": True})
    assert not holds("Bool", "kms:GrantIsForAWSResource", "true", {"kms:GrantIsForAWSResource": False})
    assert holds("Bool", "aws:SecureTransport", "false", {"aws:SecureTransport": "false"})


def test_null_operator() -> None:
    assert holds("Null", "kms:EncryptionContextKeys", "true", {})
    assert not holds("Null", "kms:EncryptionContextKeys", "true", {"kms:EncryptionContextKeys": ["dept"]})
    assert holds("Null", "kms:EncryptionContextKeys", "false", {"kms:EncryptionContextKeys": ["dept"]})
    assert not holds("Null", "kms:EncryptionContextKeys", "false", {"kms:EncryptionContextKeys": []})


def test_ip_operators_use_cidr() -> None:
    assert holds("IpAddress", "aws:SourceIp", "10.0.0.0/8", {"aws:SourceIp": "10.1.2.3"})
    assert not holds("IpAddress", "aws:SourceIp", "10.0.0.0/8", {"aws:SourceIp": "192.0.2.1"})
    assert holds("NotIpAddress", "aws:SourceIp", ["10.0.0.0/8", "127.0.0.1/32"], {"aws:SourceIp": "192.0.2.1"})
    assert not holds("NotIpAddress", "aws:SourceIp", "127.0.0.0/8", {"aws:SourceIp": "127.0.0.1"})
    assert holds("IpAddress", "aws:SourceIp", "2001:db8::/32", {"aws:SourceIp": "2001:db8::1"})


def test_arn_operators_match_segment_by_segment() -> None:
    role = "arn:aws:iam::111122223333:role/app"
    assert holds("ArnEquals", "aws:PrincipalArn", role, {"aws:PrincipalArn": role})
    assert holds("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:role/app*", {"aws:PrincipalArn": role})
    assert not holds("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:user/*", {"aws:PrincipalArn": role})
    assert holds("ArnNotLike", "aws:PrincipalArn", "arn:aws:iam::*:user/*", {"aws:PrincipalArn": role})
    assert not holds("ArnNotEquals", "aws:PrincipalArn", role, {"aws:PrincipalArn": role})
    # A * in the account segment must not swallow the following colons.
    assert not holds("ArnLike", "aws:SourceArn", "arn:aws:s3:::*:x", {"aws:SourceArn": "arn:aws:s3:::bucket"})


def test_missing_keys() -> None:
    assert not holds("StringEquals", "kms:ViaService", "s3.us-east-1.amazonaws.com", {})
    assert holds("StringNotEquals", "kms:ViaService", "s3.us-east-1.amazonaws.com", {})
    assert holds("StringEqualsIfExists", "kms:ViaService", "s3.us-east-1.amazonaws.com", {})
    assert not holds(
        "StringEqualsIfExists", "kms:ViaService", "s3.amazonaws.com", {"kms:ViaService": "ec2.amazonaws.com"}
    )


def test_set_operators() -> None:
    keys = {"kms:EncryptionContextKeys": ["dept", "project"]}
    assert holds("ForAllValues:StringEquals", "kms:EncryptionContextKeys", ["dept", "project", "x"], keys)
    assert not holds("ForAllValues:StringEquals", "kms:EncryptionContextKeys", ["dept"], keys)
    assert holds("ForAnyValue:StringEquals", "kms:EncryptionContextKeys", ["dept"], keys)
    assert not holds("ForAnyValue:StringEquals", "kms:EncryptionContextKeys", ["other"], keys)
    assert holds("ForAnyValue:StringNotEquals", "kms:EncryptionContextKeys", ["dept"], keys)
    assert not holds("ForAllValues:StringNotEquals", "kms:EncryptionContextKeys", ["dept"], keys)
    # Absent key: ForAllValues holds vacuously, ForAnyValue does not.
    assert holds("ForAllValues:StringEquals", "kms:EncryptionContextKeys", ["dept"], {})
    assert not holds("ForAnyValue:StringEquals", "kms:EncryptionContextKeys", ["dept"], {})
    assert holds(
        "ForAllValues:StringLike",
        "kms:GrantOperations",
        ["Decrypt", "Encrypt", "Generate*"],
        {"kms:GrantOperations": ["Decrypt", "GenerateDataKey"]},
    )


def test_condition_key_names_are_case_insensitive_values_are_not() -> None:
    assert holds("StringEquals", "KMS:encryptioncontext:Dept", "sales", {"kms:EncryptionContext:dept": "sales"})
    assert not holds("StringEquals", "kms:EncryptionContext:dept", "SALES", {"kms:EncryptionContext:dept": "sales"})


def test_all_operators_and_keys_must_hold() -> None:
    ctx = {"kms:callaccount": "1", "kms:encryptioncontext:dept": "sales"}
    cond = {
        "StringEquals": {"kms:CallAccount": ("1",), "kms:EncryptionContext:dept": ("sales",)},
        "Bool": {"aws:SecureTransport": ("true",)},
    }
    reason = failing_condition(cond, {**ctx, "aws:securetransport": False})
    assert reason is not None and "aws:SecureTransport" in reason
    assert failing_condition(cond, {**ctx, "aws:securetransport": True}) is None


def test_parse_operator_parts() -> None:
    op = parse_operator("ForAnyValue:StringLikeIfExists")
    assert (op.set_operator, op.base, op.if_exists) == ("ForAnyValue", "StringLike", True)
    with pytest.raises(ValueError):
        parse_operator("StringMatches")
