"""IAM roles of the local cloud and the STS sessions that assume them.

A role comes from the identities file (``roles``: ARN, trust policy, permissions, longest session)
or from the IAM API (:func:`role_from_document`). A :class:`Session` is what AssumeRole issues: it
signs as ``arn:aws:sts::<acct>:assumed-role/<role>/<session>`` with the role's policies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kmslab.iam.errors import IdentityFileError
from kmslab.kms.authz import Identity, NamedPolicy, parse_named_policy
from kmslab.kms.authz import IdentityFileError as _KmsIdentityFileError
from kmslab.kms.errors import MalformedPolicyDocumentException
from kmslab.kms.policy import Policy, parse_policy

__all__ = [
    "DEFAULT_SESSION_SECONDS",
    "MIN_SESSION_SECONDS",
    "Role",
    "Session",
    "as_cloud_error",
    "parse_role",
    "role_from_document",
    "valid_session_name",
]

_ROLE_ARN_RE = re.compile(r"^arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$")
_SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")
MIN_SESSION_SECONDS = 900
DEFAULT_SESSION_SECONDS = 3600


@dataclass(frozen=True)
class Role:
    """An IAM role that can be assumed.

    Args:
        arn: the role ARN.
        name: the role name.
        trust_policy: who may assume it (a resource policy: statements name principals).
        policies: the role's permissions.
        max_session_seconds: the longest session AssumeRole may ask for.
        unique_id: the role's unique ID when IAM gave it one (``RoleId``); else derived from the ARN.
    """

    arn: str
    name: str
    trust_policy: Policy
    policies: tuple[NamedPolicy, ...] = ()
    max_session_seconds: int = DEFAULT_SESSION_SECONDS
    unique_id: str = ""

    @property
    def role_id(self) -> str:
        """The role's unique ID (``AROA…``): IAM's, or one stable for the ARN and distinct between roles."""
        if self.unique_id:
            return self.unique_id
        digest = hashlib.sha256(self.arn.encode()).digest()
        return "AROA" + base64.b32encode(digest).decode()[:17]

    def session_identity(
        self, session_arn: str, session_name: str, access_key_id: str = "", secret_access_key: str = ""
    ) -> Identity:
        """Return a session of this role as an identity: an ``AssumedRole`` with the role's policies.

        Args:
            session_arn: the assumed-role session ARN.
            session_name: the role session name.
            access_key_id: the session's ``ASIA…`` key (empty when found by ARN).
            secret_access_key: its secret (empty when found by ARN).

        Returns:
            The identity.
        """
        return Identity(
            arn=session_arn,
            account=self.arn.split(":")[4],
            identity_type="AssumedRole",
            principal_id=f"{self.role_id}:{session_name}",
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            policies=self.policies,
        )


@dataclass(frozen=True)
class Session:
    """Temporary credentials issued by AssumeRole.

    Args:
        role: the assumed role.
        session_name: the role session name.
        access_key_id: the ``ASIA…`` access key.
        secret_access_key: the secret (never in repr).
        session_token: the session token (never in repr).
        expiration: when the credentials stop working.
        source_identity: the ARN of the principal that assumed the role.
    """

    role: Role
    session_name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime
    source_identity: str = ""

    @property
    def arn(self) -> str:
        """The assumed-role session ARN."""
        account = self.role.arn.split(":")[4]
        return f"arn:aws:sts::{account}:assumed-role/{self.role.name}/{self.session_name}"

    def identity(self) -> Identity:
        """Return the session as an identity that signs requests.

        Returns:
            An ``AssumedRole`` identity with the role's policies.
        """
        return self.role.session_identity(self.arn, self.session_name, self.access_key_id, self.secret_access_key)


@contextmanager
def as_cloud_error() -> Iterator[None]:
    """Raise the KMS identities parser's errors as this package's :class:`IdentityFileError` (same message)."""
    try:
        yield
    except _KmsIdentityFileError as exc:
        raise IdentityFileError(str(exc)) from None


def parse_role(raw: Any, where: str) -> Role:
    """Parse one entry of the identities file's ``roles``.

    Args:
        raw: the entry.
        where: how to name it in errors.

    Returns:
        The role.

    Raises:
        IdentityFileError: the entry is malformed.
    """
    if not isinstance(raw, Mapping):
        raise IdentityFileError(f"{where}: must be an object with arn and trust_policy")
    arn = raw.get("arn")
    match = _ROLE_ARN_RE.match(arn) if isinstance(arn, str) else None
    if match is None:
        raise IdentityFileError(f"{where}.arn: not an IAM role ARN: {arn!r}")
    trust = raw.get("trust_policy")
    if isinstance(trust, str):
        try:
            trust = json.loads(trust)
        except ValueError:
            raise IdentityFileError(f"{where}.trust_policy: not valid JSON") from None
    if not isinstance(trust, Mapping):
        raise IdentityFileError(f"{where}.trust_policy: must be a policy document")
    try:
        trust_policy = parse_policy(json.dumps(_with_resource(trust, str(arn))), kind="key")
    except MalformedPolicyDocumentException as exc:
        raise IdentityFileError(f"{where}.trust_policy: {exc.message}") from None
    policies_raw = raw.get("policies", [])
    if not isinstance(policies_raw, list):
        raise IdentityFileError(f"{where}.policies: must be a list of IAM policy documents")
    with as_cloud_error():
        policies = [
            parse_named_policy(item, f"{where}.policies[{i}]", f"{match.group(2)}-{i + 1}")
            for i, item in enumerate(policies_raw)
        ]
    max_seconds = raw.get("max_session_duration", DEFAULT_SESSION_SECONDS)
    if not isinstance(max_seconds, int) or not 3600 <= max_seconds <= 43200:
        raise IdentityFileError(f"{where}.max_session_duration: must be 3600..43200 seconds")
    return Role(
        arn=str(arn),
        name=match.group(2),
        trust_policy=trust_policy,
        policies=tuple(policies),
        max_session_seconds=max_seconds,
    )


def _with_resource(trust: Mapping[str, Any], arn: str) -> dict[str, Any]:
    """A trust policy names no Resource: it is the role's own policy, so each statement applies to the role."""
    statements = trust.get("Statement")
    items = statements if isinstance(statements, list) else [statements]
    fixed = [
        {**item, "Resource": arn}
        if isinstance(item, Mapping) and "Resource" not in item and "NotResource" not in item
        else item
        for item in items
    ]
    return {**trust, "Statement": fixed}


def role_from_document(
    arn: str,
    trust: Mapping[str, Any],
    policies: tuple[NamedPolicy, ...],
    max_seconds: int = DEFAULT_SESSION_SECONDS,
    unique_id: str = "",
) -> Role | None:
    """Build a role from its trust policy document and parsed permissions (None when the trust policy is invalid).

    Args:
        arn: the role ARN.
        trust: the trust policy document.
        policies: the role's permissions.
        max_seconds: the longest session.
        unique_id: IAM's ``RoleId`` for the role (empty: derived from the ARN).

    Returns:
        The role, or None.
    """
    match = _ROLE_ARN_RE.match(arn)
    if match is None:
        return None
    try:
        trust_policy = parse_policy(json.dumps(_with_resource(trust, arn)), kind="key")
    except MalformedPolicyDocumentException:
        return None
    return Role(
        arn=arn,
        name=match.group(2),
        trust_policy=trust_policy,
        policies=policies,
        max_session_seconds=max_seconds,
        unique_id=unique_id,
    )


def valid_session_name(name: str) -> bool:
    """Tell whether a role session name is valid (2-64 of ``[\\w+=,.@-]``).

    Args:
        name: the name.

    Returns:
        True when valid.
    """
    return bool(_SESSION_NAME_RE.match(name))
