"""What the gateway modules that stand in front of moto's share: the base class and query parameters.

The alert path's Lambda, SNS, CloudWatch Logs and CloudWatch modules each answer a few operations
themselves (Invoke, Publish, PutLogEvents...) and hand every other request to moto's module
(:class:`~kmslab.cloud.services.motobridge.MotoBridge`), which checks IAM and answers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing


def query_params(request: Incoming) -> dict[str, str]:
    """Return a query-protocol request's parameters: the query string's, then a POST's form body's.

    Args:
        request: the request.

    Returns:
        The parameters (blank values kept).

    Raises:
        CloudError: ``MalformedInput`` when the body is not text.
    """
    params = dict(parse_qsl(request.query, keep_blank_values=True))
    if request.method == "POST":
        try:
            params.update(parse_qsl(request.body().decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise CloudError("MalformedInput", "The request body is not form-encoded text.") from None
    return params


class MotoFront:
    """A gateway module answering some operations itself and handing the others to moto's module.

    Subclasses set :attr:`protocol` and override :meth:`handle`.

    Args:
        moto: the moto-served module of the same service (``MotoService``).
    """

    protocol = ""

    def __init__(self, moto: Any) -> None:
        self.moto = moto

    def handle(self, request: Incoming, call: Call) -> Outgoing:
        """Answer one request: the service's own operations (in subclasses), else moto's.

        Args:
            request: the request.
            call: who sends it.

        Returns:
            The answer.

        Raises:
            CloudError: the service's error.
        """
        return self.by_moto(request, call)

    def by_moto(self, request: Incoming, call: Call) -> Outgoing:
        """Hand a request (the same arguments as :meth:`handle`) to moto's module, which checks IAM; its answer."""
        out: Outgoing = self.moto.handle(request, call)
        return out
