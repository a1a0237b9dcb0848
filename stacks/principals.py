"""Configured principal ARNs as IAM constructs that policies can be attached to."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from constructs import Construct

__all__ = ["attachable"]


def attachable(scope: Construct, id_prefix: str, arns: Sequence[str]) -> list[iam.IRole]:
    """Import the roles among ``arns`` so a managed policy of ``scope`` can be attached to them.

    Only roles: an account root takes no attached policy (it delegates to IAM anyway), and the kit attaches no
    policy to IAM users (NIST 800-53 IAMUserNoPolicies: users get permissions through groups). Attach the
    stack's managed policy to a group of those users yourself (README, "Auditors").

    Args:
        scope: Where the imports live.
        id_prefix: Construct id prefix of the imports.
        arns: Configured principal ARNs (validated by ``KitConfig``).

    Returns:
        The imported roles.
    """
    return [
        iam.Role.from_role_arn(scope, f"{id_prefix}Role{index}", arn, mutable=True)
        for index, arn in enumerate(arns)
        if ":role/" in arn
    ]
