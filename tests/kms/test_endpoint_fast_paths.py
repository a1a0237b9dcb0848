"""The endpoint's fast paths give exactly what the general code gives, and step aside for anything unusual."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from kmslab.kms import _http_read, _wire

BOTO_HEAD = (
    b"POST / HTTP/1.1\r\n"
    b"Host: 127.0.0.1:4599\r\n"
    b"Accept-Encoding: identity\r\n"
    b"X-Amz-Target: TrentService.Encrypt\r\n"
    b"Content-Type: application/x-amz-json-1.1\r\n"
    b"User-Agent: Boto3/1.44.5 md/Botocore#1.44.5\r\n"
    b"Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/kms/aws4_request, Signature=ab\r\n"
    b"Content-Length:  12 \r\n"
    b"\r\n"
)


def test_a_plain_head_is_parsed_in_one_pass() -> None:
    plain = _http_read.plain_head(BOTO_HEAD + b'{"KeyId":""}')
    assert plain is not None
    end, parts, fields, length = plain
    assert BOTO_HEAD[end:] == b"\r\n\r\n"
    assert parts == ["POST", "/", "HTTP/1.1"]
    assert fields["x-amz-target"] == "TrentService.Encrypt"
    assert fields["content-length"] == "12" and length == 12
    assert fields["user-agent"] == "Boto3/1.44.5 md/Botocore#1.44.5"
    assert list(fields) == [
        "host",
        "accept-encoding",
        "x-amz-target",
        "content-type",
        "user-agent",
        "authorization",
        "content-length",
    ]


def test_a_bodiless_get_without_headers_is_plain() -> None:
    line = b"GET /_kmslab/health HTTP/1.0"
    assert _http_read.plain_head(line + b"\r\n\r\n") == (len(line), ["GET", "/_kmslab/health", "HTTP/1.0"], {}, 0)


UNUSUAL = {
    "incomplete": BOTO_HEAD[:-2],
    "bare-lf-in-a-field": BOTO_HEAD.replace(b"Host: 127.0.0.1:4599\r\n", b"Host: x\nY: z\r\n"),
    "bare-lf-line-ends": BOTO_HEAD.replace(b"\r\n", b"\n"),
    "bare-lf-in-request-line": BOTO_HEAD.replace(b"POST / HTTP/1.1", b"POST\n/ HTTP/1.1"),
    "stray-empty-line-first": b"\r\n" + BOTO_HEAD,
    "repeated-field": BOTO_HEAD.replace(b"Host:", b"Accept-Encoding:"),
    "no-colon": BOTO_HEAD.replace(b"Host: 127.0.0.1:4599", b"Host 127.0.0.1"),
    "no-colon-known-name": BOTO_HEAD.replace(b"Accept-Encoding: identity", b"Accept-Encoding"),
    "empty-name": BOTO_HEAD.replace(b"Host:", b":"),
    "space-before-colon": BOTO_HEAD.replace(b"Host:", b"Host :"),
    "control-in-name": BOTO_HEAD.replace(b"Host:", b"Ho\x01st:"),
    "chunked": BOTO_HEAD.replace(b"Content-Length:  12 ", b"Transfer-Encoding: chunked"),
    "expect": BOTO_HEAD.replace(b"Host:", b"Expect: 100-continue\r\nHost:"),
    "post-without-length": BOTO_HEAD.replace(b"Content-Length:  12 \r\n", b""),
    "garbage-length": BOTO_HEAD.replace(b"Content-Length:  12 ", b"Content-Length: 1e3"),
    "too-large": BOTO_HEAD.replace(b"Content-Length:  12 ", b"Content-Length: 9999999"),
    "http-2": BOTO_HEAD.replace(b"HTTP/1.1", b"HTTP/2.0", 1),
    "two-part-request-line": BOTO_HEAD.replace(b"POST / HTTP/1.1", b"POST HTTP/1.1"),
    "too-many-fields": BOTO_HEAD.replace(b"Host:", b"".join(b"X-%d: v\r\n" % n for n in range(100)) + b"Host:"),
    "huge-head": BOTO_HEAD.replace(b"Host:", b"X-Big: " + b"a" * 9000 + b"\r\nHost:"),
}


@pytest.mark.parametrize("name", sorted(UNUSUAL))
def test_unusual_heads_are_left_to_the_general_parser(name: str) -> None:
    assert _http_read.plain_head(UNUSUAL[name]) is None


PAYLOADS: list[Any] = [
    {},
    {"CiphertextBlob": "AQID+/==", "KeyId": "arn:aws:kms:eu-west-1:111122223333:key/k", "EncryptionAlgorithm": "X"},
    {"a": 1},
    {"a": 1.5, "b": True, "c": None},
    {"a": ["x"], "b": {"c": "d"}},
    {"a": 'say "hi"'},
    {"a": "back\\slash"},
    {"a": "caf\u00e9"},
    {"a": "tab\there"},
    {"a": "del\x7f"},
    {'k"ey': "v"},
    {1: "int key"},
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_answer_bodies_match_the_encoder_byte_for_byte(payload: Any) -> None:
    assert _wire._encode_body(payload) == json.dumps(payload, separators=(",", ":")).encode()


@pytest.mark.parametrize("text", ["{}", '{"a": [1, 2]}  \n', "\ufeff{}", "{} x", "[1]", "NaN", '{"a": 1', ""])
def test_request_bodies_decode_as_json_loads_does(text: str) -> None:
    def outcome(decode: Any) -> tuple[str, Any]:
        try:
            return "ok", decode(text)
        except ValueError as exc:
            return type(exc).__name__, str(exc)

    assert outcome(_wire._loads) == outcome(json.loads)


def test_the_reader_reads_lines_and_bodies_across_arrivals() -> None:
    left, right = socket.socketpair()
    with left, right:
        reader = _http_read.Reader(left)
        right.sendall(b"first line\r\nsec")
        assert reader.readline(100) == b"first line\r\n"
        right.sendall(b"ond\nbody-bytes")
        assert reader.readline(100) == b"second\n"
        assert reader.read(4) == b"body"
        assert reader.readline(3) == b"-by"  # a line longer than the limit comes back cut at the limit
        right.shutdown(socket.SHUT_WR)
        assert reader.read(100) == b"tes"  # short at the end of the stream
        assert reader.readline(100) == b""
        assert not reader.fill()
