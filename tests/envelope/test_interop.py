"""Cross-compatibility with the official AWS Encryption SDK (Python 4.0.7), both directions."""

from __future__ import annotations

import io
import os

import pytest
from aws_encryption_sdk.identifiers import Algorithm

from kmslab.envelope import RawAesKeyProvider, decrypt, decrypt_stream, encrypt, encrypt_stream

SIZES = [0, 1, 4095, 4096, 4097, 3 * 4096 + 11]
SUITES = {
    0x0478: Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
    0x0578: Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
}


@pytest.mark.parametrize("suite_id", sorted(SUITES), ids=["0478", "0578"])
@pytest.mark.parametrize("size", SIZES)
def test_ours_decrypt_with_the_esdk(
    raw_provider: RawAesKeyProvider, esdk_raw_key, esdk, size: int, suite_id: int
) -> None:
    plaintext = os.urandom(size)
    context = {"tenant": "acme", "ünïcode": "välue"}
    message = encrypt(
        plaintext, provider=raw_provider, encryption_context=context, frame_length=4096, algorithm=suite_id
    )
    decrypted, header = esdk.decrypt(source=message, key_provider=esdk_raw_key)
    assert decrypted == plaintext
    assert header.algorithm == SUITES[suite_id]
    assert header.encryption_context["tenant"] == "acme"
    assert header.encryption_context["ünïcode"] == "välue"
    streamed = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), streamed, provider=raw_provider, frame_length=4096, algorithm=suite_id)
    assert esdk.decrypt(source=streamed.getvalue(), key_provider=esdk_raw_key)[0] == plaintext


@pytest.mark.parametrize("suite_id", sorted(SUITES), ids=["0478", "0578"])
@pytest.mark.parametrize("size", SIZES)
def test_esdk_messages_decrypt_with_ours(
    raw_provider: RawAesKeyProvider, esdk_raw_key, esdk, size: int, suite_id: int
) -> None:
    plaintext = os.urandom(size)
    message, _ = esdk.encrypt(
        source=plaintext,
        key_provider=esdk_raw_key,
        encryption_context={"tenant": "acme"},
        algorithm=SUITES[suite_id],
        frame_length=4096,
    )
    result = decrypt(message, provider=raw_provider, required_context={"tenant": "acme"})
    assert result.plaintext == plaintext
    assert result.header.suite.suite_id == suite_id
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(message), out, provider=raw_provider, required_context={"tenant": "acme"})
    assert out.getvalue() == plaintext


def test_esdk_default_settings_and_streaming_api(raw_provider: RawAesKeyProvider, esdk_raw_key, esdk) -> None:
    plaintext = os.urandom(100_000)
    message, _ = esdk.encrypt(source=plaintext, key_provider=esdk_raw_key)  # default suite 0x0578, 4 KiB frames
    assert decrypt(message, provider=raw_provider).plaintext == plaintext
    with esdk.stream(mode="e", source=io.BytesIO(plaintext), key_provider=esdk_raw_key, frame_length=1 << 20) as enc:
        streamed = enc.read()
    assert decrypt(streamed, provider=raw_provider).plaintext == plaintext


def test_esdk_single_block_messages_decrypt_with_ours(raw_provider: RawAesKeyProvider, esdk_raw_key, esdk) -> None:
    plaintext = os.urandom(10_000)
    message, header = esdk.encrypt(
        source=plaintext,
        key_provider=esdk_raw_key,
        frame_length=0,
        algorithm=Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
    )
    assert header.frame_length == 0
    result = decrypt(message, provider=raw_provider)
    assert result.plaintext == plaintext and not result.header.framed
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(message), out, provider=raw_provider)
    assert out.getvalue() == plaintext


def test_esdk_refuses_our_message_under_another_key(raw_provider: RawAesKeyProvider, esdk) -> None:
    from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
    from aws_encryption_sdk.identifiers import EncryptionKeyType, WrappingAlgorithm
    from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
    from aws_encryption_sdk.key_providers.raw import RawMasterKey

    other = RawMasterKey(
        provider_id=raw_provider.namespace,
        key_id=raw_provider.name.encode(),
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=os.urandom(32),
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )
    from cryptography.exceptions import InvalidTag

    # the ESDK's raw key lets the unwrapping InvalidTag escape; KMS failures come as its own errors
    with pytest.raises((AWSEncryptionSDKClientError, InvalidTag)):
        esdk.decrypt(source=encrypt(b"secret", provider=raw_provider), key_provider=other)
