"""Identities of the local cloud: the identities file's users, its roles, and STS sessions.

The identities file is the one ``kmslab kms serve --identities`` reads, extended with roles::

    {"account": "111122223333",
     "identities": [ ...as for kmslab kms serve... ],
     "roles": [{"arn": "arn:aws:iam::111122223333:role/KeyUser",
                "trust_policy": {<a policy whose statements name principals>},
                "policies": [<IAM policy document> | {"name": ..., "document": ...}],
                "max_session_duration": 3600}]}

``AssumeRole`` creates a session: temporary credentials (``ASIA…`` key, secret, session token)
that sign as ``arn:aws:sts::<acct>:assumed-role/<role>/<session>`` and carry the role's
policies. Sessions live in memory only (``kmslab local status`` says so).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from kmslab.iam.errors import IdentityFileError
from kmslab.kms.authz import Identity, IdentityStore, NamedPolicy, parse_identities
from kmslab.kms.authz import IdentityFileError as _KmsIdentityFileError
from kmslab.kms.errors import MalformedPolicyDocumentException
from kmslab.kms.policy import Policy, parse_policy

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
    """

    arn: str
    name: str
    trust_policy: Policy
    policies: tuple[NamedPolicy, ...] = ()
    max_session_seconds: int = DEFAULT_SESSION_SECONDS

    @property
    def role_id(self) -> str:
        """The role's unique ID (``AROA…``), stable for a given ARN."""
        return "AROA" + base64.b32encode(self.arn.encode()).decode()[:17]


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
        return Identity(
            arn=self.arn,
            account=self.role.arn.split(":")[4],
            identity_type="AssumedRole",
            principal_id=f"{self.role.role_id}:{self.session_name}",
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            policies=self.role.policies,
        )


class CloudIdentities(IdentityStore):
    """The identities file's principals plus its roles and the live STS sessions.

    An :class:`~kmslab.kms.authz.IdentityStore`, so the KMS authorizer finds a session's role
    policies through it as it finds a user's.

    Args:
        account: the account.
        identities: the users (and root) that sign with long-term keys.
        roles: the roles that can be assumed.
    """

    def __init__(self, account: str, identities: Iterable[Identity] = (), roles: Iterable[Role] = ()) -> None:
        super().__init__(account, identities)
        self._roles: dict[str, Role] = {role.arn: role for role in roles}
        self._roles_by_name: dict[str, Role] = {role.name: role for role in self._roles.values()}
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._sources: list[Any] = []

    def add_source(self, source: Any) -> None:
        """Consult another source of identities after the file's (e.g. users made through the IAM API).

        Args:
            source: an object with ``by_access_key(key)``, ``by_arn(arn)`` and ``role(arn)``.
        """
        self._sources.append(source)

    def __repr__(self) -> str:
        return (
            f"CloudIdentities(account={self.account!r}, identities={len(self)}, roles={sorted(self._roles_by_name)!r})"
        )

    @property
    def roles(self) -> tuple[Role, ...]:
        """The roles, in file order."""
        return tuple(self._roles.values())

    def role(self, arn: str) -> Role | None:
        """Find a role by ARN.

        Args:
            arn: the role ARN.

        Returns:
            The role, or None.
        """
        found = self._roles.get(arn)
        for source in self._sources if found is None else ():
            found = source.role(arn)
            if found is not None:
                break
        return found

    def session(self, access_key_id: str) -> Session | None:
        """Find a live or expired session by its access key.

        Args:
            access_key_id: the ``ASIA…`` key.

        Returns:
            The session, or None.
        """
        return self._sessions.get(access_key_id)

    def by_access_key(self, access_key_id: str) -> Identity | None:
        """Find who owns an access key: a user, or an STS session.

        Args:
            access_key_id: the access key ID.

        Returns:
            The identity, or None.
        """
        found = super().by_access_key(access_key_id)
        if found is not None:
            return found
        session = self._sessions.get(access_key_id)
        if session is not None:
            return session.identity()
        for source in self._sources:
            identity: Identity | None = source.by_access_key(access_key_id)
            if identity is not None:
                return identity
        return None

    def by_arn(self, arn: str) -> Identity | None:
        """Find an identity by ARN; an assumed-role session ARN finds its role's policies.

        Args:
            arn: the principal ARN.

        Returns:
            The identity, or None.
        """
        found = super().by_arn(arn)
        if found is not None:
            return found
        if ":assumed-role/" in arn:
            parts = arn.split("/")
            role = self._roles_by_name.get(parts[1]) if len(parts) >= 3 else None
            if role is not None:
                return Identity(
                    arn=arn,
                    account=role.arn.split(":")[4],
                    identity_type="AssumedRole",
                    principal_id=f"{role.role_id}:{parts[-1]}",
                    access_key_id="",
                    secret_access_key="",
                    policies=role.policies,
                )
        for source in self._sources:
            identity: Identity | None = source.by_arn(arn)
            if identity is not None:
                return identity
        return None

    def start_session(
        self, role: Role, *, session_name: str, duration: int, now: datetime, source_identity: str
    ) -> Session:
        """Issue temporary credentials for a role.

        Args:
            role: the role.
            session_name: the role session name (validated by the caller).
            duration: the lifetime in seconds.
            now: the current time.
            source_identity: who assumed the role.

        Returns:
            The new session.
        """
        key = "ASIA" + base64.b32encode(os.urandom(10)).decode()[:16]
        session = Session(
            role=role,
            session_name=session_name,
            access_key_id=key,
            secret_access_key=base64.b64encode(os.urandom(30)).decode(),
            session_token=base64.b64encode(b"kmslab-session:" + secrets.token_bytes(48)).decode(),
            expiration=now + timedelta(seconds=duration),
            source_identity=source_identity,
        )
        with self._lock:
            for old in [k for k, s in self._sessions.items() if s.expiration < now]:
                del self._sessions[old]
            self._sessions[key] = session
        return session


