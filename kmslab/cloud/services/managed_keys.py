"""AWS managed keys (``aws/s3``, ``aws/ssm``, ``aws/secretsmanager``) as the services ask for them.

The KMS engine makes and keeps them (:mod:`kmslab.kms.ops.managed`: ``KeyManager: AWS``, the
``alias/aws/<service>`` alias, AWS's key policy with ``kms:ViaService`` and ``kms:CallerAccount``,
yearly rotation); this module only maps what a request names to the key to use.
"""

from __future__ import annotations

from kmslab.kms import LocalKms
from kmslab.kms.ops.managed import DESCRIPTIONS, managed_key_policy

__all__ = ["DESCRIPTIONS", "ManagedKeys", "managed_key_policy"]


class ManagedKeys:
    """Find or create the AWS managed key of a service in a region.

    Args:
        kms: the local KMS engine.
        account: the account.
    """

    def __init__(self, kms: LocalKms, account: str) -> None:
        self.kms = kms
        self.account = account

    def resolve(self, key_id: str | None, service: str, region: str) -> str:
        """The key a request names, with ``alias/aws/<service>`` (or none) meaning the AWS managed key.

        Args:
            key_id: the key ID, ARN or alias the request names, if any.
            service: ``s3``, ``ssm`` or ``secretsmanager``.
            region: the region.

        Returns:
            What to hand KMS as ``KeyId``.
        """
        alias = f"alias/aws/{service}"
        if not key_id or key_id == alias or key_id.endswith(f":{alias}"):
            return self.arn(service, region)
        return key_id

    def arn(self, service: str, region: str) -> str:
        """The ARN of ``aws/<service>`` in ``region``, created on first use.

        Args:
            service: ``s3``, ``ssm`` or ``secretsmanager``.
            region: the region.

        Returns:
            The key ARN.
        """
        return self.kms.aws_managed_key(service, region)
