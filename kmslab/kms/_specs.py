"""Key specs: which usages each allows and which algorithms each lists, as AWS KMS documents them."""

from __future__ import annotations

from dataclasses import dataclass

ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
SIGN_VERIFY = "SIGN_VERIFY"
GENERATE_VERIFY_MAC = "GENERATE_VERIFY_MAC"
KEY_AGREEMENT = "KEY_AGREEMENT"
ENCAPSULATE_DECAPSULATE = "ENCAPSULATE_DECAPSULATE"

RSA_ENCRYPTION = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
RSA_SIGNING = (
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
)


@dataclass(frozen=True)
class KeySpecInfo:
    """What one key spec supports.

    Args:
        name: the KeySpec value.
        usages: the key usages AWS accepts for it; the first is the default.
        encryption: EncryptionAlgorithms listed for ENCRYPT_DECRYPT.
        signing: SigningAlgorithms listed for SIGN_VERIFY.
        mac: MacAlgorithms listed for GENERATE_VERIFY_MAC.
        agreement: KeyAgreementAlgorithms listed for KEY_AGREEMENT.
        encapsulation: EncapsulationAlgorithms listed for ENCAPSULATE_DECAPSULATE.
        family: ``symmetric``, ``rsa``, ``ecc``, ``ed25519``, ``mldsa``, ``mlkem`` or ``hmac``.
        size: RSA modulus bits, curve bits, ML-DSA/ML-KEM parameter set, HMAC key bytes, or 32 for symmetric keys.
    """

    name: str
    usages: tuple[str, ...]
    encryption: tuple[str, ...] = ()
    signing: tuple[str, ...] = ()
    mac: tuple[str, ...] = ()
    agreement: tuple[str, ...] = ()
    encapsulation: tuple[str, ...] = ()
    family: str = "symmetric"
    size: int = 32

    def algorithms(self, usage: str) -> dict[str, list[str]]:
        """Return the algorithm lists DescribeKey shows for a usage.

        Args:
            usage: the key's KeyUsage.

        Returns:
            A dict with EncryptionAlgorithms, SigningAlgorithms, KeyAgreementAlgorithms,
            EncapsulationAlgorithms or MacAlgorithms.
        """
        if usage == ENCRYPT_DECRYPT:
            return {"EncryptionAlgorithms": list(self.encryption)}
        if usage == SIGN_VERIFY:
            return {"SigningAlgorithms": list(self.signing)}
        if usage == KEY_AGREEMENT:
            return {"KeyAgreementAlgorithms": list(self.agreement)}
        if usage == ENCAPSULATE_DECAPSULATE:
            return {"EncapsulationAlgorithms": list(self.encapsulation)}
        return {"MacAlgorithms": list(self.mac)}


SPECS: dict[str, KeySpecInfo] = {
    "SYMMETRIC_DEFAULT": KeySpecInfo("SYMMETRIC_DEFAULT", (ENCRYPT_DECRYPT,), encryption=("SYMMETRIC_DEFAULT",)),
    **{
        f"RSA_{bits}": KeySpecInfo(
            f"RSA_{bits}",
            (ENCRYPT_DECRYPT, SIGN_VERIFY),
            encryption=RSA_ENCRYPTION,
            signing=RSA_SIGNING,
            family="rsa",
            size=bits,
        )
        for bits in (2048, 3072, 4096)
    },
    # NIST curves sign or derive shared secrets (ECDH); secp256k1 only signs (AWS's CreateKey KeyUsage
    # reference: "For asymmetric KMS keys with ECC_SECG_P256K1 key pairs, specify SIGN_VERIFY").
    **{
        f"ECC_NIST_P{bits}": KeySpecInfo(
            f"ECC_NIST_P{bits}",
            (SIGN_VERIFY, KEY_AGREEMENT),
            signing=(f"ECDSA_SHA_{min(bits, 512)}",),
            agreement=("ECDH",),
            family="ecc",
            size=bits,
        )
        for bits in (256, 384, 521)
    },
    "ECC_SECG_P256K1": KeySpecInfo(
        "ECC_SECG_P256K1", (SIGN_VERIFY,), signing=("ECDSA_SHA_256",), family="ecc", size=256
    ),
    # ED25519_SHA_512 takes MessageType RAW, ED25519_PH_SHA_512 (HashEdDSA) takes DIGEST (a SHA-512 digest).
    "ECC_NIST_EDWARDS25519": KeySpecInfo(
        "ECC_NIST_EDWARDS25519",
        (SIGN_VERIFY,),
        signing=("ED25519_SHA_512", "ED25519_PH_SHA_512"),
        family="ed25519",
        size=255,
    ),
    **{
        f"ML_DSA_{level}": KeySpecInfo(
            f"ML_DSA_{level}", (SIGN_VERIFY,), signing=("ML_DSA_SHAKE_256",), family="mldsa", size=level
        )
        for level in (44, 65, 87)
    },
    **{
        f"ML_KEM_{level}": KeySpecInfo(
            f"ML_KEM_{level}",
            (ENCAPSULATE_DECAPSULATE,),
            encapsulation=("ML_KEM",),
            family="mlkem",
            size=level,
        )
        for level in (512, 768, 1024)
    },
    **{
        f"HMAC_{bits}": KeySpecInfo(
            f"HMAC_{bits}", (GENERATE_VERIFY_MAC,), mac=(f"HMAC_SHA_{bits}",), family="hmac", size=bits // 8
        )
        for bits in (224, 256, 384, 512)
    },
}

ASYMMETRIC_FAMILIES = frozenset({"rsa", "ecc", "ed25519", "mldsa", "mlkem"})

# Key pair specs GenerateDataKeyPair can make (every asymmetric spec above except the ML-DSA ones,
# which botocore's DataKeyPairSpec does not list).
DATA_KEY_PAIR_SPECS = frozenset(
    name for name, info in SPECS.items() if info.family in ASYMMETRIC_FAMILIES and info.family != "mldsa"
)

# Specs this model names that ``cryptography`` cannot provide, with the reason given to callers.
NOT_EMULATED: dict[str, str] = {
    "SM2": "SM2 (offered by AWS in China Regions only) is not emulated: cryptography provides no SM2.",
    "ML_KEM_512": "ML_KEM_512 is not emulated: the pinned cryptography provides ML-KEM-768 and ML-KEM-1024 only.",
}

# RSAES_OAEP plaintext limits (bytes) per key size: k - 2*hLen - 2.
RSA_OAEP_MAX_PLAINTEXT = {
    (bits, alg): bits // 8 - 2 * (20 if alg == "RSAES_OAEP_SHA_1" else 32) - 2
    for bits in (2048, 3072, 4096)
    for alg in RSA_ENCRYPTION
}
