"""Errors of the offline audit: one root, named subclasses."""

from __future__ import annotations

from kmslab.errors import KmslabError


class AuditError(KmslabError):
    """Root of the errors of :mod:`kmslab.audit`."""


class UnknownQueryError(AuditError):
    """No query has that name."""


class TrailNotFoundError(AuditError):
    """The trail directory holds no CloudTrail log files."""


class QueryFailedError(AuditError):
    """The engine could not run a query (bad SQL, unreadable files, out of memory)."""
