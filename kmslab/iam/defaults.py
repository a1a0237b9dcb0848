"""The workshop's ready identity set: admin, alice, bob, auditor and a key-user role.

Keys are random per data directory (written once to ``identities.json``, mode 0600), so two
learners' local clouds never share credentials; the file is an ordinary identities file and
``kmslab local up --identities FILE`` replaces it.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from kmslab.kms.seams import DEFAULT_ACCOUNT

KEY_USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
ROLE_NAME = "KmsLabKeyUser"
#: the kit's default name prefix (``stacks/config.py`` ``KitConfig.prefix``): the deployed kit creates the
#: roles ``<prefix>-key-user`` and ``<prefix>-auditor``, which trust the account root, so, as on AWS, the
#: users' own IAM policies decide who may assume them (``kmslab local profiles`` uses them).
KIT_PREFIX = "kmslab"


def _key(name: str) -> tuple[str, str]:
    suffix = base64.b32encode(os.urandom(10)).decode()[: 16 - min(len(name), 6)]
    access = ("AKIA" + name.upper()[:6] + suffix)[:20]
    return access, base64.b64encode(os.urandom(30)).decode()


def _allow(actions: list[str] | str, resource: list[str] | str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}


def default_identities(account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    """Build a fresh default identity set with random keys.

    Args:
        account: the account ID.

    Returns:
        Identities-file data (``account``, ``identities``, ``roles``).
    """
    users: list[tuple[str, list[dict[str, Any]]]] = [
        ("admin", [{"name": "AdministratorAccess", "document": _allow("*")}]),
        (
            "alice",
            [
                {"name": "KeyUser", "document": _allow(KEY_USE)},
                {"name": "DataAccess", "document": _allow(["s3:*", "ssm:*", "secretsmanager:*", "sqs:*", "sns:*"])},
                {
                    "name": "AssumeKeyUserRole",
                    "document": _allow(
                        "sts:AssumeRole",
                        [
                            f"arn:aws:iam::{account}:role/{ROLE_NAME}",
                            f"arn:aws:iam::{account}:role/{KIT_PREFIX}-key-user",
                        ],
                    ),
                },
            ],
        ),
        ("bob", [{"name": "S3Only", "document": _allow(["s3:*"])}]),
        (
            "auditor",
            [
                {
                    "name": "AuditReadOnly",
                    "document": _allow(
                        [
                            "cloudtrail:Describe*",
                            "cloudtrail:Get*",
                            "cloudtrail:List*",
                            "cloudtrail:LookupEvents",
                            "athena:*",
                            "glue:Get*",
                            "s3:Get*",
                            "s3:List*",
                            "kms:Describe*",
                            "kms:Get*",
                            "kms:List*",
                            "logs:Describe*",
                            "logs:Get*",
                            "logs:FilterLogEvents",
                        ]
                    ),
                },
                {
                    "name": "AssumeAuditorRole",
                    "document": _allow("sts:AssumeRole", f"arn:aws:iam::{account}:role/{KIT_PREFIX}-auditor"),
                },
            ],
        ),
    ]
    identities = []
    for name, policies in users:
        access, secret = _key(name)
        identities.append(
            {
                "arn": f"arn:aws:iam::{account}:user/{name}",
                "access_key_id": access,
                "secret_access_key": secret,
                "policies": policies,
            }
        )
    role = {
        "arn": f"arn:aws:iam::{account}:role/{ROLE_NAME}",
        "trust_policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:aws:iam::{account}:user/alice", f"arn:aws:iam::{account}:user/admin"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        "policies": [{"name": "KeyUser", "document": _allow([*KEY_USE, "s3:*"])}],
    }
    return {"account": account, "identities": identities, "roles": [role]}


def ensure_default_identities(path: Path, account: str = DEFAULT_ACCOUNT) -> Path:
    """Create the default identities file once (mode 0600); an existing file is kept as it is.

    Args:
        path: where the file lives.
        account: the account ID for a new file.

    Returns:
        The path.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(default_identities(account), out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    return path
