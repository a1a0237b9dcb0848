"""IAM users and roles created through the IAM API (served by moto) as identities of the local cloud.

Their access keys sign requests to every service; their inline, attached and group policies are
evaluated as IAM policies (by the same engine as the identities file's); ``AssumeRole`` honours the
trust policies of roles created this way. moto's IAM state is read where it lives (its in-process
backend); nothing is copied, so a policy detached through the API stops counting at once.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import Any

from kmslab.iam import Identity, NamedPolicy, Role, parse_policy
from kmslab.iam.store import role_from_document
from kmslab.kms.errors import MalformedPolicyDocumentException

log = logging.getLogger(__name__)


def _policies(named: Iterable[tuple[str, str]]) -> tuple[NamedPolicy, ...]:
    out = []
    for name, text in named:
        try:
            out.append(NamedPolicy(name=name, policy=parse_policy(text, kind="identity")))
        except MalformedPolicyDocumentException as exc:
            log.warning("ignoring IAM policy %s that the policy engine cannot read: %s", name, exc.message)
    return tuple(out)


def _managed_text(policy: Any) -> str:
    for version in getattr(policy, "versions", []):
        if getattr(version, "is_default", False):
            return str(version.document)
    return str(getattr(policy, "document", "{}"))


class MotoIamIdentities:
    """Look up users, access keys and roles in moto's IAM backend of one account.

    Args:
        account: the account.
    """

    def __init__(self, account: str) -> None:
        self.account = account

    def _backend(self) -> Any:
        if "moto.iam.models" not in sys.modules:  # moto not loaded yet: no IAM API call has been made
            return None
        from moto.iam.models import iam_backends

        return iam_backends[self.account]["global"]

    def _user_policies(self, backend: Any, user: Any) -> tuple[NamedPolicy, ...]:
        named = list(user.policies.items())
        named += [(p.name, _managed_text(p)) for p in user.managed_policies.values()]
        for group in backend.get_groups_for_user(user.name):
            named += list(group.policies.items())
            named += [(p.name, _managed_text(p)) for p in group.managed_policies.values()]
        return _policies(named)

    def _user_identity(self, backend: Any, user: Any, access_key: Any | None) -> Identity:
        return Identity(
            arn=user.arn,
            account=self.account,
            identity_type="IAMUser",
            principal_id=str(user.id),
            access_key_id=access_key.access_key_id if access_key is not None else "",
            secret_access_key=access_key.secret_access_key if access_key is not None else "",
            policies=self._user_policies(backend, user),
        )

    def by_access_key(self, access_key_id: str) -> Identity | None:
        """The user an active access key belongs to.

        Args:
            access_key_id: the key.

        Returns:
            The identity, or None.
        """
        backend = self._backend()
        if backend is None:
            return None
        for user in list(backend.users.values()):
            for key in user.access_keys:
                if key.access_key_id == access_key_id and key.status == "Active":
                    return self._user_identity(backend, user, key)
        return None

    def by_arn(self, arn: str) -> Identity | None:
        """A user by ARN, or an assumed-role session of a role created through the API.

        Args:
            arn: the principal ARN.

        Returns:
            The identity (with its policies), or None.
        """
        backend = self._backend()
        if backend is None:
            return None
        for user in list(backend.users.values()):
            if user.arn == arn:
                return self._user_identity(backend, user, None)
        if ":assumed-role/" in arn:
            parts = arn.split("/")
            role = self.role(f"arn:aws:iam::{self.account}:role/{parts[1]}") if len(parts) >= 3 else None
            if role is not None:
                return Identity(
                    arn=arn,
                    account=self.account,
                    identity_type="AssumedRole",
                    principal_id=f"{role.role_id}:{parts[-1]}",
                    access_key_id="",
                    secret_access_key="",
                    policies=role.policies,
                )
        return None

    def role(self, arn: str) -> Role | None:
        """A role created through the API, with its trust policy and permissions.

        Args:
            arn: the role ARN (any path).

        Returns:
            The role, or None.
        """
        backend = self._backend()
        if backend is None:
            return None
        name = arn.rsplit("/", 1)[-1]
        for moto_role in list(backend.roles.values()):
            if moto_role.arn == arn or (
                moto_role.name == name and arn.startswith(f"arn:aws:iam::{self.account}:role/")
            ):
                try:
                    trust = json.loads(moto_role.assume_role_policy_document)
                except (TypeError, ValueError):
                    return None
                named = list(moto_role.policies.items())
                named += [(p.name, _managed_text(p)) for p in moto_role.managed_policies.values()]
                seconds = int(getattr(moto_role, "max_session_duration", 3600) or 3600)
                return role_from_document(moto_role.arn, trust, _policies(named), seconds, str(moto_role.id))
        return None
