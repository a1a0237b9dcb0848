"""Every operation of botocore's KMS model, called once, leaves a CloudTrail record of AWS's shape.

One scenario drives the engine through a real boto3 client; each answered call goes to a sink and
through :func:`kmslab.trail.to_cloudtrail_record`. The record must name the operation, carry the
readOnly flag the engine uses, name the key it touched, and hold no secret field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmslab.kms import LocalKms
from kmslab.kms.ops.custom_stores import OPERATIONS as CUSTOM_STORE_OPERATIONS
from kmslab.kms.seams import ApiCall
from kmslab.trail import to_cloudtrail_record
from kmslab.trail.record import REQUEST_FIELDS, SECRET_FIELDS
from tests.kms.helpers import covers, import_material

ROLE = "arn:aws:iam::111122223333:role/app"
POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},'
    '"Action":"kms:*","Resource":"*"}]}'
)


def _scenario(kms: Any, engine: LocalKms) -> dict[str, Callable[[], Any]]:
    """Operation -> a call that succeeds (custom key stores: a call that is refused), in an order that works."""
    key = kms.create_key(Description="trail")["KeyMetadata"]["KeyId"]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    macer = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    agree = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
    kem = kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]["KeyId"]
    external = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    mrk = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    peer = ec.generate_private_key(ec.SECP256R1()).public_key()
    peer_der = peer.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    state: dict[str, Any] = {}

    def grant() -> Any:
        out = kms.create_grant(KeyId=key, GranteePrincipal=ROLE, RetiringPrincipal=ROLE, Operations=["Decrypt"])
        state.setdefault("grants", []).append(out["GrantId"])
        return out

    def blob() -> bytes:
        if "blob" not in state:
            state["blob"] = kms.encrypt(KeyId=key, Plaintext=b"trail")["CiphertextBlob"]
        return bytes(state["blob"])

    def signature() -> bytes:
        if "sig" not in state:
            state["sig"] = kms.sign(KeyId=signer, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        return bytes(state["sig"])

    def kem_blob() -> bytes:
        if "kem" not in state:
            state["kem"] = kms.encapsulate(KeyId=kem, EncapsulationAlgorithm="ML_KEM")["SharedSecretCiphertextBlob"]
        return bytes(state["kem"])

    store = "cks-1234567890abcdef0"
    return {
        "CreateKey": lambda: kms.create_key(KeySpec="ML_DSA_44", KeyUsage="SIGN_VERIFY"),
        "DescribeKey": lambda: kms.describe_key(KeyId=key),
        "ListKeys": lambda: kms.list_keys(),
        "CreateAlias": lambda: kms.create_alias(AliasName="alias/trail", TargetKeyId=key),
        "UpdateAlias": lambda: kms.update_alias(AliasName="alias/trail", TargetKeyId=other),
        "ListAliases": lambda: kms.list_aliases(),
        "DeleteAlias": lambda: kms.delete_alias(AliasName="alias/trail"),
        "Encrypt": lambda: kms.encrypt(KeyId=key, Plaintext=b"secret words"),
        "Decrypt": lambda: kms.decrypt(CiphertextBlob=blob()),
        "ReEncrypt": lambda: kms.re_encrypt(CiphertextBlob=blob(), DestinationKeyId=other),
        "GenerateDataKey": lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_256"),
        "GenerateDataKeyWithoutPlaintext": lambda: kms.generate_data_key_without_plaintext(KeyId=key, NumberOfBytes=32),
        "GenerateDataKeyPair": lambda: kms.generate_data_key_pair(KeyId=key, KeyPairSpec="ECC_NIST_EDWARDS25519"),
        "GenerateDataKeyPairWithoutPlaintext": lambda: kms.generate_data_key_pair_without_plaintext(
            KeyId=key, KeyPairSpec="ML_KEM_768"
        ),
        "GenerateRandom": lambda: kms.generate_random(NumberOfBytes=16),
        "TagResource": lambda: kms.tag_resource(KeyId=key, Tags=[{"TagKey": "team", "TagValue": "audit"}]),
        "UntagResource": lambda: kms.untag_resource(KeyId=key, TagKeys=["team"]),
        "ListResourceTags": lambda: kms.list_resource_tags(KeyId=key),
        "GetKeyPolicy": lambda: kms.get_key_policy(KeyId=key, PolicyName="default"),
        "PutKeyPolicy": lambda: kms.put_key_policy(KeyId=key, PolicyName="default", Policy=POLICY),
        "ListKeyPolicies": lambda: kms.list_key_policies(KeyId=key),
        "CreateGrant": grant,
        "ListGrants": lambda: kms.list_grants(KeyId=key),
        "ListRetirableGrants": lambda: kms.list_retirable_grants(RetiringPrincipal=ROLE),
        "RevokeGrant": lambda: kms.revoke_grant(KeyId=key, GrantId=state["grants"][0]),
        "RetireGrant": lambda: kms.retire_grant(KeyId=key, GrantId=grant()["GrantId"]),
        "EnableKeyRotation": lambda: kms.enable_key_rotation(KeyId=key),
        "GetKeyRotationStatus": lambda: kms.get_key_rotation_status(KeyId=key),
        "RotateKeyOnDemand": lambda: kms.rotate_key_on_demand(KeyId=key),
        "ListKeyRotations": lambda: kms.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL"),
        "DisableKeyRotation": lambda: kms.disable_key_rotation(KeyId=key),
        "UpdateKeyDescription": lambda: kms.update_key_description(KeyId=key, Description="trail 2"),
        "GetKeyLastUsage": lambda: kms.get_key_last_usage(KeyId=key),
        "Sign": lambda: signature(),
        "Verify": lambda: kms.verify(
            KeyId=signer, Message=b"m", Signature=signature(), SigningAlgorithm="ECDSA_SHA_256"
        ),
        "GetPublicKey": lambda: kms.get_public_key(KeyId=signer),
        "GenerateMac": lambda: kms.generate_mac(KeyId=macer, Message=b"m", MacAlgorithm="HMAC_SHA_256"),
        "VerifyMac": lambda: kms.verify_mac(
            KeyId=macer,
            Message=b"m",
            MacAlgorithm="HMAC_SHA_256",
            Mac=kms.generate_mac(KeyId=macer, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"],
        ),
        "DeriveSharedSecret": lambda: kms.derive_shared_secret(
            KeyId=agree, KeyAgreementAlgorithm="ECDH", PublicKey=peer_der
        ),
        "Encapsulate": lambda: kem_blob(),
        "Decapsulate": lambda: kms.decapsulate(
            KeyId=kem, EncapsulationAlgorithm="ML_KEM", SharedSecretCiphertextBlob=kem_blob()
        ),
        "GetParametersForImport": lambda: kms.get_parameters_for_import(
            KeyId=external, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        ),
        "ImportKeyMaterial": lambda: import_material(kms, external),
        "DeleteImportedKeyMaterial": lambda: kms.delete_imported_key_material(KeyId=external),
        "ReplicateKey": lambda: kms.replicate_key(KeyId=mrk, ReplicaRegion="eu-west-1"),
        "UpdatePrimaryRegion": lambda: kms.update_primary_region(KeyId=mrk, PrimaryRegion="eu-west-1"),
        "DisableKey": lambda: kms.disable_key(KeyId=other),
        "EnableKey": lambda: kms.enable_key(KeyId=other),
        "ScheduleKeyDeletion": lambda: kms.schedule_key_deletion(KeyId=other, PendingWindowInDays=7),
        "CancelKeyDeletion": lambda: kms.cancel_key_deletion(KeyId=other),
        "CreateCustomKeyStore": lambda: kms.create_custom_key_store(
            CustomKeyStoreName="hsm", CloudHsmClusterId="cluster-234567abcdef"
        ),
        "ConnectCustomKeyStore": lambda: kms.connect_custom_key_store(CustomKeyStoreId=store),
        "DeleteCustomKeyStore": lambda: kms.delete_custom_key_store(CustomKeyStoreId=store),
        "DescribeCustomKeyStores": lambda: kms.describe_custom_key_stores(),
        "DisconnectCustomKeyStore": lambda: kms.disconnect_custom_key_store(CustomKeyStoreId=store),
        "UpdateCustomKeyStore": lambda: kms.update_custom_key_store(CustomKeyStoreId=store, NewCustomKeyStoreName="x"),
    }


SCENARIO_OPERATIONS = (
    *("CreateKey", "DescribeKey", "ListKeys", "CreateAlias", "UpdateAlias", "ListAliases", "DeleteAlias"),
    *("Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"),
    *("GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateRandom"),
    *("TagResource", "UntagResource", "ListResourceTags", "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies"),
    *("CreateGrant", "ListGrants", "ListRetirableGrants", "RevokeGrant", "RetireGrant"),
    *("EnableKeyRotation", "GetKeyRotationStatus", "RotateKeyOnDemand", "ListKeyRotations", "DisableKeyRotation"),
    *("UpdateKeyDescription", "GetKeyLastUsage", "Sign", "Verify", "GetPublicKey", "GenerateMac", "VerifyMac"),
    *("DeriveSharedSecret", "Encapsulate", "Decapsulate"),
    *("GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial", "ReplicateKey"),
    *("UpdatePrimaryRegion", "DisableKey", "EnableKey", "ScheduleKeyDeletion", "CancelKeyDeletion"),
    *CUSTOM_STORE_OPERATIONS,
)


def _keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys_of(v)}
    return set()


@covers(*SCENARIO_OPERATIONS, aspect="trail")
def test_every_operation_leaves_an_aws_shaped_cloudtrail_record(kms_engine: LocalKms) -> None:
    calls: list[ApiCall] = []
    kms = kms_engine.boto3_client()
    scenario = _scenario(kms, kms_engine)
    assert tuple(scenario) == SCENARIO_OPERATIONS
    kms_engine.add_sink(calls.append)
    records: dict[str, dict[str, Any]] = {}
    for operation, call in scenario.items():
        before = len(calls)
        try:
            call()
        except Exception as exc:  # only the custom key store operations may fail
            assert operation in CUSTOM_STORE_OPERATIONS, f"{operation}: {exc}"
        mine = [c for c in calls[before:] if c.operation == operation]
        assert mine, operation
        records[operation] = to_cloudtrail_record(mine[-1])
    for operation, record in records.items():
        assert record["eventName"] == operation and record["eventSource"] == "kms.amazonaws.com"
        assert record["readOnly"] is (operation in LocalKms.READ_ONLY), operation
        assert record["eventType"] == "AwsApiCall" and record["managementEvent"] is True
        if operation in CUSTOM_STORE_OPERATIONS:
            assert record["errorCode"] == "UnsupportedOperationException" and record["responseElements"] is None
        else:
            assert "errorCode" not in record, (operation, record.get("errorMessage"))
        if operation not in CUSTOM_STORE_OPERATIONS + (
            "ListKeys",
            "ListAliases",
            "ListRetirableGrants",
            "GenerateRandom",
        ):
            assert record.get("resources"), operation  # the key it touched
        request = record["requestParameters"] or {}
        allowed = {name[:1].lower() + name[1:] for name in REQUEST_FIELDS.get(operation, ())}
        assert set(request) <= allowed, operation
        secrets = {name[:1].lower() + name[1:] for name in SECRET_FIELDS} | set(SECRET_FIELDS)
        assert not (_keys_of(record) & secrets), operation
        text = json.dumps(record)
        assert "secret words" not in text and hashlib.sha256(b"x").hexdigest() not in text


def test_the_scenario_covers_every_operation_of_botocores_model() -> None:
    from kmslab.kms._validation import service_model

    assert set(SCENARIO_OPERATIONS) == set(service_model()["operations"])
    assert len(SCENARIO_OPERATIONS) == len(set(SCENARIO_OPERATIONS))


@pytest.mark.parametrize("operation", sorted(REQUEST_FIELDS))
def test_request_field_lists_name_model_members(operation: str) -> None:
    from kmslab.kms._validation import service_model

    model = service_model()
    members = model["shapes"][model["operations"][operation]["input"]["shape"]]["members"]
    assert set(REQUEST_FIELDS[operation]) <= set(members)


def test_disable_key_records_carry_the_key_arn_in_response_elements(kms_engine: LocalKms) -> None:
    calls: list[ApiCall] = []
    kms = kms_engine.boto3_client()
    key = kms.create_key()["KeyMetadata"]
    kms_engine.add_sink(calls.append)
    kms.disable_key(KeyId=key["KeyId"])
    kms.enable_key(KeyId=key["KeyId"])
    records = {c.operation: to_cloudtrail_record(c) for c in calls}
    assert records["DisableKey"]["responseElements"] == {"keyId": key["Arn"]}
    assert records["EnableKey"]["responseElements"] is None
