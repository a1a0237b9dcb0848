"""KMS behind the gateway: the local KMS engine (:class:`kmslab.kms.LocalKms`), unchanged semantics."""

from __future__ import annotations

from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.cloud.services._jsonsvc import answer, parse_json
from kmslab.kms import KmsError, LocalKms

TARGET_PREFIX = "TrentService."


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
        operation, params = parse_json(request, TARGET_PREFIX)
        try:
            result = self.kms.call(
                operation, params, caller=call.caller, region=call.region, request_id=call.request_id
            )
        except KmsError as exc:
            raise CloudError(exc.code, exc.message, exc.status) from None
        return answer(result, call)
