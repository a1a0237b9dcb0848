"""``kmslab envelope``: encrypt, decrypt and inspect files in the AWS Encryption SDK message format."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click

from kmslab.envelope import _cli_io as io_
from kmslab.envelope._format import DEFAULT_FRAME_LENGTH, DEFAULT_MAX_FRAME_LENGTH, FINAL_FRAME_MARKER, Header
from kmslab.envelope._suites import COMMIT_KEY, COMMIT_KEY_ECDSA_P384, TAG_LEN

# Start-up matters here (a small file's whole run is mostly interpreter and import time): the commands call
# the streaming core directly instead of ``kmslab.envelope.api``, which would also import the one-shot API
# and the data-key cache; the core (and cryptography) is imported only when a command runs, boto3 only for
# KMS keys, json only for ``inspect --json``.


def _key_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--namespace", default=io_.DEFAULT_NAMESPACE, show_default=True, help="Raw key namespace."),
        click.option("--key-name", default=io_.DEFAULT_KEY_NAME, show_default=True, help="Raw key name."),
        click.option("--endpoint", metavar="URL", help="KMS endpoint URL (for example the local KMS)."),
        click.option("--region", metavar="R", help="AWS Region for KMS key IDs that are not ARNs."),
        click.option(
            "--context",
            "-c",
            "context",
            multiple=True,
            metavar="K=V",
            help="Encryption context pair (repeatable).",
        ),
        click.option(
            "--fsync/--no-fsync",
            default=True,
            show_default=True,
            help="Flush the output file to disk before renaming it into place.",
        ),
        click.option(
            "--progress/--no-progress",
            default=None,
            help="Show a progress bar on stderr (default: only on a terminal, for inputs of 8 MiB or more).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group("envelope")
def envelope() -> None:
    """Encrypt and decrypt files with KMS data keys (AWS Encryption SDK message format v2, key commitment).

    Output files appear only when the whole run succeeds; a failed or interrupted run leaves none.
    """


@contextlib.contextmanager
def _files(src: str, dst: str, common: dict[str, Any], label: str) -> Iterator[tuple[BinaryIO, Any, BinaryIO]]:
    """Open the input, the progress bar and the atomic output, having refused an output that is the input."""
    io_.refuse_same_file(src, dst)
    with (
        io_.open_input(src) as fin,
        io_.progress_bar(io_.input_size(fin), common["progress"], label) as bar,
        io_.atomic_output(dst, common["fsync"]) as fout,
    ):
        yield fin, bar, fout


def _provider(keys: tuple[str, ...], common: dict[str, Any], *, encrypting: bool) -> Any:
    return io_.key_provider(
        keys, common["namespace"], common["key_name"], common["region"], common["endpoint"], encrypting=encrypting
    )


@envelope.command("encrypt")
@click.option(
    "--key",
    "-k",
    "keys",
    multiple=True,
    required=True,
    metavar="KEY",
    help="KMS key ARN/ID/alias (repeatable: the data key is wrapped under each), or raw:PATH to a 32-byte key file.",
)
@click.option("--in", "-i", "src", required=True, metavar="FILE", help="Plaintext file, or - for stdin.")
@click.option("--out", "-o", "dst", required=True, metavar="FILE", help="Message file to write, or - for stdout.")
@click.option("--frame-size", default=str(DEFAULT_FRAME_LENGTH), show_default=True, help="Plaintext bytes per frame.")
@click.option("--signed", is_flag=True, help="Use the ECDSA P-384 signed suite 0x0578.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the line that says what was written.")
@_key_options
def encrypt_cmd(
    keys: tuple[str, ...], src: str, dst: str, frame_size: str, signed: bool, quiet: bool, **common: Any
) -> None:
    """Encrypt FILE under a KMS key (or a raw AES key) into an envelope message.

    When the message goes to a file, one line on stderr says what was written: the file, its size and the
    key that wraps the data key (--quiet drops it; nothing is printed for -o -).
    """
    from kmslab.envelope import _stream

    frame_length = io_.parse_size(frame_size)
    encryption_context = io_.parse_context(common["context"])
    provider = _provider(keys, common, encrypting=True)
    suite = COMMIT_KEY_ECDSA_P384 if signed else COMMIT_KEY
    with _files(src, dst, common, "encrypting") as (fin, bar, fout):
        header = _stream.encrypt_stream(fin, fout, provider, encryption_context, frame_length, bar, suite)
    if dst != "-" and not quiet:
        size = Path(dst).stat().st_size
        wrapped = ", ".join(_key_name(edk) for edk in describe(header)["encrypted_data_keys"])
        click.echo(f"kmslab: wrote {dst} ({size} bytes); data key wrapped by {wrapped}", err=True)


def _key_name(edk: dict[str, Any]) -> str:
    if edk["provider"] == "aws-kms":
        return f"KMS key {edk['key']}"
    return f"raw AES key {edk['provider']}/{edk['key']}"


@envelope.command("decrypt")
@click.option(
    "--key",
    "-k",
    "keys",
    multiple=True,
    metavar="KEY",
    help="raw:PATH for a raw AES key; or KMS key ARNs to allow (default: the KMS keys named in the message).",
)
@click.option("--in", "-i", "src", required=True, metavar="FILE", help="Message file, or - for stdin.")
@click.option("--out", "-o", "dst", required=True, metavar="FILE", help="Plaintext file to write, or - for stdout.")
# --buffer as the AWS Encryption CLI has it ("returns plaintext only after all input is processed, including
# verifying the digital signature if one is present": AWS Encryption SDK CLI syntax and parameter reference);
# unlike it, a signed message to stdout is held here whether or not --buffer is given.
@click.option(
    "--buffer",
    is_flag=True,
    help="With -o -: hold all output until the whole message is verified (signed messages always are).",
)
@click.option(
    "--buffer-limit",
    default="256M",
    show_default=True,
    metavar="SIZE",
    help="With -o -: the most plaintext held in memory while a message is verified; a larger one is refused.",
)
@_key_options
def decrypt_cmd(keys: tuple[str, ...], src: str, dst: str, buffer: bool, buffer_limit: str, **common: Any) -> None:
    """Decrypt and verify a message; --context pairs are required to be in the message's context.

    A plaintext file appears only once the whole message has verified. On stdout (-o -), a signed message
    (suite 0x0578) is held in memory until its signature verifies. An unsigned message's frames are released
    as each one authenticates, as the AWS Encryption SDK streams them: a truncated or altered message then
    fails (exit status 2) after the frames before the damage were written. --buffer holds all output until
    the whole message is verified.
    """
    from kmslab.envelope import _stream

    required = io_.parse_context(common["context"])
    limit = io_.parse_size(buffer_limit)
    provider = _provider(keys, common, encrypting=False)
    with _files(src, dst, common, "decrypting") as (fin, bar, fout):
        if dst != "-":
            _stream.decrypt_stream(fin, fout, provider, required, bar, DEFAULT_MAX_FRAME_LENGTH)
            return
        held = io_.HeldOutput(fout, limit, buffer)
        try:
            _stream.decrypt_stream(fin, held, provider, required, bar, DEFAULT_MAX_FRAME_LENGTH, held.on_header)
        except BaseException:
            held.discard()
            raise
        held.release()


@envelope.command("inspect")
@click.argument("file", metavar="FILE")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def inspect_cmd(file: str, as_json: bool) -> None:
    """Show a message's header: suite, message ID, data keys, context and frames (no key needed, none shown)."""
    from kmslab.envelope import _stream

    with io_.open_input(file) as fin:
        header = _stream.read_stream_header(fin)
        frames = _count_frames(fin, header)
    info = describe(header, frames)
    if as_json:
        import json

        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"algorithm:       {info['algorithm']} (0x{header.suite.suite_id:04x})")
    click.echo(f"message id:      {info['message_id']}")
    click.echo(f"content:         {'framed' if header.framed else 'single block'}")
    if header.framed:
        click.echo(f"frame size:      {header.frame_length} bytes")
    if frames is not None:
        click.echo(f"frames:          {frames[0]}")
        click.echo(f"plaintext size:  {frames[1]} bytes")
    click.echo(f"encryption context ({len(header.encryption_context)}):")
    for key, value in sorted(header.encryption_context.items()):
        click.echo(f"  {key} = {value}")
    click.echo(f"encrypted data keys ({len(header.encrypted_data_keys)}):")
    for edk in info["encrypted_data_keys"]:
        click.echo(f"  {edk['provider']}  {edk['key']}  ({edk['ciphertext_length']}-byte encrypted data key)")


