"""File plumbing for the envelope CLI: atomic output files, inputs, key specs and progress."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

import click

from kmslab.envelope.errors import KeyProviderError

if TYPE_CHECKING:  # imported when a key is built, so ``--help`` and usage errors need no cryptography
    from kmslab.envelope._format import EncryptedDataKey
    from kmslab.envelope.providers import KeyProvider, KmsKeyProvider, RawAesKeyProvider

RAW_PREFIX = "raw:"
DEFAULT_NAMESPACE = "kmslab"
DEFAULT_KEY_NAME = "kmslab-raw-key"
PROGRESS_MIN_BYTES = 8 * 1024 * 1024


@contextlib.contextmanager
def open_input(path: str) -> Iterator[BinaryIO]:
    """Open ``path`` for binary reading; ``-`` is standard input."""
    if path == "-":
        yield sys.stdin.buffer
        return
    with Path(path).open("rb") as handle:
        yield handle


#: the output file's write buffer: small, so frame-sized writes go straight to the file (no copy) while the
#: few small pieces (header, tags, signature) are still gathered
OUTPUT_BUFFER = 64 * 1024


@contextlib.contextmanager
def atomic_output(path: str, fsync: bool = True) -> Iterator[BinaryIO]:
    """Yield a file that becomes ``path`` only if the block succeeds; ``-`` is standard output.

    The data goes to a new temporary file (created exclusively, mode 0600) in the destination directory,
    which is fsynced (unless ``fsync`` is False) and renamed over ``path`` at the end; on any exception
    (including KeyboardInterrupt) it is deleted.

    Args:
        path: the output file, or ``-``.
        fsync: flush the file to disk before the rename.

    Yields:
        A buffered binary writer (64 KiB buffer: larger writes bypass it).
    """
    if path == "-":
        out = sys.stdout.buffer
        yield out
        out.flush()
        return
    target = Path(path)
    if not target.name or target.name == "..":
        raise click.BadParameter(f"{path!r} is a directory, not a file name", param_hint="--out")
    fd, tmp = _create_temp(target)
    try:
        with os.fdopen(fd, "wb", buffering=OUTPUT_BUFFER) as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create_temp(target: Path) -> tuple[int, Path]:
    """Create ``.<name>.<random>.partial`` next to ``target``, exclusively and mode 0600 (what
    ``tempfile.mkstemp`` does, without importing ``tempfile`` and its ``shutil``/``random`` on every CLI start)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{os.urandom(6).hex()}.partial")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file next to {target}")


def refuse_same_file(src: str, dst: str) -> None:
    """Refuse an output that is the input file itself (same path, a symlink or a hard link to it, or the file
    behind a redirected stdin/stdout): the output would replace the input.

    Args:
        src: the ``--in`` value (``-`` for standard input).
        dst: the ``--out`` value (``-`` for standard output).

    Raises:
        click.BadParameter: both name the same regular file.
    """
    src_stat = _file_stat(src, sys.stdin)
    dst_stat = _file_stat(dst, sys.stdout)
    if src_stat is None or dst_stat is None or not os.path.samestat(src_stat, dst_stat):
        return
    import stat

    if stat.S_ISREG(src_stat.st_mode):  # a terminal or pipe on both sides is fine
        out = dst if dst != "-" else "standard output"
        raise click.BadParameter(
            f"{out} is the same file as the input ({src if src != '-' else 'standard input'}): "
            "the output would replace it; write to another file",
            param_hint="--out",
        )


def _file_stat(path: str, stream: Any) -> os.stat_result | None:
    """``os.stat`` of a path (following links), or ``os.fstat`` of ``stream`` for ``-``; None when unknown."""
    try:
        if path == "-":
            return os.fstat(stream.fileno())
        return Path(path).stat()
    except (OSError, ValueError, AttributeError):
        return None


class HeldOutput:
    """A writer that can hold everything written to it in memory until :meth:`release`, up to a bound.

    Used for plaintext on standard output: a signed message's frames are held until the signature verifies
    (and ``--buffer`` holds any message until it is verified whole). Nothing is spilled to disk, so past the
    bound the run stops with a clear error instead, having written nothing.

    Args:
        dst: the real destination.
        limit: the most bytes held.
        hold: hold from the start (``--buffer``); :meth:`on_header` also turns holding on for a signed suite.
    """

    def __init__(self, dst: BinaryIO, limit: int, hold: bool) -> None:
        self._dst = dst
        self._limit = limit
        self._held = bytearray()
        self.hold = hold

    def on_header(self, header: Any) -> None:
        """Hold a signed message's plaintext until its signature verifies (called before any frame is written)."""
        if header.suite.signed:
            self.hold = True

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write through, or hold ``data``.

        Raises:
            EnvelopeError: holding it would pass the bound.
        """
        if not self.hold:
            return self._dst.write(data)
        size = len(data)
        if len(self._held) + size > self._limit:
            from kmslab.envelope.errors import EnvelopeError

            self.discard()
            raise EnvelopeError(
                f"the plaintext is larger than --buffer-limit ({self._limit} bytes), the most held in memory "
                "until the message is verified; decrypt to a file with --out FILE instead (it appears only "
                "once verified), or raise --buffer-limit"
            )
        self._held += data
        return size

    def release(self) -> None:
        """Write what is held to the destination (the message has verified)."""
        view = memoryview(self._held)
        for start in range(0, len(view), OUTPUT_BUFFER * 4):
            self._dst.write(view[start : start + OUTPUT_BUFFER * 4])
        view.release()
        self.discard()

    def discard(self) -> None:
        """Drop what is held (memory only: it was never on disk)."""
        self._held.clear()


def input_size(handle: IO[bytes]) -> int | None:
    """Return the size of a regular file, or None for a pipe or terminal."""
    try:
        st = os.fstat(handle.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    import stat

    return st.st_size if stat.S_ISREG(st.st_mode) else None


@contextlib.contextmanager
def progress_bar(size: int | None, force: bool | None, label: str) -> Iterator[Callable[[int], Any] | None]:
    """Yield a progress callback drawing on stderr, or None when no bar is wanted.

    Args:
        size: total bytes, if known.
        force: True/False to force the bar on/off; None = only on a terminal for inputs of 8 MiB or more.
        label: the bar's label.
    """
    if force is None:
        force = sys.stderr.isatty() and size is not None and size >= PROGRESS_MIN_BYTES
    if not force:
        yield None
        return
    with click.progressbar(length=size or 0, label=label, file=sys.stderr, show_pos=False) as bar:
        yield bar.update


def parse_context(pairs: Sequence[str]) -> dict[str, str]:
    """Turn ``k=v`` options into a mapping.

    Raises:
        click.BadParameter: a pair has no ``=`` or repeats a key.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--context")
        if key in out:
            raise click.BadParameter(f"key {key!r} given twice", param_hint="--context")
        out[key] = value
    return out


def parse_size(text: str) -> int:
    """Parse ``4096``, ``64K``, ``64KiB``, ``1M``, ``1MiB``, ``1G`` or ``1GiB`` into bytes.

    Raises:
        click.BadParameter: not a positive size.
    """
    units = {"": 1, "K": 1024, "KIB": 1024, "M": 1024**2, "MIB": 1024**2, "G": 1024**3, "GIB": 1024**3}
    raw = text.strip().upper()
    digits = raw.rstrip("KMGIB")
    unit = raw[len(digits) :]
    if not digits.isdigit() or unit not in units or int(digits) * units[unit] < 1:
        raise click.BadParameter(f"expected a positive size like 4096, 64K, 1M or 1G, got {text!r}")
    return int(digits) * units[unit]


def load_raw_key(spec: str, namespace: str, name: str) -> RawAesKeyProvider:
    """Build a raw AES provider from ``raw:<path>`` (32 raw bytes, or 64 hex characters).

    Raises:
        KeyProviderError: unreadable or wrong-size key file.
    """
    from kmslab.envelope.providers import RawAesKeyProvider

    path = Path(spec[len(RAW_PREFIX) :])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyProviderError(f"cannot read raw key file {path}: {exc.strerror}") from None
    if len(data) != 32:
        text = data.strip()
        with contextlib.suppress(UnicodeDecodeError, ValueError):
            data = bytes.fromhex(text.decode("ascii")) if len(text) == 64 else data
    if len(data) != 32:
        raise KeyProviderError(f"raw key file {path} must hold exactly 32 bytes (or 64 hex characters)")
    return RawAesKeyProvider(namespace, name, data)


