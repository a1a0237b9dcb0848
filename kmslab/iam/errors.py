"""Errors of the local IAM layer (authentication and authorization of every local service)."""

from __future__ import annotations

from kmslab.errors import KmslabError


class IamError(KmslabError):
    """Root of the local IAM errors: an authentication or authorization failure, AWS-shaped.

    Each service renders it in its own protocol (JSON ``__type`` or XML ``Code``); ``kind`` says
    what went wrong so each service can pick its own error code, as AWS services differ here.

    Args:
        kind: ``missing``, ``incomplete``, ``unknown-key``, ``bad-signature``, ``expired``,
            ``skew``, ``bad-token`` or ``denied``.
        message: the message, worded as AWS words it.
        status: the HTTP status.
    """

    def __init__(self, kind: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


class IdentityFileError(KmslabError):
    """The identities file (with its roles) is malformed."""
