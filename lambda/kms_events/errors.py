"""Errors of the alerting functions: one root, named subclasses."""

from __future__ import annotations


class KmsEventsError(Exception):
    """Root of the errors the alerting functions raise on purpose."""


class IgnoredEventError(KmsEventsError):
    """The event is malformed or not one this function handles; it produces no alert.

    Args:
        reason: a short, stable reason code for the log line (``not_kms_api_call``, ...).
        detail: a human-readable explanation.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ConfigurationError(KmsEventsError):
    """A required environment variable is missing or invalid."""
