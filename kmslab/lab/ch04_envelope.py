"""Chapter 4 of the lab (``workshop/04-envelope.md``): envelope encryption and data keys, as Alice under the data key.

First by hand (GenerateDataKey, AES-GCM locally, forget the plaintext key, Decrypt the data key),
then a file of a few MiB in the AWS Encryption SDK message format (what ``kmslab envelope`` writes);
KMS sees only the data key, never the file.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from typing import Any

from kmslab.envelope import (
    AuthenticationError,
    ContextMismatchError,
    KmsKeyProvider,
    decrypt_stream,
    encrypt_stream,
    inspect_header,
)
from kmslab.lab._steps import Fact, LabContext, Step, show_blob, show_context

FILE_SIZE = 2 * 1024 * 1024 + 1234
DATA_KEY = "alias/kmslab/data"
CONTEXT = {"project": "workshop", "file": "big.bin"}
WRONG_CONTEXT = {"project": "someone-else"}


def _provider(ctx: LabContext) -> KmsKeyProvider:
    return KmsKeyProvider(ctx.client("alice"), [ctx.need("envelope_key_arn")])


def by_hand(ctx: LabContext) -> Sequence[Fact]:
    """GenerateDataKey, encrypt locally with the plaintext key, keep only the encrypted key, decrypt later."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    alice = ctx.client("alice")
    made = alice.generate_data_key(KeyId=DATA_KEY, KeySpec="AES_256", EncryptionContext=CONTEXT)
    ctx.expect(len(made["Plaintext"]) == 32, "an AES_256 data key is 32 bytes")
    nonce = os.urandom(12)
    sealed = AESGCM(made["Plaintext"]).encrypt(nonce, b"quarterly report draft", None)
    encrypted_key = made["CiphertextBlob"]
    del made  # the plaintext data key is forgotten: only its encrypted copy is kept with the data
    back = alice.decrypt(CiphertextBlob=encrypted_key, EncryptionContext=CONTEXT)
    opened = AESGCM(back["Plaintext"]).decrypt(nonce, sealed, None)
    ctx.expect(opened == b"quarterly report draft", "the data decrypts with the data key KMS gave back")
    ctx.expect(
        back["KeyId"] == ctx.kms.describe_key(KeyId=DATA_KEY)["KeyMetadata"]["Arn"], "Decrypt names the data key"
    )
    return [
        ("GenerateDataKey", f"AES_256 under {DATA_KEY}: 32-byte plaintext key + {show_blob(encrypted_key)}"),
        ("kept with the data", "the encrypted data key, the nonce, the ciphertext"),
        ("Decrypt (the data key)", f"KeyId {back['KeyId']}, then AES-GCM opens the data locally"),
    ]


def _kms_calls(ctx: LabContext, operation: str, key_arn: str) -> list[dict[str, Any]]:
    records = ctx.recorder.records() if ctx.recorder is not None else []
    return [
        r
        for r in records
        if r.get("eventName") == operation and any(res.get("ARN") == key_arn for res in r.get("resources") or [])
    ]


