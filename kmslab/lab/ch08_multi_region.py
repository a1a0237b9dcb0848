"""Chapter 8 of the lab (``workshop/08-multi-region.md``): a multi-Region key in us-east-1, replicated to eu-west-1.

One endpoint serves both regions: each client signs for its own region, and each region has its own keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from kmslab.envelope import KmsKeyProvider, decrypt, encrypt
from kmslab.lab._steps import LAB_REGION, Fact, LabContext, Step, show_blob

REPLICA_REGION = "eu-west-1"
MESSAGE = b"orders ledger, shared by two regions"
CONTEXT = {"purpose": "multi-region-lab"}


def create_primary(ctx: LabContext) -> Sequence[Fact]:
    """Create a multi-Region primary key and encrypt in us-east-1."""
    meta = ctx.kms.create_key(MultiRegion=True, Description="kmslab lab: multi-Region")["KeyMetadata"]
    config = meta["MultiRegionConfiguration"]
    ctx.expect(meta["KeyId"].startswith("mrk-"), f"a multi-Region key ID starts with mrk-, got {meta['KeyId']}")
    ctx.expect(meta["MultiRegion"] is True, "MultiRegion is true")
    ctx.expect(config["MultiRegionKeyType"] == "PRIMARY", f"it is the primary, got {config['MultiRegionKeyType']}")
    blob = ctx.kms.encrypt(KeyId=meta["Arn"], Plaintext=MESSAGE, EncryptionContext=CONTEXT)["CiphertextBlob"]
    ctx.state.update(mrk_id=meta["KeyId"], mrk_arn=meta["Arn"], mrk_blob=blob)
    return [
        ("KeyId", meta["KeyId"]),
        ("Arn", meta["Arn"]),
        ("MultiRegionKeyType", config["MultiRegionKeyType"]),
        (f"Encrypt in {LAB_REGION}", f"CiphertextBlob {show_blob(blob)}"),
    ]


def replicate(ctx: LabContext) -> Sequence[Fact]:
    """Replicate the key to eu-west-1."""
    out = ctx.kms.replicate_key(KeyId=ctx.need("mrk_arn"), ReplicaRegion=REPLICA_REGION)
    replica = out["ReplicaKeyMetadata"]
    expected = ctx.need("mrk_arn").replace(f":{LAB_REGION}:", f":{REPLICA_REGION}:")
    ctx.expect(replica["Arn"] == expected, f"the replica has the same key ID in {REPLICA_REGION}, got {replica['Arn']}")
    eu = ctx.client("admin", region=REPLICA_REGION)
    described = eu.describe_key(KeyId=ctx.need("mrk_id"))["KeyMetadata"]
    config = described["MultiRegionConfiguration"]
    ctx.expect(config["MultiRegionKeyType"] == "REPLICA", f"{REPLICA_REGION} sees a REPLICA")
    ctx.expect(config["PrimaryKey"]["Region"] == LAB_REGION, f"its primary is in {LAB_REGION}")
    primary = ctx.kms.describe_key(KeyId=ctx.need("mrk_id"))["KeyMetadata"]["MultiRegionConfiguration"]
    replicas = [r["Region"] for r in primary.get("ReplicaKeys", [])]
    ctx.expect(replicas == [REPLICA_REGION], f"the primary lists its replica, got {replicas}")
    ctx.state["mrk_replica_arn"] = replica["Arn"]
    return [
        ("replica Arn", replica["Arn"]),
        (
            f"DescribeKey in {REPLICA_REGION}",
            f"{config['MultiRegionKeyType']}, primary in {config['PrimaryKey']['Region']}",
        ),
        (f"DescribeKey in {LAB_REGION}", f"PRIMARY, replicas {replicas}"),
    ]


def decrypt_in_replica_region(ctx: LabContext) -> Sequence[Fact]:
    """A eu-west-1 client decrypts the us-east-1 ciphertext."""
    eu = ctx.client("admin", region=REPLICA_REGION)
    out = eu.decrypt(CiphertextBlob=ctx.need("mrk_blob"), EncryptionContext=CONTEXT)
    ctx.expect(out["Plaintext"] == MESSAGE, "the replica decrypts the primary's ciphertext")
    ctx.expect(out["KeyId"] == ctx.need("mrk_replica_arn"), f"the replica answered, got {out['KeyId']}")
    return [(f"Decrypt in {REPLICA_REGION}", f"Plaintext matches, KeyId {out['KeyId']}")]


def envelope_across_regions(ctx: LabContext) -> Sequence[Fact]:
    """An envelope made in us-east-1 opens in eu-west-1 with the replica."""
    eu = ctx.client("admin", region=REPLICA_REGION)
    message = encrypt(MESSAGE, provider=KmsKeyProvider(ctx.kms, [ctx.need("mrk_arn")]), encryption_context=CONTEXT)
    replica_provider = KmsKeyProvider({REPLICA_REGION: eu}, [ctx.need("mrk_replica_arn")])
    result = decrypt(message, provider=replica_provider, required_context=CONTEXT)
    ctx.expect(result.plaintext == MESSAGE, "the message decrypts in the other region")
    edk_keys = [edk.key_info.decode() for edk in result.header.encrypted_data_keys]
    ctx.expect(edk_keys == [ctx.need("mrk_arn")], f"the message names the us-east-1 key, got {edk_keys}")
    return [
        ("envelope", f"{len(message)} bytes, data key wrapped by {edk_keys[0]}"),
        (f"decrypted in {REPLICA_REGION}", f"with {ctx.need('mrk_replica_arn')}: plaintext matches"),
    ]


STEPS: tuple[Step, ...] = (
    Step(
        f"Create a multi-Region key in {LAB_REGION} and encrypt",
        "CreateKey with MultiRegion makes a PRIMARY key whose ID starts with mrk-.",
        create_primary,
    ),
    Step(
        f"Replicate it to {REPLICA_REGION}",
        "ReplicateKey copies the key (same ID, same material) into another region, as a REPLICA.",
        replicate,
    ),
    Step(
        f"Decrypt the {LAB_REGION} ciphertext in {REPLICA_REGION}",
        "Related multi-Region keys are interchangeable: the replica decrypts what the primary encrypted.",
        decrypt_in_replica_region,
    ),
    Step(
        f"Open a {LAB_REGION} envelope in {REPLICA_REGION}",
        "An envelope whose data key the primary wrapped opens with the replica in the other region.",
        envelope_across_regions,
    ),
)
