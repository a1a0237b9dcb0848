"""Named groups of KMS operations, defined once for the key-state table, grants and grant constraints.

A leaf module: it imports nothing of the package, so :mod:`kmslab.kms.policy` and the
operations can both read it.
"""

from __future__ import annotations

#: the four GenerateDataKey* operations (a grant on an asymmetric key cannot allow them).
DATA_KEY = frozenset(
    {"GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"}
)

#: grant operations whose requests carry an encryption context, so grant constraints apply
#: (ReEncryptFrom/ReEncryptTo are the two sides of ReEncrypt).
ENCRYPTION_CONTEXT = frozenset({"Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", *DATA_KEY})

#: the cryptographic grant operations a key allows, by its KeyUsage (CreateGrant's Operations).
BY_KEY_USAGE: dict[str, frozenset[str]] = {
    "ENCRYPT_DECRYPT": ENCRYPTION_CONTEXT | {"GetPublicKey"},
    "SIGN_VERIFY": frozenset({"Sign", "Verify", "GetPublicKey"}),
    "GENERATE_VERIFY_MAC": frozenset({"GenerateMac", "VerifyMac"}),
    "KEY_AGREEMENT": frozenset({"DeriveSharedSecret", "GetPublicKey"}),
    "ENCAPSULATE_DECAPSULATE": frozenset({"Encapsulate", "Decapsulate", "GetPublicKey"}),
}

#: every operation that uses a key's material: all of them need an Enabled key.
KEY_USE = frozenset().union(*BY_KEY_USAGE.values())
