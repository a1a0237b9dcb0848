"""Upload bodies: plain, or ``aws-chunked`` (with trailing checksums), read in bounded pieces.

botocore sends S3 uploads either with a ``Content-Length`` body or, for streaming bodies with
flexible checksums, ``Content-Encoding: aws-chunked`` with ``x-amz-decoded-content-length`` and
``x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER``: hex-sized chunks, a zero chunk,
then trailer lines such as ``x-amz-checksum-crc32:<base64>``. The reader checks the declared
SHA-256 (when the payload is signed), the length, ``Content-MD5`` and CRC32/SHA-1/SHA-256
checksums; a mismatch refuses the upload before anything is stored.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterator
from typing import IO

from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Incoming
from kmslab.cloud.s3.errors import invalid_argument, not_implemented

PIECE = 256 * 1024
_CHECKSUMS = ("crc32", "sha1", "sha256", "crc32c", "crc64nvme")


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


class UploadBody:
    """The plaintext of one upload, as pieces, with its checks done at the end.

    Args:
        request: the request.
        payload_hash: the signed SHA-256 of the payload, when the signature covers it.
    """

    def __init__(self, request: Incoming, payload_hash: str | None) -> None:
        self._request = request
        self._payload_hash = payload_hash
        headers = request.headers
        encoding = headers.get("content-encoding", "")
        sha_header = headers.get("x-amz-content-sha256", "")
        if sha_header.startswith("STREAMING-") and sha_header != "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
            raise not_implemented(f"x-amz-content-sha256: {sha_header[:60]} (signed chunked uploads)")
        self.chunked = "aws-chunked" in encoding or sha_header == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        self.md5 = hashlib.md5(usedforsecurity=False)
        self._sha = hashlib.sha256() if payload_hash else None
        self._checks: dict[str, object] = {}
        for name in _CHECKSUMS:
            if name in ("crc32c", "crc64nvme"):
                continue
            declared = headers.get(f"x-amz-checksum-{name}")
            trailer = name in headers.get("x-amz-trailer", "")
            if declared or trailer:
                self._checks[name] = _Crc32() if name == "crc32" else hashlib.new(name)
        self.trailers: dict[str, str] = {}
        self.size = 0
        if self.chunked:
            decoded = headers.get("x-amz-decoded-content-length")
            self.expected = int(decoded) if decoded and decoded.isdigit() else None
        else:
            self.expected = request.content_length

    def pieces(self) -> Iterator[bytes]:
        """Yield the plaintext in pieces; after the last one, every check has passed.

        Yields:
            Bytes of the body, in order.

        Raises:
            CloudError: a check failed or the body is malformed.
        """
        source = self._chunked() if self.chunked else self._plain()
        for piece in source:
            self.size += len(piece)
            self.md5.update(piece)
            if self._sha is not None:
                self._sha.update(piece)
            for check in self._checks.values():
                check.update(piece)  # type: ignore[attr-defined]
            yield piece
        self._finish()

    def _plain(self) -> Iterator[bytes]:
        stream: IO[bytes] = self._request.stream
        remaining = self.expected
        if remaining is None:
            if not self._request.environ.get("wsgi.input_terminated"):
                raise CloudError("MissingContentLength", "You must provide the Content-Length HTTP header.", 411)
            while True:
                piece = stream.read(PIECE)
                if not piece:
                    return
                yield piece
        yield from _exactly(stream, remaining)

    def _readline(self, stream: IO[bytes]) -> bytes:
        line = stream.readline(4096)
        if not line.endswith(b"\n"):
            raise CloudError("IncompleteBody", "The aws-chunked body is malformed.", 400)
        return line.rstrip(b"\r\n")

    def _chunked(self) -> Iterator[bytes]:
        stream: IO[bytes] = self._request.stream
        while True:
            header = self._readline(stream)
            size_text = header.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise CloudError("IncompleteBody", "The aws-chunked body is malformed.", 400) from None
            if size == 0:
                break
            yield from _exactly(stream, size)
            if stream.read(2) != b"\r\n":
                raise CloudError("IncompleteBody", "The aws-chunked body is malformed.", 400)
        for _ in range(16):
            line = self._readline(stream)
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            self.trailers[name.strip().lower()] = value.strip()

    def _finish(self) -> None:
        if self.expected is not None and self.size != self.expected:
            raise CloudError(
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header",
                400,
            )
        if self._sha is not None and self._sha.hexdigest() != self._payload_hash:
            raise CloudError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
            )
        content_md5 = self._request.headers.get("content-md5")
        if content_md5 and base64.b64encode(self.md5.digest()).decode() != content_md5:
            raise CloudError("BadDigest", "The Content-MD5 you specified did not match what we received.", 400)
        for name, check in self._checks.items():
            declared = self._request.headers.get(f"x-amz-checksum-{name}") or self.trailers.get(
                f"x-amz-checksum-{name}"
            )
            if not declared:
                raise invalid_argument(f"x-amz-checksum-{name} was announced but not sent.")
            if base64.b64encode(check.digest()).decode() != declared:  # type: ignore[attr-defined]
                raise CloudError(
                    "BadDigest", f"The {name.upper()} you specified did not match the calculated checksum.", 400
                )


class BytesBody:
    """An upload body held in memory: for local services that write objects themselves (CloudTrail delivery).

    Args:
        data: the object's bytes.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.md5 = hashlib.md5(data, usedforsecurity=False)
        self.size = len(data)

    def pieces(self) -> Iterator[bytes]:
        """Yield the body in pieces.

        Yields:
            Bytes of the body, in order.
        """
        for start in range(0, len(self._data), PIECE):
            yield self._data[start : start + PIECE]


def _exactly(stream: IO[bytes], size: int) -> Iterator[bytes]:
    """Yield the next ``size`` bytes of a stream in pieces of at most :data:`PIECE` bytes.

    Raises:
        CloudError: IncompleteBody, the stream ended first.
    """
    remaining = size
    while remaining > 0:
        piece = stream.read(min(PIECE, remaining))
        if not piece:
            raise CloudError("IncompleteBody", "The request body terminated unexpectedly", 400)
        remaining -= len(piece)
        yield piece
