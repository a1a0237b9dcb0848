"""Per-message key derivation (HKDF-SHA512, RFC 5869).

Both keys share one HKDF-Extract (``cryptography``'s ``HKDF.extract``, salt = message ID); each 32-byte
output is one HKDF-Expand block, ``T(1) = HMAC-SHA512(PRK, info || 0x01)``, computed with ``cryptography``'s
HMAC keyed once and copied for the second info. That is two HKDF objects' work for about half the cost;
tests check it against ``cryptography``'s ``HKDF`` on random vectors.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kmslab.envelope._suites import COMMIT_KEY, COMMIT_KEY_ECDSA_P384, COMMITMENT_LEN, DATA_KEY_LEN, Suite

_DERIVE_LABEL = b"DERIVEKEY"
#: the expand info of each suite's encryption key, and the single HKDF-Expand block counter (output <= 64 bytes)
_DERIVE_INFO = {s.suite_id: s.id_bytes + _DERIVE_LABEL + b"\x01" for s in (COMMIT_KEY, COMMIT_KEY_ECDSA_P384)}
_COMMIT_INFO = b"COMMITKEY\x01"
_SHA512 = hashes.SHA512()


def derive_keys(data_key: bytes, message_id: bytes, suite: Suite) -> tuple[bytes, bytes]:
    """Derive the message's encryption key and key commitment from the data key.

    Args:
        data_key: the 32-byte plaintext data key.
        message_id: the 32-byte message ID (the HKDF salt).
        suite: the algorithm suite (its ID is part of the info).

    Returns:
        ``(encryption_key, commitment)``, 32 bytes each.
    """
    expand_key = HMAC(HKDF.extract(_SHA512, message_id, data_key), _SHA512)
    expand_commit = expand_key.copy()
    expand_key.update(_DERIVE_INFO[suite.suite_id])
    expand_commit.update(_COMMIT_INFO)
    return expand_key.finalize()[:DATA_KEY_LEN], expand_commit.finalize()[:COMMITMENT_LEN]
