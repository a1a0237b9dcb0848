"""Errors of the local CloudWatch Logs and CloudWatch alarm cores, shaped as AWS returns them."""

from __future__ import annotations

from typing import ClassVar

from kmslab.errors import KmslabError


class LogsError(KmslabError):
    """Root of the errors of :mod:`kmslab.cloud.logs`: an AWS JSON error response.

    Args:
        message: the error message.
    """

    code: ClassVar[str] = "ServiceUnavailableException"
    status: ClassVar[int] = 500

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def to_response(self) -> dict[str, str]:
        """Return the JSON body of the error response.

        Returns:
            ``{"__type": code, "message": message}``.
        """
        return {"__type": self.code, "message": self.message}


class InvalidParameterException(LogsError):
    """A parameter is malformed (CloudWatch Logs answers a bad filter pattern with this)."""

    code = "InvalidParameterException"
    status = 400


class ResourceNotFoundException(LogsError):
    """The log group or metric filter does not exist."""

    code = "ResourceNotFoundException"
    status = 400


class InvalidParameterValueException(LogsError):
    """CloudWatch (alarms) refuses a parameter value."""

    code = "InvalidParameterValue"
    status = 400
