"""``kmslab envelope``: encrypt, decrypt and inspect files in the AWS Encryption SDK message format."""

from __future__ import annotations

from collections.abc import Callable
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
@_key_options
def encrypt_cmd(
    keys: tuple[str, ...],
    src: str,
    dst: str,
    frame_size: str,
    signed: bool,
    namespace: str,
    key_name: str,
    endpoint: str | None,
    region: str | None,
    context: tuple[str, ...],
    fsync: bool,
    progress: bool | None,
) -> None:
    """Encrypt FILE under a KMS key (or a raw AES key) into an envelope message."""
    from kmslab.envelope import _stream

    frame_length = io_.parse_size(frame_size)
    encryption_context = io_.parse_context(context)
    provider = io_.encrypt_provider(keys, namespace, key_name, region, endpoint)
    with (
        io_.open_input(src) as fin,
        io_.progress_bar(io_.input_size(fin), progress, "encrypting") as bar,
        io_.atomic_output(dst, fsync) as fout,
    ):
        suite = COMMIT_KEY_ECDSA_P384 if signed else COMMIT_KEY
        _stream.encrypt_stream(fin, fout, provider, encryption_context, frame_length, bar, suite)


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
@_key_options
def decrypt_cmd(
    keys: tuple[str, ...],
    src: str,
    dst: str,
    namespace: str,
    key_name: str,
    endpoint: str | None,
    region: str | None,
    context: tuple[str, ...],
    fsync: bool,
    progress: bool | None,
) -> None:
    """Decrypt and verify a message; --context pairs are required to be in the message's context."""
    from kmslab.envelope import _stream

    required = io_.parse_context(context)
    provider = io_.decrypt_provider(keys, namespace, key_name, region, endpoint)
    with (
        io_.open_input(src) as fin,
        io_.progress_bar(io_.input_size(fin), progress, "decrypting") as bar,
        io_.atomic_output(dst, fsync) as fout,
    ):
        _stream.decrypt_stream(fin, fout, provider, required, bar, DEFAULT_MAX_FRAME_LENGTH)


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
        click.echo(f"  {edk['provider']}  {edk['key']}")


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
        edks.append({"provider": edk.provider_id, "key": key})
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
