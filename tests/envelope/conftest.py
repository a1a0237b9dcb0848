"""Fixtures for the envelope tests: raw AES keys on our side and the AWS Encryption SDK's."""

from __future__ import annotations

import os

import aws_encryption_sdk
import pytest
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.identifiers import EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKey

from kmslab.envelope import RawAesKeyProvider

NAMESPACE = "kmslab-tests"
KEY_NAME = "wrapping-key-1"


@pytest.fixture
def wrapping_key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def raw_provider(wrapping_key: bytes) -> RawAesKeyProvider:
    return RawAesKeyProvider(NAMESPACE, KEY_NAME, wrapping_key)


@pytest.fixture
def esdk_raw_key(wrapping_key: bytes) -> RawMasterKey:
    """The AWS Encryption SDK's raw AES master key over the same wrapping key, namespace and name."""
    return RawMasterKey(
        provider_id=NAMESPACE,
        key_id=KEY_NAME.encode(),
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=wrapping_key,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )


@pytest.fixture
def esdk() -> aws_encryption_sdk.EncryptionSDKClient:
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
