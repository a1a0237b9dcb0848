"""Chapter 4's checkpoint: the envelope files of the page, in the learner's current directory.

The page leaves nothing in the cloud but CloudTrail records (which reach ``LookupEvents`` minutes late on
AWS), so the checks read the files it made and ask KMS to unwrap their data keys. A data key unwrapped here
stays in memory and is dropped at once; nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from kmslab.guide.checks._base import Chapter, CheckEnv, Finding

__all__ = ["CHAPTER", "CONTEXT", "DATA_ALIAS"]

#: The kit's data key, and the encryption context the page uses.
DATA_ALIAS = "alias/kmslab/data"
CONTEXT = {"project": "kmslab"}
_CONTEXT_TEXT = "project=kmslab"
_NONCE = 12


def _data_key_arn(env: CheckEnv) -> str:
    return str(env.client("kms").describe_key(KeyId=DATA_ALIAS)["KeyMetadata"]["Arn"])


def _unwrap(env: CheckEnv, blob: bytes) -> tuple[str, bytes] | None:
    """KMS Decrypt of an encrypted data key under the page's context; None when KMS refuses the blob."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        got = env.client("kms").decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("InvalidCiphertextException", "ValidationException"):
            return None
        raise
    return str(got["KeyId"]), bytes(got["Plaintext"])


def _key_file(env: CheckEnv) -> Finding:
    """report.txt.key is a data key encrypted under the data key."""
    text = f"report.txt.key is a data key encrypted under the data key (context {_CONTEXT_TEXT})"
    path = Path("report.txt.key")
    if not path.is_file():
        return Finding.missing(text, "no report.txt.key in this directory: run step 4.4 here")
    unwrapped = _unwrap(env, path.read_bytes())
    if unwrapped is None:
        return Finding.missing(text, f"KMS refused it with context {_CONTEXT_TEXT}: redo step 4.4")
    if unwrapped[0] != _data_key_arn(env):
        return Finding.missing(text, f"it is encrypted under {unwrapped[0]}, not {DATA_ALIAS}: redo step 4.4")
    return Finding.done(text)


def _by_hand(env: CheckEnv) -> Finding:
    """report.txt.enc decrypts with the data key of report.txt.key."""
    from cryptography.exceptions import InvalidTag  # noqa: PLC0415
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

    text = "report.txt.enc decrypts with that data key to report.txt"
    files = [Path(name) for name in ("report.txt", "report.txt.enc", "report.txt.key")]
    absent = [str(p) for p in files if not p.is_file()]
    if absent:
        return Finding.missing(text, f"{', '.join(absent)} missing here: run step 4.4 here")
    unwrapped = _unwrap(env, files[2].read_bytes())
    if unwrapped is None:
        return Finding.missing(text, "report.txt.key does not unwrap: redo step 4.4")
    blob = files[1].read_bytes()
    try:
        plaintext = AESGCM(unwrapped[1]).decrypt(blob[:_NONCE], blob[_NONCE:], None)
    except (InvalidTag, ValueError):
        return Finding.missing(text, "report.txt.enc is not AES-GCM under that data key: redo step 4.4")
    if plaintext != files[0].read_bytes():
        return Finding.missing(text, "it decrypts, but not to report.txt: redo step 4.4")
    return Finding.done(text)


def _message_header(env: CheckEnv) -> Finding:
    """report.txt.kms is an envelope message under the data key with the page's context."""
    from kmslab.envelope import EnvelopeError, inspect_header  # noqa: PLC0415

    text = f"report.txt.kms is an envelope message under the data key with context {_CONTEXT_TEXT}"
    path = Path("report.txt.kms")
    if not path.is_file():
        return Finding.missing(text, "no report.txt.kms in this directory: run step 4.6 here")
    try:
        header = inspect_header(path.read_bytes())
    except EnvelopeError as exc:
        return Finding.missing(text, f"not an envelope message ({exc}): run step 4.6 again")
    wrapped_by = {edk.key_info.decode(errors="replace") for edk in header.encrypted_data_keys}
    if _data_key_arn(env) not in wrapped_by:
        return Finding.missing(text, f"its data key is wrapped by {', '.join(sorted(wrapped_by))}: run step 4.6 again")
    if any(header.encryption_context.get(k) != v for k, v in CONTEXT.items()):
        return Finding.missing(text, f"its context lacks {_CONTEXT_TEXT}: run step 4.6 with --context {_CONTEXT_TEXT}")
    return Finding.done(text)


def _message_decrypts(env: CheckEnv) -> Finding:
    """report.txt.kms decrypts to report.txt."""
    from kmslab.envelope import EnvelopeError, KmsKeyProvider, decrypt  # noqa: PLC0415

    text = "report.txt.kms decrypts to report.txt"
    message, original = Path("report.txt.kms"), Path("report.txt")
    if not (message.is_file() and original.is_file()):
        return Finding.missing(text, "report.txt or report.txt.kms missing here: run steps 4.4 and 4.6 here")
    provider = KmsKeyProvider(env.client("kms"), [_data_key_arn(env)])
    try:
        result = decrypt(message.read_bytes(), provider=provider, required_context=CONTEXT)
    except EnvelopeError as exc:
        return Finding.missing(text, f"{exc}: run step 4.6 again")
    if result.plaintext != original.read_bytes():
        return Finding.missing(text, "it decrypts, but not to report.txt: run step 4.6 again")
    return Finding.done(text)


CHAPTER = Chapter(
    number=4,
    title="Envelope encryption and data keys",
    checks=(_key_file, _by_hand, _message_header, _message_decrypts),
)
