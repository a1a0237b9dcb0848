"""The lab's identities: the account root, Alice (a key user) and Bob (nobody), each with its own access key."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

#: the account the lab's endpoint serves
LAB_ACCOUNT = "111122223333"
#: who signs the lab's requests; Alice and Bob have no IAM policies: key policies and grants decide
LAB_IDENTITIES = ("root", "alice", "bob")


def principal_arn(who: str, account: str = LAB_ACCOUNT) -> str:
    """Return the principal ARN of a lab identity.

    Args:
        who: ``root`` or an IAM user name.
        account: the account.

    Returns:
        The ARN.
    """
    return f"arn:aws:iam::{account}:root" if who == "root" else f"arn:aws:iam::{account}:user/{who}"


def write_identities(path: Path, account: str = LAB_ACCOUNT) -> Path:
    """Write the lab's identities file (the format ``kmslab kms serve --identities`` reads), mode 0600.

    Each run gets fresh random access keys and secrets: they are good for this lab's endpoint only.

    Args:
        path: the file to write.
        account: the account.

    Returns:
        ``path``.
    """
    identities = []
    for who in LAB_IDENTITIES:
        identity: dict[str, object] = {
            "arn": principal_arn(who, account),
            "access_key_id": f"AKIA{who.upper()}{secrets.token_hex(8).upper()}"[:20],
            "secret_access_key": secrets.token_urlsafe(30),
        }
        if who != "root":
            identity["policies"] = []
        identities.append(identity)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"account": account, "identities": identities}, handle, indent=2)
    return path