def encrypt_file(ctx: LabContext) -> Sequence[Fact]:
    """Generate a file and encrypt it under the kit's data key."""
    meta = ctx.kms.describe_key(KeyId=DATA_KEY)["KeyMetadata"]
    alias = DATA_KEY
    ctx.state["envelope_key_arn"] = meta["Arn"]
    plain = ctx.work_dir / "big.bin"
    sealed = ctx.work_dir / "big.bin.enc"
    plain.write_bytes(os.urandom(FILE_SIZE))
    before = len(_kms_calls(ctx, "GenerateDataKey", meta["Arn"]))
    with plain.open("rb") as src, sealed.open("wb") as dst:
        header = encrypt_stream(src, dst, provider=_provider(ctx), encryption_context=CONTEXT)
    calls = len(_kms_calls(ctx, "GenerateDataKey", meta["Arn"])) - before
    size = sealed.stat().st_size
    ctx.expect(calls == 1 or ctx.recorder is None, f"one GenerateDataKey call for the whole file, saw {calls}")
    ctx.expect(size > FILE_SIZE, "the message is the file plus a header and per-frame tags")
    ctx.state.update(envelope_plain=plain, envelope_sealed=sealed, envelope_sha=hashlib.sha256(plain.read_bytes()))
    frames = -(-FILE_SIZE // header.frame_length)
    return [
        ("KMS key", f"{meta['Arn']} ({alias})"),
        ("plaintext file", f"{FILE_SIZE:,} bytes of random data"),
        ("encrypted file", f"{size:,} bytes, {frames} frames of {header.frame_length:,} bytes"),
        ("algorithm", header.algorithm),
        ("KMS calls", f"{calls} GenerateDataKey (the data never went to KMS)"),
    ]


def inspect_message(ctx: LabContext) -> Sequence[Fact]:
    """Read the message header without any key."""
    with ctx.need("envelope_sealed").open("rb") as src:
        header = inspect_header(src)
    edks = header.encrypted_data_keys
    ctx.expect(len(edks) == 1, f"one encrypted data key, got {len(edks)}")
    edk = edks[0]
    ctx.expect(edk.provider_id == "aws-kms", f"the data key was wrapped by aws-kms, got {edk.provider_id}")
    ctx.expect(
        edk.key_info.decode() == ctx.need("envelope_key_arn"),
        f"the EDK names the KMS key ARN, got {edk.key_info!r}",
    )
    ctx.expect(dict(header.encryption_context) == CONTEXT, f"the header carries the context, got {header}")
    return [
        ("encrypted data key", f"provider {edk.provider_id}, key {edk.key_info.decode()}"),
        ("its ciphertext", show_blob(edk.ciphertext)),
        ("encryption context", show_context(header.encryption_context)),
        ("frame length", f"{header.frame_length:,} bytes"),
    ]


def decrypt_file(ctx: LabContext) -> Sequence[Fact]:
    """Decrypt with the context required; KMS decrypts only the data key."""
    arn = ctx.need("envelope_key_arn")
    out = ctx.work_dir / "big.out"
    before = len(_kms_calls(ctx, "Decrypt", arn))
    with ctx.need("envelope_sealed").open("rb") as src, out.open("wb") as dst:
        header = decrypt_stream(src, dst, provider=_provider(ctx), required_context={"project": "workshop"})
    calls = _kms_calls(ctx, "Decrypt", arn)[before:]
    same = hashlib.sha256(out.read_bytes()).digest() == ctx.need("envelope_sha").digest()
    ctx.expect(same, "the decrypted file is byte for byte the original")
    ctx.expect(dict(header.encryption_context) == CONTEXT, "the verified context is the one used to encrypt")
    facts: list[Fact] = [
        ("decrypted file", f"{out.stat().st_size:,} bytes, identical to the original (SHA-256)"),
        ("required context", "{project=workshop}: present"),
    ]
    if ctx.recorder is not None:
        ctx.expect(len(calls) == 1, f"one Decrypt call for the data key, saw {len(calls)}")
        seen = calls[0].get("requestParameters", {}).get("encryptionContext", {})
        ctx.expect(seen == CONTEXT, f"KMS saw the message's encryption context, got {seen}")
        facts.append(("KMS calls", f"1 Decrypt, CloudTrail shows encryptionContext {show_context(seen)}"))
    return facts


def tampered_byte(ctx: LabContext) -> Sequence[Fact]:
    """Flip one byte in the first frame; decryption refuses and releases nothing."""
    data = bytearray(ctx.need("envelope_sealed").read_bytes())
    header = inspect_header(bytes(data))
    offset = len(header.raw) + 16 + 100  # past the header and its tag, inside the first frame's ciphertext
    data[offset] ^= 0x01
    released = io.BytesIO()
    refused = ctx.expect_raises(
        lambda: decrypt_stream(io.BytesIO(bytes(data)), released, provider=_provider(ctx)), AuthenticationError
    )
    ctx.expect(released.getbuffer().nbytes == 0, f"no byte is released, got {released.getbuffer().nbytes}")
    return [
        ("flipped", f"1 bit at byte {offset:,} of {len(data):,}"),
        ("decrypt", f"refused: {type(refused).__name__}: {refused}"),
        ("bytes released", "0"),
    ]


def wrong_context(ctx: LabContext) -> Sequence[Fact]:
    """Require a context the message does not carry."""
    released = io.BytesIO()
    with ctx.need("envelope_sealed").open("rb") as src:
        refused = ctx.expect_raises(
            lambda: decrypt_stream(src, released, provider=_provider(ctx), required_context=WRONG_CONTEXT),
            ContextMismatchError,
        )
    ctx.expect(released.getbuffer().nbytes == 0, "no byte is released")
    return [
        ("required context", show_context(WRONG_CONTEXT)),
        ("decrypt", f"refused: {type(refused).__name__}: {refused}"),
        ("bytes released", "0"),
    ]


STEPS: tuple[Step, ...] = (
    Step(
        "Generate a data key and use it by hand",
        "GenerateDataKey returns a data key twice: in plaintext to use at once and forget, and encrypted under "
        "the KMS key to store beside the data; Decrypt gives the plaintext key back later.",
        by_hand,
    ),
    Step(
        f"Encrypt a {FILE_SIZE // 2**20} MiB file under a KMS key",
        "One GenerateDataKey call gives a data key; the file is encrypted locally, frame by frame, "
        "and never goes to KMS.",
        encrypt_file,
    ),
    Step(
        "Inspect the message header",
        "The envelope stores the data key encrypted under the KMS key, naming its ARN, and the "
        "encryption context; never a plaintext key.",
        inspect_message,
    ),
    Step(
        "Decrypt with a required encryption context",
        "KMS decrypts only the data key (one Decrypt, with the message's context); the file comes back intact.",
        decrypt_file,
    ),
    Step(
        "Flip one byte and decrypt",
        "Every frame is authenticated: a tampered message is refused with AuthenticationError and "
        "no unauthenticated byte is released.",
        tampered_byte,
    ),
    Step(
        "Require a context the message does not carry",
        "A required encryption context that does not match refuses the message.",
        wrong_context,
    ),
)
