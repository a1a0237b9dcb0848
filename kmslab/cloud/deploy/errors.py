"""Errors of the CloudFormation engine: one root, so the CLI turns any of them into one line."""

from __future__ import annotations

from kmslab.errors import KmslabError


class DeployError(KmslabError):
    """Root of every error the deploy engine raises."""


class TemplateError(DeployError):
    """The template is malformed: an unknown intrinsic, a missing reference, a dependency cycle.

    CloudFormation answers these with ``ValidationError`` before it creates anything.
    """


class AssemblyError(DeployError):
    """The cloud assembly (``cdk.out``) is missing, damaged or names a stack it does not hold."""


class ResourceFailed(DeployError):
    """A resource could not be created, updated or deleted; the message is the service's reason."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason
