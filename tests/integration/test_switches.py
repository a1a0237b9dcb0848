"""Every config switch of the kit, deployed once per session in one combined deployment, as its principals.

One "all switches" deployment (``ALL_SWITCHES`` in :mod:`tests.integration.kit`) covers ``signing_key``,
``hmac_key``, ``multi_region_replica_region``, ``on_use=cancel``, ``removal=destroy`` and ``alert_email``: none of
them changes what another one builds (each adds a key or a stack, or changes a policy or a removal policy), so one
deploy proves them all. ``on_use=cancel`` is exercised in ``test_audit_and_alerts.py`` (it needs a key pending
deletion; it runs on this same deployment after these tests), ``removal=destroy`` in ``test_destroy_switched.py``
(the last tests of this deployment: it destroys).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.kit import REGION, REPLICA_REGION, Kit


def test_every_stack_of_the_switched_kit_deploys_in_both_regions(switched: Kit) -> None:
    done = [line.split()[1:3] for line in switched.lines if line.lstrip().startswith("✅")]
    assert done == [
        ["KmslabKeys", f"({REGION}):"],
        ["KmslabStorage", f"({REGION}):"],
        ["KmslabTrail", f"({REGION}):"],
        ["KmslabAnalytics", f"({REGION}):"],
        ["KmslabAlerting", f"({REGION}):"],
        ["KmslabKeyReplica", f"({REPLICA_REGION}):"],
    ]
    # the CDK's cross-Region reference: the writer put the primary's ARN in the replica Region's SSM
    primary_arn = switched.resource("KmslabKeys", "MultiRegionKey", "Arn")
    ssm = switched.client("ssm", region=REPLICA_REGION)
    [param] = ssm.get_parameters_by_path(Path="/cdk/exports/KmslabKeyReplica/")["Parameters"]
    assert param["Value"] == primary_arn


def test_the_signing_key_signs_and_verifies_for_the_key_user(switched: Kit) -> None:
    key = switched.resource("KmslabKeys", "SigningKey")
    metadata = switched.client("kms").describe_key(KeyId=key)["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    kms = switched.as_role("kms", "kmslab-key-user")
    signed = kms.sign(KeyId=key, Message=b"release 1.0", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    verified = kms.verify(KeyId=key, Message=b"release 1.0", Signature=signed, SigningAlgorithm="ECDSA_SHA_256")
    assert verified["SignatureValid"] is True
    with pytest.raises(ClientError) as exc:
        kms.verify(KeyId=key, Message=b"release 1.1", Signature=signed, SigningAlgorithm="ECDSA_SHA_256")
    assert exc.value.response["Error"]["Code"] == "KMSInvalidSignatureException"
    # the public key verifies offline too, as AWS documents for asymmetric keys
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    public = load_der_public_key(kms.get_public_key(KeyId=key)["PublicKey"])
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signed, b"release 1.0", ec.ECDSA(SHA256()))


def test_the_signing_key_is_refused_to_the_administrator_and_for_encryption(switched: Kit) -> None:
    key = switched.resource("KmslabKeys", "SigningKey")
    with pytest.raises(ClientError) as exc:
        switched.as_role("kms", "kmslab-key-admin").sign(KeyId=key, Message=b"x", SigningAlgorithm="ECDSA_SHA_256")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:
        switched.as_role("kms", "kmslab-key-user").encrypt(KeyId=key, Plaintext=b"x")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"  # the key policy grants Sign/Verify only


def test_the_hmac_key_generates_and_verifies_macs_for_the_key_user(switched: Kit) -> None:
    key = switched.resource("KmslabKeys", "HmacKey")
    metadata = switched.client("kms").describe_key(KeyId=key)["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")
    kms = switched.as_role("kms", "kmslab-key-user")
    mac = kms.generate_mac(KeyId=key, Message=b"token", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert len(mac) == 32
    assert kms.verify_mac(KeyId=key, Message=b"token", Mac=mac, MacAlgorithm="HMAC_SHA_256")["MacValid"] is True
    with pytest.raises(ClientError) as exc:
        kms.verify_mac(KeyId=key, Message=b"token!", Mac=mac, MacAlgorithm="HMAC_SHA_256")
    assert exc.value.response["Error"]["Code"] == "KMSInvalidMacException"
    with pytest.raises(ClientError) as exc:
        switched.client("kms", "bob").generate_mac(KeyId=key, Message=b"token", MacAlgorithm="HMAC_SHA_256")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"


def test_the_replica_decrypts_in_the_other_region_what_the_primary_encrypted(switched: Kit) -> None:
    primary = switched.resource("KmslabKeys", "MultiRegionKey", "Arn")
    replica = switched.resource("KmslabKeyReplica", "MultiRegionKeyReplica", "Arn")
    assert replica.split(":")[3] == REPLICA_REGION and replica.split("/")[-1] == primary.split("/")[-1]
    home = switched.as_role("kms", "kmslab-key-user")
    away = switched.as_role("kms", "kmslab-key-user", region=REPLICA_REGION)
    described = away.describe_key(KeyId=replica)["KeyMetadata"]
    assert described["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert described["MultiRegionConfiguration"]["PrimaryKey"]["Arn"] == primary
    blob = home.encrypt(KeyId=primary, Plaintext=b"cross-region", EncryptionContext={"app": "it"})["CiphertextBlob"]
    out = away.decrypt(CiphertextBlob=blob, KeyId=replica, EncryptionContext={"app": "it"})
    assert out["Plaintext"] == b"cross-region" and out["KeyId"] == replica
    # and the replica's alias resolves in its own Region
    by_alias = away.encrypt(KeyId="alias/kmslab/multi-region", Plaintext=b"back")["CiphertextBlob"]
    assert home.decrypt(CiphertextBlob=by_alias)["Plaintext"] == b"back"


def test_the_replica_is_refused_to_a_principal_outside_its_key_policy(switched: Kit) -> None:
    replica = switched.resource("KmslabKeyReplica", "MultiRegionKeyReplica", "Arn")
    with pytest.raises(ClientError) as exc:
        switched.client("kms", "bob", region=REPLICA_REGION).encrypt(KeyId=replica, Plaintext=b"x")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"


def test_the_switched_keys_carry_the_destroy_removal_policy(switched: Kit) -> None:
    keys = [
        r
        for stack in ("KmslabKeys", "KmslabAlerting", "KmslabKeyReplica")
        for r in switched.stacks[stack].resources.values()
        if r.type in ("AWS::KMS::Key", "AWS::KMS::ReplicaKey")
    ]
    assert len(keys) == 7  # data, audit, signing, HMAC, multi-Region, alerts, replica
    assert {r.deletion_policy for r in keys} == {"Delete"}
    assert {int(r.properties["PendingWindowInDays"]) for r in keys} == {7}
