"""CloudWatch Logs filter patterns: AWS's documented examples, and the kit's own pattern."""

from __future__ import annotations

import json

import pytest

from kmslab.cloud.logs import InvalidParameterException, compile_pattern

# The JSON event of AWS's "Match terms in JSON log events" examples (in our own words and values).
EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "123.123.123.123",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "cluster": {"status": "ok", "latency": 523.5, "nodes": 3},
        "ThisFlag": True,
        "OtherFlag": False,
        "code": "INTERNAL ERROR",
    }
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.eventType = "UpdateTrail" }', True),
        ('{ $.eventType = "CreateTrail" }', False),
        ("{ $.eventType = UpdateTrail }", True),
        ('{ $.eventType != "CreateTrail" }', True),
        ("{ $.sourceIPAddress = 123.123.* }", True),
        ("{ $.sourceIPAddress != 123.123.* }", False),
        ('{ $.eventType = "Update*" }', True),
        ('{ $.eventType = "*Trail" }', True),
        ('{ $.eventType = "update*" }', False),  # case sensitive
        ('{ $.arrayKey[0] = "value" }', True),
        ('{ $.arrayKey[1] = "another*" }', True),
        ('{ $.arrayKey[5] = "value" }', False),
        ("{ $.objectList[1].id = 2 }", True),
        ("{ $.objectList[1].id > 1 }", True),
        ("{ $.objectList[0].id >= 2 }", False),
        ("{ $.cluster.latency > 500 }", True),
        ("{ $.cluster.latency <= 523.5 }", True),
        ("{ $.cluster.latency < 5.2e2 }", False),
        ("{ $.cluster.nodes != 3 }", False),
        ("{ $.SomeObject IS NULL }", True),
        ("{ $.cluster IS NULL }", False),
        ("{ $.Missing IS NULL }", False),
        ("{ $.Missing NOT EXISTS }", True),
        ("{ $.SomeObject NOT EXISTS }", False),
        ("{ $.ThisFlag IS TRUE }", True),
        ("{ $.OtherFlag IS FALSE }", True),
        ("{ $.OtherFlag IS TRUE }", False),
        ('{ ($.eventType = "UpdateTrail") && ($.objectList[0].name = "a") }', True),
        ('{ $.eventType = "CreateTrail" || $.cluster.status = "ok" }', True),
        # && binds tighter than ||: true || (false && false)
        ('{ $.eventType = "UpdateTrail" || $.arrayKey[0] = "x" && $.cluster.status = "down" }', True),
        ('{ ($.eventType = "UpdateTrail" || $.arrayKey[0] = "x") && $.cluster.status = "down" }', False),
        ("{ $.code = %INTERNAL% }", True),
        ("{ $.code = %^ERROR% }", False),
        ("{ $.cluster.latency = * }", True),  # = * : the field exists, whatever its type
        ('{ $.cluster = "*" }', True),
        ("{ $.Missing = * }", False),
        ("{ $.cluster.nodes = 3* }", True),  # a wildcard string sees a number's text
        # a quoted string without wildcard is not a number, and a number is not a string
        ('{ $.cluster.nodes = "3" }', False),
        ("{ $.eventType > 3 }", False),
    ],
)
def test_json_patterns_on_aws_examples(pattern: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(EVENT) is expected


def test_json_patterns_never_match_events_that_are_not_json() -> None:
    assert not compile_pattern('{ $.eventType = "UpdateTrail" }').matches('eventType = "UpdateTrail"')


def test_the_kits_pending_deletion_pattern_matches_a_refused_call_on_a_key_pending_deletion() -> None:
    from tests.cloud.logs.kit import resource

    pattern = compile_pattern(resource("KmslabAlerting", "AWS::Logs::MetricFilter")["FilterPattern"])
    key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    refused = {
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "errorCode": "KMSInvalidStateException",
        "errorMessage": f"{key} is pending deletion.",
    }
    assert pattern.matches(json.dumps(refused))
    assert not pattern.matches(json.dumps(refused | {"errorMessage": f"{key} is disabled."}))
    assert not pattern.matches(json.dumps(refused | {"eventSource": "s3.amazonaws.com"}))
    assert not pattern.matches(json.dumps({k: v for k, v in refused.items() if k != "errorMessage"}))


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", "anything at all", True),
        ("ERROR", "[ERROR 400] BAD REQUEST", True),
        ("ERROR", "[WARN 400] BAD REQUEST", False),
        ("error", "[ERROR 400] BAD REQUEST", False),
        ("ERROR ARGUMENTS", "[ERROR 401] MISSING ARGUMENTS", True),
        ("ERROR ARGUMENTS", "[ERROR 401] UNAUTHORIZED", False),
        ('"INTERNAL SERVER ERROR"', "[ERROR 500] INTERNAL SERVER ERROR", True),
        ('"INTERNAL SERVER ERROR"', "[ERROR 500] INTERNAL ERROR SERVER", False),
        ("?ERROR ?WARN", "[WARN 429] SLOW DOWN", True),
        ("?ERROR ?WARN", "[INFO 200] OK", False),
        ("ERROR -Exiting", "[ERROR 500] Exiting now", False),
        ("ERROR -Exiting", "[ERROR 500] retrying", True),
        ("%AUTHORIZED%", "[SUCCESS 200] AUTHORIZED REQUEST", True),
        ("%^\\[ERROR%", "[ERROR 401] UNAUTHORIZED REQUEST", True),
        ("%^\\[ERROR%", "[SUCCESS 200] AUTHORIZED REQUEST", False),
    ],
)
def test_term_and_regex_patterns(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(message) is expected


LINE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 1534'


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ip, user, username, timestamp, request, status_code, bytes]", True),
        ("[ip, user, username, timestamp, request, status_code = 404, bytes]", True),
        ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", True),
        ("[ip, user, username, timestamp, request, status_code = 2*, bytes]", False),
        ("[ip, user, username, timestamp, request, status_code >= 400 && status_code < 500, bytes > 1000]", True),
        ("[ip, user, username, timestamp, request, status_code = 200 || status_code = 404, bytes]", True),
        ("[..., status_code = 404, bytes]", True),
        ("[ip = 127.0.0.*, ...]", True),
        ('[..., request = "GET /apache_pb.gif HTTP/1.0", status_code, bytes]', True),
        ("[ip, user, username]", False),  # more tokens than fields, and no ...
    ],
)
def test_space_delimited_patterns(pattern: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(LINE) is expected


def test_space_delimited_fields_are_named_for_metric_values() -> None:
    match = compile_pattern("[ip, user, username, timestamp, request, status_code, bytes]").match(LINE)
    assert match is not None
    assert match.value_of("$bytes") == "1534"
    assert match.value_of("$request") == "GET /apache_pb.gif HTTP/1.0"


@pytest.mark.parametrize(
    "pattern",
    [
        "{ $.a = }",
        "{ $.a == 1 }",
        '{ $.a > "x" }',
        "{ $.a = 1 ",
        "{ ($.a = 1 }",
        "{ a = 1 }",
        "{ $.a IS MAYBE }",
        "{ $.a NOT THERE }",
        "{ }",
        "{ $.a = 1 } extra",
        '"unterminated',
        "[ip, = ]",
        "x" * 1025,
    ],
)
def test_malformed_patterns_are_invalid_parameters(pattern: str) -> None:
    with pytest.raises(InvalidParameterException) as caught:
        compile_pattern(pattern)
    assert caught.value.to_response()["__type"] == "InvalidParameterException"
    assert caught.value.status == 400
