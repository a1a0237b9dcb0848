"""Errors of the local cloud, and how each AWS protocol shapes them on the wire."""

from __future__ import annotations

import json
from typing import ClassVar
from xml.sax.saxutils import escape

from kmslab.errors import KmslabError

#: service (SigV4 signing name) -> AWS protocol
PROTOCOLS: dict[str, str] = {
    "s3": "rest-xml",
    "kms": "json",
    "sts": "query",
    "iam": "query",
    "sns": "query",
    "sqs": "json",
    "dynamodb": "json",
    "glue": "json",
    "monitoring": "cbor",
    "logs": "json",
    "events": "json",
    "lambda": "rest-json",
    "athena": "json",
    "cloudtrail": "json",
    "ssm": "json",
    "secretsmanager": "json",
}


class CloudError(KmslabError):
    """Root of the local cloud's errors: one AWS error response.

    Args:
        code: the AWS error code (``__type`` / ``Code``).
        message: the message, as AWS words it.
        status: the HTTP status.
        extra: more XML elements for S3 errors (e.g. ``BucketName``).
    """

    sender: ClassVar[bool] = True

    def __init__(self, code: str, message: str, status: int = 400, extra: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra or {}


def render_error(protocol: str, error: CloudError, request_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """Shape an error as the service's protocol does.

    Args:
        protocol: ``json``, ``rest-json``, ``query``, ``rest-xml`` or ``cbor``.
        error: the error.
        request_id: the request ID.

    Returns:
        (status, headers, body).
    """
    if protocol == "rest-xml":
        parts = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in error.extra.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>{parts}"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        return error.status, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body
    if protocol == "query":
        kind = "Sender" if error.status < 500 else "Receiver"
        body = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>{kind}</Type><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        return error.status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body
    if protocol == "cbor":
        from kmslab.cloud._cbor import encode_map

        body = encode_map({"__type": error.code, "message": error.message})
        headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        return error.status, [*headers, ("x-amzn-RequestId", request_id)], body
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    content_type = "application/json" if protocol == "rest-json" else "application/x-amz-json-1.1"
    headers = [("Content-Type", content_type), ("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.code)]
    return error.status, headers, body


def xml_text(value: str) -> str:
    """Escape text for an XML element.

    Args:
        value: the text.

    Returns:
        The escaped text.
    """
    return escape(value)
