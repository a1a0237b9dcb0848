"""Errors of the authorization package that are not AWS KMS responses."""

from __future__ import annotations

from kmslab.errors import KmslabError


class AuthzError(KmslabError):
    """Root of the local-KMS authorization errors that are not AWS responses."""


class IdentityFileError(AuthzError):
    """The identities file is missing or malformed (one-line message naming the file and the field)."""


class ExplainError(AuthzError):
    """``kmslab kms explain`` could not gather what it needs (key, policy, grants)."""
