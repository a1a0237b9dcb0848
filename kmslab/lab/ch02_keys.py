"""Chapter 2 of the lab (``workshop/02-keys.md``): keys, their kinds, managers, states and aliases.

Every step goes through boto3 to the local cloud as the workshop admin, exactly as an application
would talk to AWS KMS, and checks the answer against AWS KMS semantics.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence

from kmslab.lab._steps import Fact, LabContext, Step, show_blob, show_context, show_refusal

MESSAGE = b"The quarterly numbers are in: revenue up 12%."
CONTEXT = {"purpose": "kmslab-lab", "tenant": "demo"}
WRONG_CONTEXT = {"purpose": "kmslab-lab", "tenant": "someone-else"}


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


def kit_keys(ctx: LabContext) -> Sequence[Fact]:
    """The kit's customer managed keys, an AWS managed key, and the data key's policy statement by statement."""
    data = ctx.kms.describe_key(KeyId="alias/kmslab/data")["KeyMetadata"]
    ctx.expect(data["KeyManager"] == "CUSTOMER", f"the kit's data key is customer managed, got {data['KeyManager']}")
    ctx.expect(data["KeyState"] == "Enabled", f"the data key is Enabled, got {data['KeyState']}")
    aliases = [a["AliasName"] for a in ctx.kms.list_aliases()["Aliases"]]
    kit = sorted(a for a in aliases if a.startswith("alias/kmslab/"))
    ctx.expect({"alias/kmslab/data", "alias/kmslab/audit"} <= set(kit), f"the kit's aliases are listed, got {kit}")
    policy = json.loads(ctx.kms.get_key_policy(KeyId=data["KeyId"], PolicyName="default")["Policy"])
    sids = [str(s.get("Sid", "-")) for s in policy["Statement"]]
    ctx.expect(len(sids) >= 3, f"the data key's policy has the root, admin and user statements, got {sids}")
    users = [s for s in policy["Statement"] if "kms:Decrypt" in _actions(s)]
    ctx.expect(
        any(ctx.arn_of("alice") in json.dumps(s.get("Principal")) for s in users),
        "the key-user role alice assumes may decrypt with the data key",
    )
    rotation = ctx.kms.get_key_rotation_status(KeyId=data["KeyId"])
    ctx.state["data_key_arn"] = data["Arn"]
    return [
        ("alias/kmslab/data", f"{data['KeyId']} ({data['KeyManager']}, {data['KeySpec']}, {data['KeyState']})"),
        ("rotation", f"enabled {rotation['KeyRotationEnabled']}, every {rotation.get('RotationPeriodInDays')} days"),
        ("the kit's aliases", ", ".join(kit)),
        ("data key policy", ", ".join(sids)),
    ]


def _actions(statement: dict[str, object]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else [str(a) for a in actions] if isinstance(actions, list) else []


def key_states(ctx: LabContext) -> Sequence[Fact]:
    """Disable the chapter's key: it refuses to encrypt; enable it again."""
    key = ctx.state["key_id"]
    ctx.kms.disable_key(KeyId=key)
    state = ctx.kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"]
    ctx.expect(state == "Disabled", f"the key is Disabled, got {state}")
    refused = ctx.expect_error(lambda: ctx.kms.encrypt(KeyId=key, Plaintext=MESSAGE), "DisabledException")
    ctx.kms.enable_key(KeyId=key)
    back = ctx.kms.decrypt(CiphertextBlob=ctx.state["ciphertext"], EncryptionContext=CONTEXT)
    ctx.expect(back["Plaintext"] == MESSAGE, "enabled again, the key decrypts its old ciphertext")
    return [("DisableKey, then Encrypt", show_refusal(refused)), ("EnableKey, then Decrypt", "Plaintext matches")]


def aliases_have_limits(ctx: LabContext) -> Sequence[Fact]:
    """An alias lives in one Region, and CreateGrant refuses an alias as KeyId."""
    alias = ctx.state["alias"]
    elsewhere = ctx.expect_error(lambda: ctx.client(region="eu-west-1").describe_key(KeyId=alias), "NotFoundException")
    grant = ctx.expect_error(
        lambda: ctx.kms.create_grant(KeyId=alias, GranteePrincipal=ctx.arn_of("alice"), Operations=["Decrypt"]),
        "NotFoundException",
    )
    return [
        ("DescribeKey in eu-west-1", show_refusal(elsewhere)),
        ("CreateGrant --key-id alias/…", show_refusal(grant)),
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
        "Look at the kit's customer managed keys and the data key's policy",
        "The kit's data and audit keys are customer managed keys with explicit policies"
        "; the data key's policy separates the account, administrators and key users.",
        kit_keys,
    ),
    Step(
        "Disable the key, then enable it again",
        "A Disabled key refuses every cryptographic operation (DisabledException) until it is enabled again.",
        key_states,
    ),
    Step(
        "Aliases: one Region, and not where KMS wants a key",
        "An alias exists only in its Region; CreateGrant takes a key ID or ARN, never an alias.",
        aliases_have_limits,
    ),
)
