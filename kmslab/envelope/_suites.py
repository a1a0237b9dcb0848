"""The algorithm suites we write and read: the two committing suites of message format version 2."""

from __future__ import annotations

from dataclasses import dataclass

from kmslab.envelope.errors import MessageFormatError


@dataclass(frozen=True)
class Suite:
    """An algorithm suite of the AWS Encryption SDK message format.

    Attributes:
        suite_id: the two-byte identifier written in the header.
        name: the suite's name in the specification.
        signed: whether messages carry an ECDSA P-384 footer signature.
    """

    suite_id: int
    name: str
    signed: bool

    @property
    def id_bytes(self) -> bytes:
        """The identifier as it appears on the wire (big endian)."""
        return self.suite_id.to_bytes(2, "big")


COMMIT_KEY = Suite(0x0478, "AES_256_GCM_HKDF_SHA512_COMMIT_KEY", signed=False)
COMMIT_KEY_ECDSA_P384 = Suite(0x0578, "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", signed=True)

_BY_ID = {s.suite_id: s for s in (COMMIT_KEY, COMMIT_KEY_ECDSA_P384)}

DATA_KEY_LEN = 32
IV_LEN = 12
TAG_LEN = 16
COMMITMENT_LEN = 32
MESSAGE_ID_LEN = 32
PUBLIC_KEY_CONTEXT_KEY = "aws-crypto-public-key"
RESERVED_CONTEXT_PREFIX = "aws-crypto-"


def suite_by_id(suite_id: int) -> Suite:
    """Return the supported suite with this identifier.

    Args:
        suite_id: the identifier read from a header.

    Returns:
        The suite.

    Raises:
        MessageFormatError: the suite is unknown or not a committing suite we accept.
    """
    try:
        return _BY_ID[suite_id]
    except KeyError:
        raise MessageFormatError(
            f"unsupported algorithm suite 0x{suite_id:04x} (only committing suites 0x0478 and 0x0578 are accepted)"
        ) from None


def suite_by_name(name: str | int | Suite) -> Suite:
    """Resolve a suite given as a Suite, an id or a name (``"0x0478"``, ``"0478"``, or the spec name).

    Args:
        name: the suite.

    Returns:
        The suite.

    Raises:
        MessageFormatError: not a supported suite.
    """
    if isinstance(name, Suite):
        return name
    if isinstance(name, int):
        return suite_by_id(name)
    for suite in _BY_ID.values():
        if name.upper() == suite.name:
            return suite
    try:
        return suite_by_id(int(name, 16))
    except ValueError:
        raise MessageFormatError(f"unknown algorithm suite {name!r}") from None
