"""One request through the gateway, and one answer: the value objects every service module sees."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from kmslab.cloud.errors import CloudError
from kmslab.kms.seams import Caller

#: a whole body read into memory (services other than S3) is at most this large
MAX_BODY_BYTES = 64 * 1024 * 1024


class Incoming:
    """The request as sent: raw path and query (what SigV4 signs), lower-case headers, the body stream.

    Args:
        environ: the WSGI environ.
        secure: whether it came over TLS.
    """

    def __init__(self, environ: dict[str, Any], *, secure: bool) -> None:
        self.environ = environ
        self.secure = secure
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO") or "/")
        if raw.startswith(("http://", "https://")):  # absolute-form request target
            raw = "/" + raw.split("/", 3)[3] if raw.count("/") >= 3 else "/"
        path, _, query = raw.partition("?")
        self.raw_path = path or "/"
        self.query = query
        headers: dict[str, str] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").lower()] = str(value)
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = str(environ["CONTENT_LENGTH"])
        self.headers = headers
        self.host = headers.get("host", "")
        self.source_ip = str(environ.get("REMOTE_ADDR") or "127.0.0.1")
        self._body: bytes | None = None

    @property
    def stream(self) -> IO[bytes]:
        """The body stream (read it once; :meth:`body` caches it)."""
        stream: IO[bytes] = self.environ["wsgi.input"]
        return stream

    @property
    def content_length(self) -> int | None:
        """The declared body length, or None (chunked transfer)."""
        raw = self.headers.get("content-length")
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            raise CloudError("InvalidArgument", "Content-Length is not a number.", 400) from None
        if value < 0:
            raise CloudError("InvalidArgument", "Content-Length is negative.", 400)
        return value

    def body(self, limit: int = MAX_BODY_BYTES) -> bytes:
        """Read the whole body (once).

        Args:
            limit: the largest body accepted.

        Returns:
            The body bytes.

        Raises:
            CloudError: the body is larger than ``limit``.
        """
        if self._body is None:
            length = self.content_length
            if length is not None:
                if length > limit:
                    raise CloudError("RequestEntityTooLarge", f"The request body exceeds {limit} bytes.", 413)
                self._body = self.stream.read(length) if length else b""
            elif self.environ.get("wsgi.input_terminated"):
                data = self.stream.read(limit + 1)
                if len(data) > limit:
                    raise CloudError("RequestEntityTooLarge", f"The request body exceeds {limit} bytes.", 413)
                self._body = data
            else:
                self._body = b""
        return self._body

    def body_sha256(self) -> str:
        """Return the hex SHA-256 of the whole body.

        Returns:
            The digest.
        """
        return hashlib.sha256(self.body()).hexdigest()

    def query_params(self) -> dict[str, str]:
        """Parse the query string (last value wins; blank values kept).

        Returns:
            Name -> value.
        """
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.query, keep_blank_values=True))


@dataclass
class Outgoing:
    """One answer.

    Args:
        status: the HTTP status.
        headers: the response headers.
        body: the body, whole or as an iterable of chunks (then ``Content-Length`` must be in headers).
    """

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Iterable[bytes] = b""

    def chunks(self) -> Iterator[bytes]:
        """Iterate the body.

        Returns:
            The body's chunks.
        """
        if isinstance(self.body, bytes | bytearray):
            return iter([bytes(self.body)])
        return iter(self.body)


@dataclass(frozen=True)
class Call:
    """Who sends a request and where, as the gateway established it.

    Args:
        caller: the authenticated principal (an anonymous caller for unsigned S3 requests).
        region: the credential scope's region (the default region when unsigned).
        service: the signing name the request was routed by.
        request_id: the request ID answered with.
        signed: whether the request carried a SigV4 signature.
        presigned: whether the signature came in the query string.
        payload_hash: the declared ``x-amz-content-sha256``, for a streaming service to check.
        sigv4: whether the request was signed with Signature Version 4 (False when unsigned or
            signed with S3's Signature Version 2 query form).
    """

    caller: Caller
    region: str
    service: str
    request_id: str
    signed: bool = True
    presigned: bool = False
    payload_hash: str | None = None
    sigv4: bool = True


class Service(Protocol):
    """One service module behind the gateway."""

    protocol: str

    def handle(self, request: Incoming, call: Call) -> Outgoing:
        """Answer one authenticated request.

        Args:
            request: the request.
            call: who sends it, and where.

        Returns:
            The answer.

        Raises:
            CloudError: an AWS error for this request.
        """
        ...
