"""KMS behind the gateway: the local KMS engine (:class:`kmslab.kms.LocalKms`), unchanged semantics."""

from __future__ import annotations

import json
from typing import Any

from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.kms import KmsError, LocalKms

TARGET_PREFIX = "TrentService."
CONTENT_TYPE = "application/x-amz-json-1.1"


class KmsService:
    """Answer KMS JSON 1.1 requests with the local engine, as the authenticated caller.

    Args:
        kms: the engine (its authorizer decides every call with key policies, IAM policies, grants).
    """

    protocol = "json"

    def __init__(self, kms: LocalKms) -> None:
        self.kms = kms

    def handle(self, request: Incoming, call: Call) -> Outgoing:
        """Answer one KMS request.

        Args:
            request: the request.
            call: who sends it.

        Returns:
            The answer.

        Raises:
            CloudError: the KMS error.
        """
        if request.method != "POST" or request.raw_path != "/":
            raise CloudError("UnknownOperationException", "KMS requests are POST / with an X-Amz-Target header.")
        target = request.headers.get("x-amz-target", "")
        if not target.startswith(TARGET_PREFIX):
            raise CloudError("UnknownOperationException", f"Unknown operation {target[:100]!r}")
        try:
            params: Any = json.loads(request.body() or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise CloudError("SerializationException", "The request body is not valid JSON.") from None
        if not isinstance(params, dict):
            raise CloudError("SerializationException", "The request body must be a JSON object.")
        try:
            answer = self.kms.call(
                target[len(TARGET_PREFIX) :], params, caller=call.caller, region=call.region, request_id=call.request_id
            )
        except KmsError as exc:
            raise CloudError(exc.code, exc.message, exc.status) from None
        body = json.dumps(answer, separators=(",", ":")).encode()
        headers = [
            ("Content-Type", CONTENT_TYPE),
            ("x-amzn-RequestId", call.request_id),
            ("Content-Length", str(len(body))),
        ]
        return Outgoing(200, headers, body)
