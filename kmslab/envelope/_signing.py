"""ECDSA P-384 signing for suite 0x0578 (imported only when a signed message is written or read)."""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from kmslab.envelope.errors import AuthenticationError, MessageFormatError


def new_signing_key() -> ec.EllipticCurvePrivateKey:
    """Return a fresh P-384 private key for one message (or one cached data key)."""
    return ec.generate_private_key(ec.SECP384R1())


def encode_public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """Return the context value for ``aws-crypto-public-key``: base64 of the compressed public point."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return base64.b64encode(key.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)).decode()


def decode_public_key(value: str) -> ec.EllipticCurvePublicKey:
    """Load the verification key from the ``aws-crypto-public-key`` context value.

    Args:
        value: base64 of a compressed P-384 point.

    Returns:
        The public key.

    Raises:
        MessageFormatError: not a valid point.
    """
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), base64.b64decode(value, validate=True))
    except (ValueError, TypeError):
        raise MessageFormatError("the message's signing public key is malformed") from None


def new_hasher() -> hashes.Hash:
    """Return the SHA-384 hash every signed message's bytes are fed into."""
    return hashes.Hash(hashes.SHA384())


_P384_ORDER = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973", 16
)
SIGNATURE_LEN = 103


def sign(key: ec.EllipticCurvePrivateKey, hasher: hashes.Hash) -> bytes:
    """Sign the digest of everything hashed so far.

    Like the AWS Encryption SDK, the DER signature always has the static length of 103 bytes: a shorter
    encoding is fixed by using the equivalent ``(r, n - s)`` or, failing that, by signing again.

    Args:
        key: the message's signing key.
        hasher: the SHA-384 state.

    Returns:
        The DER-encoded ECDSA signature.
    """
    digest = hasher.finalize()
    algorithm = ec.ECDSA(Prehashed(hashes.SHA384()))
    while True:
        signature = key.sign(digest, algorithm)
        if len(signature) == SIGNATURE_LEN:
            return signature
        r, s = decode_dss_signature(signature)
        signature = encode_dss_signature(r, _P384_ORDER - s)
        if len(signature) == SIGNATURE_LEN:
            return signature


def verify(public_key: ec.EllipticCurvePublicKey, hasher: hashes.Hash, signature: bytes) -> None:
    """Verify the footer signature.

    Args:
        public_key: the key from the context.
        hasher: the SHA-384 state over header, header tag and body.
        signature: the DER signature from the footer.

    Raises:
        AuthenticationError: the signature does not verify.
    """
    try:
        public_key.verify(signature, hasher.finalize(), ec.ECDSA(Prehashed(hashes.SHA384())))
    except InvalidSignature:
        raise AuthenticationError("the message signature does not verify") from None