def _role(raw: Any, where: str) -> Role:
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
    policies = []
    for i, item in enumerate(policies_raw):
        doc = item.get("document") if isinstance(item, Mapping) and "document" in item else item
        name = str(item.get("name")) if isinstance(item, Mapping) and item.get("name") else f"{match.group(2)}-{i + 1}"
        try:
            text = doc if isinstance(doc, str) else json.dumps(doc)
            policies.append(NamedPolicy(name=name, policy=parse_policy(text, kind="identity")))
        except (MalformedPolicyDocumentException, TypeError) as exc:
            raise IdentityFileError(f"{where}.policies[{i}]: {getattr(exc, 'message', exc)}") from None
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
    arn: str, trust: Mapping[str, Any], policies: tuple[NamedPolicy, ...], max_seconds: int = DEFAULT_SESSION_SECONDS
) -> Role | None:
    """Build a role from its trust policy document and parsed permissions (None when the trust policy is invalid).

    Args:
        arn: the role ARN.
        trust: the trust policy document.
        policies: the role's permissions.
        max_seconds: the longest session.

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
        arn=arn, name=match.group(2), trust_policy=trust_policy, policies=policies, max_session_seconds=max_seconds
    )


def parse_cloud_identities(data: Any, *, origin: str = "identities") -> CloudIdentities:
    """Build the cloud's identities from parsed identities-file data.

    Args:
        data: the parsed file.
        origin: how to name the source in errors.

    Returns:
        The identities.

    Raises:
        IdentityFileError: the data is malformed.
    """
    try:
        base = parse_identities(data, origin=origin)
    except _KmsIdentityFileError as exc:
        raise IdentityFileError(str(exc)) from None
    roles_raw = data.get("roles", []) if isinstance(data, Mapping) else []
    if not isinstance(roles_raw, list):
        raise IdentityFileError(f"{origin}: roles must be a list")
    roles = [_role(item, f"{origin}: roles[{i}]") for i, item in enumerate(roles_raw)]
    for role in roles:
        if role.arn.split(":")[4] != base.account:
            raise IdentityFileError(f"{origin}: role {role.arn} is not in account {base.account}")
    return CloudIdentities(base.account, base.identities, roles)


def load_cloud_identities(path: str | Path) -> CloudIdentities:
    """Load an identities file (JSON, or YAML) with its roles.

    Args:
        path: the file.

    Returns:
        The identities.

    Raises:
        IdentityFileError: the file is missing, unreadable or malformed.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise IdentityFileError(f"{file}: cannot read the identities file: {exc.strerror}") from None
    try:
        data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        raise IdentityFileError(f"{file}: not valid JSON or YAML") from None
    return parse_cloud_identities(data, origin=str(file))


def valid_session_name(name: str) -> bool:
    """Tell whether a role session name is valid (2-64 of ``[\\w+=,.@-]``).

    Args:
        name: the name.

    Returns:
        True when valid.
    """
    return bool(_SESSION_NAME_RE.match(name))
