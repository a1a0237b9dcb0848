"""Errors of the local Athena core, shaped as Amazon Athena returns them."""

from __future__ import annotations

from kmslab.errors import AwsServiceError


class AthenaError(AwsServiceError):
    """Root of the errors of :mod:`kmslab.cloud.athena`: an AWS JSON error response.

    Args:
        message: the error message.
    """

    code = "InternalServerException"
    status = 500
    message_key = "Message"  # Athena spells it so


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
