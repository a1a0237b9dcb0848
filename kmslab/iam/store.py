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
policies. Sessions live in memory only (``kmslab local status`` says so). Roles and sessions themselves
are :mod:`kmslab.iam.roles`'s (re-exported here).
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kmslab.iam.errors import IdentityFileError
from kmslab.iam.roles import (
    DEFAULT_SESSION_SECONDS,
    MIN_SESSION_SECONDS,
    Role,
    Session,
    as_cloud_error,
    parse_role,
    role_from_document,
    valid_session_name,
)
from kmslab.kms.authz import (
    Identity,
    IdentityStore,
    parse_identities,
    read_identities_data,
)

__all__ = [
    "DEFAULT_SESSION_SECONDS",
    "MIN_SESSION_SECONDS",
    "CloudIdentities",
    "Role",
    "Session",
    "load_cloud_identities",
    "parse_cloud_identities",
    "role_from_document",
    "valid_session_name",
]


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
                return role.session_identity(arn, parts[-1])
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
    with as_cloud_error():
        base = parse_identities(data, origin=origin)
    roles_raw = data.get("roles", []) if isinstance(data, Mapping) else []
    if not isinstance(roles_raw, list):
        raise IdentityFileError(f"{origin}: roles must be a list")
    roles = [parse_role(item, f"{origin}: roles[{i}]") for i, item in enumerate(roles_raw)]
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
    with as_cloud_error():
        data = read_identities_data(file)
    return parse_cloud_identities(data, origin=str(file))