def kms_client(region: str | None, endpoint: str | None) -> Any:
    """Return a boto3 KMS client (boto3 is imported only here)."""
    import boto3

    return boto3.client("kms", region_name=region, endpoint_url=endpoint)


def kms_provider(key_ids: Sequence[str], region: str | None, endpoint: str | None) -> KmsKeyProvider:
    """Build a KMS provider with one client per Region named by the keys' ARNs (``region`` for bare IDs)."""
    from kmslab.envelope.providers import KmsArn, KmsKeyProvider

    regions: dict[str | None, Any] = {}
    for key_id in key_ids:
        arn = KmsArn.parse(key_id)
        key_region = arn.region if arn is not None else region
        if key_region not in regions:
            regions[key_region] = kms_client(key_region, endpoint)
    return KmsKeyProvider(regions, list(key_ids))


class MessageKmsProvider:
    """Decrypts with whichever KMS keys the message's EDKs name (optionally only those allowed).

    Args:
        allowed: key ARNs the user allowed with ``--key`` (empty: any key in the message).
        region: unused for ARNs (their own Region wins); kept for symmetry.
        endpoint: the KMS endpoint URL (for example the local KMS).
    """

    def __init__(self, allowed: Sequence[str], region: str | None, endpoint: str | None) -> None:
        self._allowed = tuple(allowed)
        self._region = region
        self._endpoint = endpoint

    @property
    def cache_id(self) -> str:
        """Identity for the data-key cache."""
        return "aws-kms-from-message:" + ",".join(self._allowed)

    def generate_data_key(self, encryption_context: Mapping[str, str]) -> tuple[bytes, tuple[EncryptedDataKey, ...]]:
        """Not supported: this provider only decrypts."""
        raise KeyProviderError("encryption needs --key")

    def decrypt_data_key(
        self, encrypted_data_keys: Sequence[EncryptedDataKey], encryption_context: Mapping[str, str]
    ) -> bytes:
        """Decrypt with the KMS keys named in the message.

        Raises:
            KeyProviderError: the message has no usable KMS data key, or KMS refused them all.
        """
        from kmslab.envelope.providers import KMS_PROVIDER_ID, KmsArn

        arns = []
        for edk in encrypted_data_keys:
            if edk.provider_id != KMS_PROVIDER_ID:
                continue
            arn = edk.key_info.decode("utf-8", "replace")
            if KmsArn.parse(arn) is not None and (not self._allowed or arn in self._allowed):
                arns.append(arn)
        if not arns:
            providers = sorted({edk.provider_id for edk in encrypted_data_keys})
            raise KeyProviderError(
                "the message has no data key under an allowed KMS key (its key providers: "
                + ", ".join(providers)
                + "); for a raw AES key pass --key raw:PATH"
            )
        return kms_provider(arns, self._region, self._endpoint).decrypt_data_key(
            encrypted_data_keys, encryption_context
        )


def key_provider(
    keys: Sequence[str], namespace: str, name: str, region: str | None, endpoint: str | None, *, encrypting: bool
) -> KeyProvider:
    """The provider for a command: one raw key if given; else the KMS keys given (encrypt), or the KMS keys
    named in the message, limited to those given if any (decrypt).

    Raises:
        click.UsageError: a raw key mixed with other keys.
        KeyProviderError: an unreadable raw key file.
    """
    raw = [k for k in keys if k.startswith(RAW_PREFIX)]
    if raw:
        if len(keys) > 1:
            raise click.UsageError("give either one --key raw:PATH or KMS keys, not both")
        return load_raw_key(raw[0], namespace, name)
    return kms_provider(keys, region, endpoint) if encrypting else MessageKmsProvider(keys, region, endpoint)
