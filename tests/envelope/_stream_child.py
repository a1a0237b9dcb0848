"""Child process for the constant-memory test: stream N bytes generated on the fly through
encrypt_stream -> OS pipe -> decrypt_stream, hashing both ends; print the hashes and peak RSS as JSON."""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import sys
import threading

from kmslab.envelope import RawAesKeyProvider, decrypt_stream, encrypt_stream

BLOCK = os.urandom(1024 * 1024 + 4099)  # not a multiple of the frame, so frames differ


class Generated(io.RawIOBase):
    """``total`` pseudo-random bytes produced on demand (never held), hashed as they are produced."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.offset = 0
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left, len(BLOCK) - self.offset)
        buffer[:n] = BLOCK[self.offset : self.offset + n]
        self.hash.update(buffer[:n])
        self.offset = (self.offset + n) % len(BLOCK)
        self.left -= n
        return n


class HashSink(io.RawIOBase):
    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.hash.update(data)
        self.count += len(data)
        return len(data)


def peak_rss_kib() -> int:
    """This process image's peak RSS: VmHWM (ru_maxrss would include the parent's RSS at fork time)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    total = int(sys.argv[1])
    provider = RawAesKeyProvider("ns", "name", os.urandom(32))
    source, sink = Generated(total), HashSink()
    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=0) as pipe_out:
                encrypt_stream(source, pipe_out, provider=provider, encryption_context={"test": "large"})
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            errors.append(exc)

    thread = threading.Thread(target=produce)
    thread.start()
    with os.fdopen(read_fd, "rb", buffering=0) as pipe_in:
        header = decrypt_stream(pipe_in, sink, provider=provider, required_context={"test": "large"})
    thread.join()
    if errors:
        raise errors[0]
    peak_kib = peak_rss_kib()
    print(
        json.dumps(
            {
                "in": source.hash.hexdigest(),
                "out": sink.hash.hexdigest(),
                "bytes": sink.count,
                "frame_length": header.frame_length,
                "peak_rss_mib": peak_kib / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
