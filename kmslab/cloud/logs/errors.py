"""Errors of the local CloudWatch Logs and CloudWatch alarm cores, shaped as AWS returns them."""

from __future__ import annotations

from kmslab.errors import AwsServiceError


class LogsError(AwsServiceError):
    """Root of the errors of :mod:`kmslab.cloud.logs`: an AWS JSON error response.

    Args:
        message: the error message.
    """

    code = "ServiceUnavailableException"
    status = 500


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
