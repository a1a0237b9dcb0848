"""Errors of the CloudTrail recorder and the LookupEvents endpoint.

:class:`TrailError` is the package root. The LookupEvents errors are also
:class:`kmslab.kms.errors.KmsError` subclasses so the HTTP endpoint answers them with
CloudTrail's own ``__type``, message and status.
"""

from __future__ import annotations

from kmslab.errors import KmslabError
from kmslab.kms.errors import DependencyTimeoutException, KmsError


class TrailError(KmslabError):
    """Root of the errors of :mod:`kmslab.trail`."""


class LookupEventsError(TrailError, KmsError):
    """A LookupEvents request CloudTrail would refuse."""

    code = "InvalidParameterException"
    status = 400


class InvalidLookupAttributesException(LookupEventsError):
    """The lookup attributes are not valid (unknown key, more than one, empty value)."""

    code = "InvalidLookupAttributesException"


class InvalidTimeRangeException(LookupEventsError):
    """StartTime is after EndTime."""

    code = "InvalidTimeRangeException"


class InvalidNextTokenException(LookupEventsError):
    """The NextToken was not issued for this query."""

    code = "InvalidNextTokenException"


class InvalidMaxResultsException(LookupEventsError):
    """MaxResults is outside 1..50."""

    code = "InvalidMaxResultsException"


class InvalidEventCategoryException(LookupEventsError):
    """EventCategory is not ``insight``."""

    code = "InvalidEventCategoryException"


class UnknownCloudTrailOperation(LookupEventsError):
    """The CloudTrail endpoint here answers LookupEvents only."""

    code = "UnknownOperationException"


class CloudTrailAccessDeniedException(LookupEventsError):
    """The caller's IAM policies do not allow ``cloudtrail:LookupEvents``."""

    code = "AccessDeniedException"


class TrailJournalUnavailable(TrailError, DependencyTimeoutException):
    """A call's CloudTrail record could not be made durable, so the call is not acknowledged (503, retryable)."""
