"""Chapter 1 of the lab: keys and states, a key's life from creation through rotation to deletion.

Every step goes through boto3 over HTTP to the local KMS endpoint, signed as the account's root user,
exactly as an application would talk to AWS KMS, and checks the answer against AWS KMS semantics.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta

from kmslab.lab._steps import Fact, LabContext, Step, show_blob, show_context, show_refusal

MESSAGE = b"The quarterly numbers are in: revenue up 12%."
CONTEXT = {"purpose": "kmslab-lab", "tenant": "demo"}
WRONG_CONTEXT = {"purpose": "kmslab-lab", "tenant": "someone-else"}
PENDING_DAYS = 7


def create_key(ctx: LabContext) -> Sequence[Fact]:
    """Create a symmetric encryption key and an alias for it."""
    meta = ctx.kms.create_key(Description="kmslab lab: key lifecycle", Tags=[{"TagKey": "lab", "TagValue": "1"}])[
        "KeyMetadata"
    ]
    alias = f"alias/kmslab-lab-{secrets.token_hex(3)}"
    ctx.kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    aliases = ctx.kms.list_aliases(KeyId=meta["KeyId"])["Aliases"]
    ctx.expect(meta["KeyState"] == "Enabled", f"a new key is Enabled, got {meta['KeyState']}")
    ctx.expect(meta["KeySpec"] == "SYMMETRIC_DEFAULT", f"the key spec is SYMMETRIC_DEFAULT, got {meta['KeySpec']}")
    ctx.expect(meta["KeyUsage"] == "ENCRYPT_DECRYPT", f"the default usage is ENCRYPT_DECRYPT, got {meta['KeyUsage']}")
    ctx.expect([a["AliasName"] for a in aliases] == [alias], f"ListAliases shows {alias} for the key")
    ctx.state.update(key_id=meta["KeyId"], key_arn=meta["Arn"], alias=alias)
    return [
        ("KeyId", meta["KeyId"]),
        ("Arn", meta["Arn"]),
        ("KeyState", meta["KeyState"]),
        ("KeySpec / KeyUsage", f"{meta['KeySpec']} / {meta['KeyUsage']}"),
        ("KeyManager / Origin", f"{meta['KeyManager']} / {meta['Origin']}"),
        ("alias", alias),
    ]


def encrypt(ctx: LabContext) -> Sequence[Fact]:
    """Encrypt through the alias with an encryption context."""
    out = ctx.kms.encrypt(KeyId=ctx.state["alias"], Plaintext=MESSAGE, EncryptionContext=CONTEXT)
    ctx.expect(out["KeyId"] == ctx.state["key_arn"], f"Encrypt answers with the key ARN, got {out['KeyId']}")
    ctx.expect(out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT", "the algorithm is SYMMETRIC_DEFAULT")
    ctx.expect(MESSAGE not in out["CiphertextBlob"], "the ciphertext does not contain the plaintext")
    ctx.state["ciphertext"] = out["CiphertextBlob"]
    return [
        ("Plaintext", f"{len(MESSAGE)} bytes of text"),
        ("EncryptionContext", show_context(CONTEXT)),
        ("KeyId", out["KeyId"]),
        ("EncryptionAlgorithm", out["EncryptionAlgorithm"]),
        ("CiphertextBlob", show_blob(out["CiphertextBlob"])),
    ]


def decrypt_needs_context(ctx: LabContext) -> Sequence[Fact]:
    """Decrypt with the right context, then fail with a different one."""
    out = ctx.kms.decrypt(CiphertextBlob=ctx.state["ciphertext"], EncryptionContext=CONTEXT)
    ctx.expect(out["Plaintext"] == MESSAGE, "Decrypt returns the original plaintext")
    ctx.expect(out["KeyId"] == ctx.state["key_arn"], "Decrypt names the key it used (no KeyId was sent)")
    refused = ctx.expect_error(
        lambda: ctx.kms.decrypt(CiphertextBlob=ctx.state["ciphertext"], EncryptionContext=WRONG_CONTEXT),
        "InvalidCiphertextException",
    )
    return [
        ("with the same context", f"Plaintext matches ({len(out['Plaintext'])} bytes), KeyId {out['KeyId']}"),
        ("with a different context", show_refusal(refused)),
    ]


def other_key_kinds(ctx: LabContext) -> Sequence[Fact]:
    """Sign with an elliptic-curve key, MAC with an HMAC key; refuse nonsense combinations and big plaintext."""
    ecc = ctx.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Description="kmslab lab: signing")
    ecc_id = ecc["KeyMetadata"]["KeyId"]
    signed = ctx.kms.sign(KeyId=ecc_id, Message=b"release 1.0", SigningAlgorithm="ECDSA_SHA_256")
    verified = ctx.kms.verify(
        KeyId=ecc_id, Message=b"release 1.0", Signature=signed["Signature"], SigningAlgorithm="ECDSA_SHA_256"
    )
    ctx.expect(verified["SignatureValid"] is True, "the signature verifies")
    public = ctx.kms.get_public_key(KeyId=ecc_id)
    ctx.expect(public["KeySpec"] == "ECC_NIST_P256" and len(public["PublicKey"]) > 0, "GetPublicKey gives the DER key")
    hmac = ctx.kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    mac = ctx.kms.generate_mac(KeyId=hmac["KeyId"], Message=b"release 1.0", MacAlgorithm="HMAC_SHA_256")
    checked = ctx.kms.verify_mac(
        KeyId=hmac["KeyId"], Message=b"release 1.0", Mac=mac["Mac"], MacAlgorithm="HMAC_SHA_256"
    )
    ctx.expect(checked["MacValid"] is True, "the MAC verifies")
    ecc_encrypt = ctx.expect_error(
        lambda: ctx.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="ENCRYPT_DECRYPT"), "ValidationException"
    )
    hmac_sign = ctx.expect_error(
        lambda: ctx.kms.sign(KeyId=hmac["KeyId"], Message=b"x", SigningAlgorithm="ECDSA_SHA_256"),
        "InvalidKeyUsageException",
    )
    too_big = ctx.expect_error(
        lambda: ctx.kms.encrypt(KeyId=ctx.state["key_id"], Plaintext=b"x" * 4097), "ValidationException"
    )
    return [
        ("ECC_NIST_P256 Sign", f"{signed['SigningAlgorithm']}, signature {len(signed['Signature'])} bytes"),
        ("Verify", "SignatureValid true"),
        ("GetPublicKey", f"{public['KeySpec']}, {len(public['PublicKey'])} bytes of DER, anyone may verify"),
        ("HMAC_256 GenerateMac / VerifyMac", f"{mac['MacAlgorithm']}, MacValid {checked['MacValid']}"),
        ("ECC key for ENCRYPT_DECRYPT", show_refusal(ecc_encrypt)),
        ("Sign with the HMAC key", show_refusal(hmac_sign)),
        ("Encrypt 4097 bytes", show_refusal(too_big)),
    ]


def key_agreement(ctx: LabContext) -> Sequence[Fact]:
    """Agree on a shared secret (ECDH) between a KMS key pair and a peer's key pair that never meets KMS."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ctx.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT", Description="kmslab lab: ECDH")
    key_id = key["KeyMetadata"]["KeyId"]
    ctx.expect(key["KeyMetadata"]["KeyAgreementAlgorithms"] == ["ECDH"], "the key lists ECDH")
    peer = ec.generate_private_key(ec.SECP256R1())
    peer_public = peer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    derived = ctx.kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer_public)
    kms_public = serialization.load_der_public_key(ctx.kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(kms_public, ec.EllipticCurvePublicKey)
    ctx.expect(
        derived["SharedSecret"] == peer.exchange(ec.ECDH(), kms_public),
        "the peer derives the same secret from the KMS public key",
    )
    return [
        ("ECC_NIST_P256 KEY_AGREEMENT", f"KeyAgreementAlgorithms {key['KeyMetadata']['KeyAgreementAlgorithms']}"),
        ("DeriveSharedSecret", f"{len(derived['SharedSecret'])}-byte secret, equal on both sides"),
    ]


def post_quantum(ctx: LabContext) -> Sequence[Fact]:
    """Sign with an ML-DSA key and share a secret with an ML-KEM key (the post-quantum key specs)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem

    signer = ctx.kms.create_key(KeySpec="ML_DSA_65", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    signed = ctx.kms.sign(KeyId=signer, Message=b"release 1.0", SigningAlgorithm="ML_DSA_SHAKE_256")
    dsa_public = serialization.load_der_public_key(ctx.kms.get_public_key(KeyId=signer)["PublicKey"])
    assert isinstance(dsa_public, mldsa.MLDSA65PublicKey)
    try:
        dsa_public.verify(signed["Signature"], b"release 1.0")
        verified = True
    except InvalidSignature:
        verified = False
    ctx.expect(verified, "the ML-DSA signature verifies offline with cryptography")
    kem = ctx.kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]["KeyId"]
    kem_public = serialization.load_der_public_key(ctx.kms.get_public_key(KeyId=kem)["PublicKey"])
    assert isinstance(kem_public, mlkem.MLKEM768PublicKey)
    secret, ciphertext = kem_public.encapsulate()  # a sender outside KMS
    opened = ctx.kms.decapsulate(KeyId=kem, EncapsulationAlgorithm="ML_KEM", SharedSecretCiphertextBlob=ciphertext)
    ctx.expect(opened["SharedSecret"] == secret, "KMS decapsulates the secret the sender encapsulated")
    return [
        ("ML_DSA_65 Sign", f"ML_DSA_SHAKE_256, {len(signed['Signature'])}-byte signature, verified offline"),
        ("ML_KEM_768 Decapsulate", f"{len(secret)}-byte secret, equal on both sides"),
    ]


def rotate(ctx: LabContext) -> Sequence[Fact]:
    """Rotate the key material on demand."""
    out = ctx.kms.rotate_key_on_demand(KeyId=ctx.state["key_id"])
    ctx.expect(
        out["KeyId"] in (ctx.state["key_id"], ctx.state["key_arn"]),
        f"RotateKeyOnDemand names the rotated key, got {out['KeyId']}",
    )
    meta = ctx.kms.describe_key(KeyId=ctx.state["key_id"])["KeyMetadata"]
    ctx.expect(meta["KeyId"] == ctx.state["key_id"] and meta["Arn"] == ctx.state["key_arn"], "the key keeps its ID")
    return [("RotateKeyOnDemand KeyId", out["KeyId"]), ("KeyId / Arn after rotation", "unchanged")]


def old_ciphertext_still_decrypts(ctx: LabContext) -> Sequence[Fact]:
    """Decrypt the pre-rotation ciphertext; encrypt anew under the new material."""
    old = ctx.kms.decrypt(CiphertextBlob=ctx.state["ciphertext"], EncryptionContext=CONTEXT)
    ctx.expect(old["Plaintext"] == MESSAGE, "the old ciphertext still decrypts after rotation")
    new = ctx.kms.encrypt(KeyId=ctx.state["key_id"], Plaintext=MESSAGE, EncryptionContext=CONTEXT)
    again = ctx.kms.decrypt(CiphertextBlob=new["CiphertextBlob"], EncryptionContext=CONTEXT)
    ctx.expect(again["Plaintext"] == MESSAGE, "the new ciphertext decrypts too")
    ctx.expect(new["CiphertextBlob"] != ctx.state["ciphertext"], "a new encryption gives a different ciphertext")
    return [
        ("old CiphertextBlob", f"{show_blob(ctx.state['ciphertext'])} -> Plaintext matches"),
        ("new CiphertextBlob", f"{show_blob(new['CiphertextBlob'])} (a different blob) -> Plaintext matches"),
    ]


def list_rotations(ctx: LabContext) -> Sequence[Fact]:
    """Show the rotation history."""
    rotations = ctx.kms.list_key_rotations(KeyId=ctx.state["key_id"])["Rotations"]
    on_demand = [r for r in rotations if r.get("RotationType") == "ON_DEMAND"]
    ctx.expect(len(on_demand) == 1, f"ListKeyRotations shows one ON_DEMAND rotation, got {rotations}")
    return [
        (f"rotation {n}", f"{r['RotationType']} at {r['RotationDate'].isoformat(timespec='seconds')}")
        for n, r in enumerate(rotations, start=1)
    ]


def schedule_deletion(ctx: LabContext) -> Sequence[Fact]:
    """Schedule deletion with a 7-day waiting period."""
    before = ctx.control.now()
    out = ctx.kms.schedule_key_deletion(KeyId=ctx.state["key_id"], PendingWindowInDays=PENDING_DAYS)
    ctx.expect(out["KeyState"] == "PendingDeletion", f"the key is PendingDeletion, got {out['KeyState']}")
    ctx.expect(out["PendingWindowInDays"] == PENDING_DAYS, f"the waiting period is {PENDING_DAYS} days")
    wait = out["DeletionDate"] - before
    ctx.expect(
        timedelta(days=PENDING_DAYS) - timedelta(days=1) < wait <= timedelta(days=PENDING_DAYS, minutes=5),
        f"DeletionDate is about {PENDING_DAYS} days ahead, got {wait}",
    )
    return [
        ("KeyState", out["KeyState"]),
        ("PendingWindowInDays", str(out["PendingWindowInDays"])),
        ("DeletionDate", out["DeletionDate"].isoformat(timespec="seconds")),
    ]


def pending_key_refuses(ctx: LabContext) -> Sequence[Fact]:
    """Decrypt is refused while the key waits for deletion."""
    refused = ctx.expect_error(
        lambda: ctx.kms.decrypt(CiphertextBlob=ctx.state["ciphertext"], EncryptionContext=CONTEXT),
        "KMSInvalidStateException",
        message_contains="is pending deletion",
    )
    return [("Decrypt", show_refusal(refused))]


def cancel_deletion(ctx: LabContext) -> Sequence[Fact]:
    """Cancel the deletion; the key comes back Disabled."""
    out = ctx.kms.cancel_key_deletion(KeyId=ctx.state["key_id"])
    meta = ctx.kms.describe_key(KeyId=ctx.state["key_id"])["KeyMetadata"]
    ctx.expect(meta["KeyState"] == "Disabled", f"a cancelled deletion leaves the key Disabled, got {meta['KeyState']}")
    ctx.expect("DeletionDate" not in meta, "the DeletionDate is gone")
    refused = ctx.expect_error(
        lambda: ctx.kms.encrypt(KeyId=ctx.state["key_id"], Plaintext=MESSAGE), "DisabledException"
    )
    return [
        ("CancelKeyDeletion KeyId", out["KeyId"]),
        ("KeyState", meta["KeyState"]),
        ("Encrypt", show_refusal(refused)),
    ]


def re_enable(ctx: LabContext) -> Sequence[Fact]:
    """Enable the key again; the old ciphertext decrypts."""
    ctx.kms.enable_key(KeyId=ctx.state["key_id"])
    meta = ctx.kms.describe_key(KeyId=ctx.state["key_id"])["KeyMetadata"]
    ctx.expect(meta["KeyState"] == "Enabled", f"the key is Enabled, got {meta['KeyState']}")
    out = ctx.kms.decrypt(CiphertextBlob=ctx.state["ciphertext"], EncryptionContext=CONTEXT)
    ctx.expect(out["Plaintext"] == MESSAGE, "the first ciphertext decrypts again")
    return [("KeyState", meta["KeyState"]), ("Decrypt (first ciphertext)", "Plaintext matches")]


def deletion_completes(ctx: LabContext) -> Sequence[Fact]:
    """Schedule deletion again and move the clock past the waiting period."""
    out = ctx.kms.schedule_key_deletion(KeyId=ctx.state["key_id"], PendingWindowInDays=PENDING_DAYS)
    ctx.expect(out["KeyState"] == "PendingDeletion", f"the key is PendingDeletion, got {out['KeyState']}")
    now = ctx.advance_clock(timedelta(days=PENDING_DAYS + 1))
    described = ctx.expect_error(lambda: ctx.kms.describe_key(KeyId=ctx.state["key_id"]), "NotFoundException")
    refused = ctx.expect_error(
        lambda: ctx.kms.decrypt(CiphertextBlob=ctx.state["ciphertext"], EncryptionContext=CONTEXT),
        "NotFoundException",
    )
    return [
        ("DeletionDate", out["DeletionDate"].isoformat(timespec="seconds")),
        ("clock moved 8 days to", now),
        ("DescribeKey", show_refusal(described)),
        ("Decrypt", show_refusal(refused)),
        ("the first ciphertext", "can never be decrypted again"),
    ]


STEPS: tuple[Step, ...] = (
    Step(
        "Create a symmetric encryption key and give it an alias",
        "CreateKey makes an Enabled SYMMETRIC_DEFAULT key; an alias is a second name for it.",
        create_key,
    ),
    Step(
        "Encrypt through the alias, bound to an encryption context",
        "KMS resolves the alias to the key and returns ciphertext that names the key, never the plaintext.",
        encrypt,
    ),
    Step(
        "Decrypt: the encryption context must match",
        "The encryption context is authenticated: a different context makes Decrypt fail.",
        decrypt_needs_context,
    ),
    Step(
        "Asymmetric and HMAC keys, and what KMS refuses",
        "ECC keys sign, HMAC keys make MACs; KMS refuses an ECC key for encryption, "
        "an HMAC key for signing, and Encrypt of more than 4 KiB.",
        other_key_kinds,
    ),
    Step(
        "Key agreement: derive a shared secret with ECDH",
        "A NIST elliptic-curve key with KeyUsage KEY_AGREEMENT never signs; DeriveSharedSecret combines its "
        "private key with a peer's public key, and the peer gets the same secret from the KMS public key.",
        key_agreement,
    ),
    Step(
        "Post-quantum keys: ML-DSA signatures and ML-KEM shared secrets",
        "ML-DSA keys sign (ML_DSA_SHAKE_256); ML-KEM keys decapsulate a secret a sender encapsulated "
        "with the public key (Encapsulate/Decapsulate).",
        post_quantum,
    ),
    Step(
        "Rotate the key material on demand",
        "RotateKeyOnDemand gives the key new backing material; its ID and ARN stay the same.",
        rotate,
    ),
    Step(
        "Decrypt the ciphertext made before the rotation",
        "KMS keeps every earlier backing key, so old ciphertext still decrypts; new encryptions use the new one.",
        old_ciphertext_still_decrypts,
    ),
    Step(
        "List the key's rotations",
        "ListKeyRotations records the on-demand rotation with its date.",
        list_rotations,
    ),
    Step(
        f"Schedule the key for deletion in {PENDING_DAYS} days",
        "ScheduleKeyDeletion does not delete at once: the key waits in PendingDeletion for the waiting period.",
        schedule_deletion,
    ),
    Step(
        "Try to decrypt while the key is pending deletion",
        "A key pending deletion cannot be used: KMS refuses with KMSInvalidStateException.",
        pending_key_refuses,
    ),
    Step(
        "Cancel the deletion",
        "CancelKeyDeletion brings the key back Disabled (not Enabled): it still cannot encrypt.",
        cancel_deletion,
    ),
    Step(
        "Enable the key again",
        "EnableKey returns the key to service and the old ciphertext decrypts again.",
        re_enable,
    ),
    Step(
        "Schedule deletion again and let the waiting period pass",
        "After the waiting period the key and its material are gone for good: NotFoundException.",
        deletion_completes,
    ),
)
