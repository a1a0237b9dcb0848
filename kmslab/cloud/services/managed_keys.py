"""AWS managed keys (``aws/s3``, ``aws/ssm``, ``aws/secretsmanager``), created on first use as AWS does.

Each has AWS's key policy for its service: every principal of the account may use it, but only
through that service (``kms:ViaService`` = ``<service>.<region>.amazonaws.com``), and the account
may read its metadata. AWS rotates AWS managed keys every year; the key is created with rotation on
(365 days) under the default policy, then given the managed policy, which lets no one manage it.
The local KMS engine has no notion of a key manager, so DescribeKey shows ``CUSTOMER`` and there is
no ``alias/aws/...`` alias (the engine reserves that prefix); the services find the key by their own
record of its ARN.
"""

from __future__ import annotations

import json
import threading

from kmslab.cloud.services.docstore import DocStore
from kmslab.kms import Caller, LocalKms

DESCRIPTIONS = {
    "s3": "Default key that protects my S3 objects when no other key is defined",
    "ssm": "Default key that protects my SSM parameters when no other key is defined",
    "secretsmanager": "Default key that protects my Secrets Manager data when no other key is defined",
}


def managed_key_policy(account: str, region: str, service: str) -> str:
    """The key policy AWS gives the AWS managed key of a service.

    Args:
        account: the account.
        region: the key's region.
        service: ``s3``, ``ssm`` or ``secretsmanager``.

    Returns:
        The policy JSON.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"auto-{service}-1",
            "Statement": [
                {
                    "Sid": f"Allow access through {service} for all principals in the account that are "
                    "authorized to use it",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": account,
                            "kms:ViaService": f"{service}.{region}.amazonaws.com",
                        }
                    },
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                    "Resource": "*",
                },
            ],
        }
    )


class ManagedKeys:
    """Find or create the AWS managed key of a service in a region.

    Args:
        kms: the local KMS engine.
        store: where the keys' ARNs are recorded.
        account: the account.
    """

    def __init__(self, kms: LocalKms, store: DocStore, account: str) -> None:
        self.kms = kms
        self.store = store
        self.account = account
        self._lock = threading.Lock()

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

        Raises:
            KmsError: the engine refused to create it.
        """
        name = f"aws/{service}:{region}"
        with self._lock:
            found = self.store.get("managed-key", name)
            if found is not None:
                return str(found["arn"])
            root = Caller.root(self.account)
            created = self.kms.call(
                "CreateKey",
                {
                    "Description": DESCRIPTIONS[service],
                    "Tags": [{"TagKey": "kmslab:aws-managed", "TagValue": f"aws/{service}"}],
                },
                caller=root,
                region=region,
            )
            arn = str(created["KeyMetadata"]["Arn"])
            self.kms.call("EnableKeyRotation", {"KeyId": arn, "RotationPeriodInDays": 365}, caller=root, region=region)
            policy = managed_key_policy(self.account, region, service)
            self.kms.call(
                "PutKeyPolicy",
                {"KeyId": arn, "PolicyName": "default", "Policy": policy, "BypassPolicyLockoutSafetyCheck": True},
                caller=root,
                region=region,
            )
            self.store.put("managed-key", name, {"arn": arn})
            return arn