def describe(header: Header, frames: tuple[int, int] | None = None) -> dict[str, Any]:
    """Return a JSON-ready description of a header (public fields only, never key material).

    Args:
        header: the parsed header.
        frames: ``(frame count, plaintext bytes)`` when known.

    Returns:
        The description.
    """
    edks = []
    for edk in header.encrypted_data_keys:
        if edk.provider_id == "aws-kms":
            key = edk.key_info.decode("utf-8", "replace")
        else:
            # raw keyring key info = name || tag bits (4) || IV length (4) || IV
            key = edk.key_info[: max(len(edk.key_info) - 20, 0)].decode("utf-8", "replace")
        edks.append({"provider": edk.provider_id, "key": key, "ciphertext_length": len(edk.ciphertext)})
    out: dict[str, Any] = {
        "algorithm": header.suite.name,
        "algorithm_id": f"0x{header.suite.suite_id:04x}",
        "message_id": header.message_id.hex(),
        "framed": header.framed,
        "frame_length": header.frame_length,
        "encryption_context": dict(header.encryption_context),
        "encrypted_data_keys": edks,
    }
    if frames is not None:
        out["frames"], out["plaintext_length"] = frames
    return out


def _count_frames(fin: BinaryIO, header: Header) -> tuple[int, int] | None:
    """Walk the frame headers of a seekable file (one small read per frame); None if not cheap or malformed."""
    if not header.framed:
        return None
    try:
        if not fin.seekable():
            return None
        pos = fin.tell() + TAG_LEN
        step = 4 + 12 + header.frame_length + TAG_LEN
        count = 0
        while True:
            fin.seek(pos)
            head = fin.read(24)
            if len(head) < 4:
                return None
            count += 1
            if int.from_bytes(head[:4], "big") == FINAL_FRAME_MARKER:
                if len(head) < 24:
                    return None
                return count, (count - 1) * header.frame_length + int.from_bytes(head[20:24], "big")
            pos += step
    except OSError:
        return None
