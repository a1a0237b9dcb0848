"""Errors of the local Athena core, shaped as Amazon Athena returns them."""

from __future__ import annotations

from typing import ClassVar

from kmslab.errors import KmslabError


class AthenaError(KmslabError):
    """Root of the errors of :mod:`kmslab.cloud.athena`: an AWS JSON error response.

    Args:
        message: the error message.
    """

    code: ClassVar[str] = "InternalServerException"
    status: ClassVar[int] = 500

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def to_response(self) -> dict[str, str]:
        """Return the JSON body of the error response.

        Returns:
            ``{"__type": code, "Message": message}`` (Athena spells it ``Message``).
        """
        return {"__type": self.code, "Message": self.message}


class InvalidRequestException(AthenaError):
    """The request is malformed (a bad parameter, an unknown query ID, a missing output location)."""

    code = "InvalidRequestException"
    status = 400


class ResourceNotFoundException(AthenaError):
    """A named resource (workgroup) does not exist."""

    code = "ResourceNotFoundException"
    status = 400


class QueryFailed(AthenaError):
    """A query could not run: becomes a FAILED (or CANCELLED) state, never an API error.

    Args:
        message: Athena's ``StateChangeReason`` (``SYNTAX_ERROR: ...``, ``TABLE_NOT_FOUND: ...``).
        category: ``AthenaError.ErrorCategory``: 1 system, 2 user, 3 other.
        state: the final state, ``FAILED`` or ``CANCELLED``.
    """

    code = "InvalidRequestException"
    status = 400

    def __init__(self, message: str, *, category: int = 2, state: str = "FAILED") -> None:
        super().__init__(message)
        self.category = category
        self.state = state
