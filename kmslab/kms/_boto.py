"""A real boto3 KMS client answered in process by a :class:`~kmslab.kms.LocalKms`.

The client serializes, signs and parses exactly as against AWS; a ``before-send``
handler hands the prepared request to :func:`kmslab.kms._wire.dispatch` instead of
the network and returns botocore an ``AWSResponse``.
"""

from __future__ import annotations

import functools
import io
import uuid
from typing import TYPE_CHECKING, Any

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config

from kmslab.kms._wire import Engine, caller_from_headers, dispatch
from kmslab.kms.seams import Caller

if TYPE_CHECKING:
    from botocore.client import BaseClient


ENDPOINT_URL = "http://kmslab.local"
FAKE_ACCESS_KEY = "AKIAKMSLABLOCAL00000"
FAKE_SECRET_KEY = "kmslab-local-secret-key-not-a-real-credential"  # noqa: S105 - a placeholder, not a secret


class _RawBody(io.BytesIO):
    """What botocore reads a response body from."""

    def stream(self, **kwargs: Any) -> Any:
        contents = self.read()
        while contents:
            yield contents
            contents = self.read()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY, region_name="us-east-1"
    )


def _header_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def make_client(
    kms: Engine, *, region: str = "us-east-1", caller: Caller | None = None, parameter_validation: bool = True
) -> BaseClient:
    """Build a boto3 KMS client whose requests ``kms`` answers in process.

    Args:
        kms: the engine.
        region: the client's region (also the request region the engine sees).
        caller: a fixed identity for every request; default: derived from the headers (account root).
        parameter_validation: whether botocore validates parameters before sending.

    Returns:
        The client.
    """
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        parameter_validation=parameter_validation,
    )
    client = _session().client("kms", region_name=region, endpoint_url=ENDPOINT_URL, config=config)

    def send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        headers = {k: _header_text(v) for k, v in request.headers.items()}
        who, where = caller_from_headers(headers, account=kms.account, source_ip="127.0.0.1", default_region=region)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        raw = body if isinstance(body, bytes) else (body or "").encode()
        answer = dispatch(
            kms,
            target=headers.get("X-Amz-Target", ""),
            body=raw,
            caller=caller or who,
            region=where or region,
            request_id=str(uuid.uuid4()),
        )
        return AWSResponse(request.url, answer.status, answer.headers, _RawBody(answer.body))

    client.meta.events.register("before-send.kms", send)
    return client
