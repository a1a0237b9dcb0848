"""The AWS JSON 1.1 protocol's constants and its error body, shared by every layer of the endpoint.

A leaf module: the HTTP layer, the wire layer, the control routes and the errors all read it,
so there is one ``X-Amz-Target`` prefix, one content type and one way to write an error body.
"""

from __future__ import annotations

import json

#: the ``X-Amz-Target`` prefix of KMS operations (``TrentService.Encrypt``).
TARGET_PREFIX = "TrentService."
#: the content type of every request and answer.
CONTENT_TYPE = "application/x-amz-json-1.1"

_ERROR_ENCODER = json.JSONEncoder(separators=(",", ":"))


def error_body(code: str, message: str) -> bytes:
    """Return the JSON body of an AWS error answer: ``{"__type": code, "message": message}``.

    Args:
        code: the AWS error code.
        message: the message.

    Returns:
        The body.
    """
    return _ERROR_ENCODER.encode({"__type": code, "message": message}).encode()
