"""The KMS key provider against the local KMS (real key semantics): one and several keys, multi-Region keys,
Region routing, context binding, disabled keys, and interop with the ESDK's KMS provider over HTTP."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import aws_encryption_sdk
import botocore.session
import pytest

from kmslab.envelope import (
    EncryptedDataKey,
    KeyProviderError,
    KmsKeyProvider,
    decrypt,
    decrypt_stream,
    encrypt,
    encrypt_stream,
    inspect_header,
)
from kmslab.kms import LocalKms
from kmslab.kms.server import KmsServer


@pytest.fixture
def local_kms() -> Iterator[LocalKms]:
    kms = LocalKms()
    yield kms
    kms.close()


@pytest.fixture
def kms(local_kms: LocalKms) -> Any:
    return local_kms.boto3_client("us-east-1")


def _key(client: Any, **kwargs: Any) -> str:
    return str(client.create_key(Description="envelope test", **kwargs)["KeyMetadata"]["Arn"])


def test_single_key_round_trip_and_edk_is_the_key_arn(kms: Any) -> None:
    arn = _key(kms)
    provider = KmsKeyProvider(kms, [arn])
    plaintext = os.urandom(5000)
    message = encrypt(plaintext, provider=provider, encryption_context={"app": "lab"}, frame_length=1024)
    header = inspect_header(message)
    assert [(e.provider_id, e.key_info.decode()) for e in header.encrypted_data_keys] == [("aws-kms", arn)]
    assert decrypt(message, provider=provider, required_context={"app": "lab"}).plaintext == plaintext
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), out, provider=provider)
    back = io.BytesIO()
    decrypt_stream(io.BytesIO(out.getvalue()), back, provider=provider)
    assert back.getvalue() == plaintext


def test_key_given_by_alias_encrypts_and_records_the_arn(kms: Any) -> None:
    arn = _key(kms)
    kms.create_alias(AliasName="alias/envelope", TargetKeyId=arn)
    message = encrypt(b"x", provider=KmsKeyProvider(kms, ["alias/envelope"]))
    assert inspect_header(message).encrypted_data_keys[0].key_info.decode() == arn
    assert decrypt(message, provider=KmsKeyProvider(kms, [arn])).plaintext == b"x"


def test_multi_key_wraps_under_every_key_and_any_one_decrypts(kms: Any) -> None:
    first, second = _key(kms), _key(kms)
    message = encrypt(b"payload", provider=KmsKeyProvider(kms, [first, second]))
    arns = [e.key_info.decode() for e in inspect_header(message).encrypted_data_keys]
    assert arns == [first, second]
    assert decrypt(message, provider=KmsKeyProvider(kms, [second])).plaintext == b"payload"
    assert decrypt(message, provider=KmsKeyProvider(kms, [first])).plaintext == b"payload"
    third = _key(kms)
    with pytest.raises(KeyProviderError, match="no data key encrypted under a configured KMS key"):
        decrypt(message, provider=KmsKeyProvider(kms, [third]))


def test_disabled_first_key_falls_back_to_the_second(kms: Any) -> None:
    first, second = _key(kms), _key(kms)
    message = encrypt(b"payload", provider=KmsKeyProvider(kms, [first, second]))
    kms.disable_key(KeyId=first)
    assert decrypt(message, provider=KmsKeyProvider(kms, [first, second])).plaintext == b"payload"
    with pytest.raises(KeyProviderError, match="DisabledException"):
        decrypt(message, provider=KmsKeyProvider(kms, [first]))
    with pytest.raises(KeyProviderError, match="DisabledException"):
        encrypt(b"x", provider=KmsKeyProvider(kms, [first]))


def test_context_is_bound_by_kms(kms: Any) -> None:
    arn = _key(kms)
    provider = KmsKeyProvider(kms, [arn])
    message = encrypt(b"x", provider=provider, encryption_context={"tenant": "acme"})
    tampered = message.replace(b"acme", b"acmf", 1)
    with pytest.raises(KeyProviderError, match="InvalidCiphertextException"):
        decrypt(tampered, provider=provider)


def test_keys_in_two_regions_route_to_the_region_of_the_arn(local_kms: LocalKms) -> None:
    east, west = local_kms.boto3_client("us-east-1"), local_kms.boto3_client("us-west-2")
    east_arn, west_arn = _key(east), _key(west)
    message = encrypt(b"two regions", provider=KmsKeyProvider([east, west], [east_arn, west_arn]))
    assert decrypt(message, provider=KmsKeyProvider({"us-west-2": west}, [west_arn])).plaintext == b"two regions"
    assert decrypt(message, provider=KmsKeyProvider([east, west], [east_arn])).plaintext == b"two regions"


def test_multi_region_key_replica_decrypts_in_its_own_region(local_kms: LocalKms) -> None:
    east, west = local_kms.boto3_client("us-east-1"), local_kms.boto3_client("us-west-2")
    primary = _key(east, MultiRegion=True)
    replica = str(east.replicate_key(KeyId=primary, ReplicaRegion="us-west-2")["ReplicaKeyMetadata"]["Arn"])
    assert primary.split(":")[3:] != replica.split(":")[3:] and primary.endswith(replica.split("/")[-1])
    message = encrypt(b"mrk", provider=KmsKeyProvider(east, [primary]), encryption_context={"r": "1"})
    # only the replica and a us-west-2 client: Decrypt goes to us-west-2 with the replica's ARN
    assert decrypt(message, provider=KmsKeyProvider(west, [replica])).plaintext == b"mrk"
    # both clients: the EDK's own Region and ARN
    assert decrypt(message, provider=KmsKeyProvider([east, west], [replica])).plaintext == b"mrk"


class _RecordingKms:
    """A stand-in client that records Decrypt calls, to check exactly what the router sends."""

    def __init__(self, region: str) -> None:
        self.meta = type("Meta", (), {"region_name": region})()
        self.calls: list[dict[str, Any]] = []

    def decrypt(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"KeyId": kwargs["KeyId"], "Plaintext": b"k" * 32}


def test_multi_region_key_routing_arguments() -> None:
    east_arn = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd"
    west_arn = "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd"
    edks = [EncryptedDataKey("aws-kms", east_arn.encode(), b"blob")]
    east, west = _RecordingKms("us-east-1"), _RecordingKms("us-west-2")
    assert KmsKeyProvider([east, west], [west_arn]).decrypt_data_key(edks, {"a": "b"}) == b"k" * 32
    assert east.calls == [{"CiphertextBlob": b"blob", "KeyId": east_arn, "EncryptionContext": {"a": "b"}}]
    KmsKeyProvider([west], [west_arn]).decrypt_data_key(edks, {})
    assert west.calls[-1]["KeyId"] == west_arn
    other = "arn:aws:kms:us-west-2:111122223333:key/1234abcd"  # not an MRK: never matches another Region
    with pytest.raises(KeyProviderError):
        KmsKeyProvider([west], [other]).decrypt_data_key(edks, {})


def test_kms_failure_is_one_key_provider_error(kms: Any) -> None:
    with pytest.raises(KeyProviderError, match="NotFoundException"):
        encrypt(b"x", provider=KmsKeyProvider(kms, ["arn:aws:kms:us-east-1:111122223333:key/missing"]))
    with pytest.raises(KeyProviderError):
        KmsKeyProvider(kms, [])


def test_esdk_kms_provider_interop_both_ways_over_http(local_kms: LocalKms, monkeypatch: pytest.MonkeyPatch) -> None:
    server = KmsServer(local_kms, owns_kms=False).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.url)
        session = botocore.session.Session()
        client = session.create_client("kms", region_name="us-east-1")
        arn = _key(client)
        ours = KmsKeyProvider(client, [arn])
        esdk = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=aws_encryption_sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        )
        theirs = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=session)
        plaintext = os.urandom(70_000)
        message = encrypt(plaintext, provider=ours, encryption_context={"app": "lab"}, frame_length=4096)
        decrypted, header = esdk.decrypt(source=message, key_provider=theirs)
        assert decrypted == plaintext and header.encryption_context == {"app": "lab"}
        esdk_message, _ = esdk.encrypt(source=plaintext, key_provider=theirs, encryption_context={"app": "esdk"})
        result = decrypt(esdk_message, provider=ours, required_context={"app": "esdk"})
        assert result.plaintext == plaintext
        assert result.header.suite.suite_id == 0x0578
        assert [e.key_info.decode() for e in result.header.encrypted_data_keys] == [arn]
    finally:
        server.stop()
