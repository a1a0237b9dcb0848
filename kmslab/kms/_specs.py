"""Key specs: which usages each allows and which algorithms each lists, as AWS KMS documents them."""

from __future__ import annotations

from dataclasses import dataclass

ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
SIGN_VERIFY = "SIGN_VERIFY"
GENERATE_VERIFY_MAC = "GENERATE_VERIFY_MAC"

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
        family: ``symmetric``, ``rsa``, ``ecc`` or ``hmac``.
        size: RSA modulus bits, HMAC key bytes, or 32 for symmetric keys.
    """

    name: str
    usages: tuple[str, ...]
    encryption: tuple[str, ...] = ()
    signing: tuple[str, ...] = ()
    mac: tuple[str, ...] = ()
    family: str = "symmetric"
    size: int = 32

    def algorithms(self, usage: str) -> dict[str, list[str]]:
        """Return the algorithm lists DescribeKey shows for a usage.

        Args:
            usage: the key's KeyUsage.

        Returns:
            A dict with EncryptionAlgorithms, SigningAlgorithms or MacAlgorithms.
        """
        if usage == ENCRYPT_DECRYPT:
            return {"EncryptionAlgorithms": list(self.encryption)}
        if usage == SIGN_VERIFY:
            return {"SigningAlgorithms": list(self.signing)}
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
    "ECC_NIST_P256": KeySpecInfo("ECC_NIST_P256", (SIGN_VERIFY,), signing=("ECDSA_SHA_256",), family="ecc", size=256),
    "ECC_NIST_P384": KeySpecInfo("ECC_NIST_P384", (SIGN_VERIFY,), signing=("ECDSA_SHA_384",), family="ecc", size=384),
    "ECC_NIST_P521": KeySpecInfo("ECC_NIST_P521", (SIGN_VERIFY,), signing=("ECDSA_SHA_512",), family="ecc", size=521),
    "ECC_SECG_P256K1": KeySpecInfo(
        "ECC_SECG_P256K1", (SIGN_VERIFY,), signing=("ECDSA_SHA_256",), family="ecc", size=256
    ),
    **{
        f"HMAC_{bits}": KeySpecInfo(
            f"HMAC_{bits}", (GENERATE_VERIFY_MAC,), mac=(f"HMAC_SHA_{bits}",), family="hmac", size=bits // 8
        )
        for bits in (224, 256, 384, 512)
    },
}

# Key pair specs GenerateDataKeyPair can make (the asymmetric specs above).
DATA_KEY_PAIR_SPECS = frozenset(name for name, info in SPECS.items() if info.family in ("rsa", "ecc"))

# RSAES_OAEP plaintext limits (bytes) per key size: k - 2*hLen - 2.
RSA_OAEP_MAX_PLAINTEXT = {
    (bits, alg): bits // 8 - 2 * (20 if alg == "RSAES_OAEP_SHA_1" else 32) - 2
    for bits in (2048, 3072, 4096)
    for alg in RSA_ENCRYPTION
}
