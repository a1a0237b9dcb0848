"""The new operations go through key policies, IAM conditions and grants like every other operation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmslab.kms.authz import KmsAuthorizer, caller_for_arn, parse_identities
from kmslab.kms.engine import LocalKms
from tests.kms.helpers import covers, error_of

ACCT = "111122223333"
ROOT = f"arn:aws:iam::{ACCT}:root"
APP = f"arn:aws:iam::{ACCT}:role/app"
STORE = parse_identities({"account": ACCT, "identities": []})
ROOT_ONLY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}],
    }
)


def _policy_with(statement: dict[str, Any]) -> str:
    policy = json.loads(ROOT_ONLY)
    policy["Statement"].append({"Effect": "Allow", "Principal": {"AWS": APP}, "Resource": "*", **statement})
    return json.dumps(policy)


@pytest.fixture
def engine() -> Any:
    kms = LocalKms(None, account=ACCT, authorizer=KmsAuthorizer(STORE))
    yield kms
    kms.close()


def _peer() -> bytes:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@covers("DeriveSharedSecret", "Encapsulate", "Decapsulate", "GetKeyLastUsage", aspect="errors")
def test_key_policy_decides_the_new_operations(engine: LocalKms) -> None:
    root, app = engine.boto3_client(caller=caller_for_arn(ROOT)), engine.boto3_client(caller=caller_for_arn(APP))
    agreement = root.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT", Policy=ROOT_ONLY)["KeyMetadata"]
    with pytest.raises(ClientError) as exc:
        app.derive_shared_secret(KeyId=agreement["Arn"], KeyAgreementAlgorithm="ECDH", PublicKey=_peer())
    assert error_of(exc)[0] == "AccessDeniedException" and "kms:DeriveSharedSecret" in error_of(exc)[1]
    with pytest.raises(ClientError) as exc:
        app.get_key_last_usage(KeyId=agreement["Arn"])
    assert error_of(exc)[0] == "AccessDeniedException"
    # A condition on the algorithm: kms:KeyAgreementAlgorithm.
    allowed = _policy_with(
        {
            "Action": "kms:DeriveSharedSecret",
            "Condition": {"StringEquals": {"kms:KeyAgreementAlgorithm": "ECDH"}},
        }
    )
    root.put_key_policy(KeyId=agreement["Arn"], PolicyName="default", Policy=allowed)
    assert app.derive_shared_secret(KeyId=agreement["Arn"], KeyAgreementAlgorithm="ECDH", PublicKey=_peer())
    kem = root.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE", Policy=ROOT_ONLY)["KeyMetadata"]
    with pytest.raises(ClientError) as exc:
        app.encapsulate(KeyId=kem["Arn"], EncapsulationAlgorithm="ML_KEM")
    assert error_of(exc)[0] == "AccessDeniedException"


def test_grants_cover_the_new_operations(engine: LocalKms) -> None:
    root, app = engine.boto3_client(caller=caller_for_arn(ROOT)), engine.boto3_client(caller=caller_for_arn(APP))
    kem = root.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE", Policy=ROOT_ONLY)["KeyMetadata"]
    root.create_grant(KeyId=kem["Arn"], GranteePrincipal=APP, Operations=["Encapsulate", "Decapsulate"])
    blob = app.encapsulate(KeyId=kem["Arn"], EncapsulationAlgorithm="ML_KEM")["SharedSecretCiphertextBlob"]
    assert app.decapsulate(KeyId=kem["Arn"], EncapsulationAlgorithm="ML_KEM", SharedSecretCiphertextBlob=blob)
    agreement = root.create_key(KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT", Policy=ROOT_ONLY)["KeyMetadata"]
    root.create_grant(KeyId=agreement["Arn"], GranteePrincipal=APP, Operations=["DeriveSharedSecret"])
    peer = ec.generate_private_key(ec.SECP384R1()).public_key()
    der = peer.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert app.derive_shared_secret(KeyId=agreement["Arn"], KeyAgreementAlgorithm="ECDH", PublicKey=der)
    with pytest.raises(ClientError) as exc:  # a grant names only operations the key can do
        root.create_grant(KeyId=agreement["Arn"], GranteePrincipal=APP, Operations=["Encapsulate"])
    assert error_of(exc)[0] == "ValidationException"
