"""The identities file: who may sign requests to the local endpoint, with which IAM policies.

Format (JSON or YAML)::

    {"account": "111122223333",
     "identities": [{"arn": "arn:aws:iam::111122223333:user/alice",
                     "access_key_id": "AKIA...", "secret_access_key": "...",
                     "policies": [<IAM policy document> | {"name": "...", "document": <doc>}, ...],
                     "admin": false}]}

An identity whose ARN is the account root acts as the root user. A role ARN acts as a session of
that role (``arn:aws:sts::<acct>:assumed-role/<name>/<session_name>``, session ``kmslab`` unless
``session_name`` is given). ``admin: true`` lets an identity use the endpoint's control routes
(``/_kmslab/*``: read and move the clock) with a signed request; it grants nothing in KMS itself.
Secrets never appear in a repr.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kmslab.kms.authz.errors import IdentityFileError
from kmslab.kms.errors import MalformedPolicyDocumentException
from kmslab.kms.policy import Policy, parse_policy, principal_arn
from kmslab.kms.seams import Caller

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_ARN_RE = re.compile(
    r"^arn:aws:(iam|sts)::(\d{12}):(root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+|assumed-role/[\w+=,.@-]+/[\w+=,.@-]+)$"
)
_AKID_RE = re.compile(r"^[A-Z0-9]{16,128}$")


@dataclass(frozen=True)
class NamedPolicy:
    """An IAM identity policy with the name explain output uses.

    Args:
        name: the policy's name.
        policy: the parsed policy.
    """

    name: str
    policy: Policy


@dataclass(frozen=True)
class Identity:
    """One principal that can sign requests.

    Args:
        arn: the principal ARN callers act as (root, IAM user, or assumed-role session).
        account: the principal's account.
        identity_type: ``Root``, ``IAMUser`` or ``AssumedRole``.
        principal_id: CloudTrail's ``principalId`` / ``aws:userid``.
        access_key_id: the access key ID.
        secret_access_key: the secret (never in repr).
        policies: the IAM policies attached to the principal.
        admin: may use the endpoint's control routes (``/_kmslab/*``).
    """

    arn: str
    account: str
    identity_type: str
    principal_id: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    policies: tuple[NamedPolicy, ...] = ()
    admin: bool = False

    def caller(self, *, source_ip: str = "127.0.0.1", user_agent: str = "", secure_transport: bool = False) -> Caller:
        """Return the Caller this identity acts as.

        Args:
            source_ip: the client address.
            user_agent: the client's User-Agent.
            secure_transport: whether the request came over TLS.

        Returns:
            The Caller.
        """
        return Caller(
            arn=self.arn,
            account=self.account,
            identity_type=self.identity_type,
            principal_id=self.principal_id,
            access_key_id=self.access_key_id,
            source_ip=source_ip,
            user_agent=user_agent,
            secure_transport=secure_transport,
        )


def caller_for_arn(arn: str, *, source_ip: str = "127.0.0.1") -> Caller:
    """Build a Caller from a principal ARN alone (for explain and tests).

    Args:
        arn: root, IAM user, IAM role (acts as a ``kmslab`` session) or assumed-role ARN.
        source_ip: the client address.

    Returns:
        The Caller.

    Raises:
        IdentityFileError: the ARN is not an IAM principal ARN.
    """
    match = _ARN_RE.match(arn)
    if not match:
        raise IdentityFileError(f"not an IAM principal ARN: {arn!r}")
    account, resource = match.group(2), match.group(3)
    if resource == "root":
        return Caller.root(account, source_ip=source_ip)
    digest = hashlib.sha256(arn.encode()).hexdigest().upper()
    if resource.startswith("user/"):
        return Caller(
            arn=arn, account=account, identity_type="IAMUser", principal_id="AIDA" + digest[:17], source_ip=source_ip
        )
    if resource.startswith("role/"):
        arn = f"arn:aws:sts::{account}:assumed-role/{resource.rsplit('/', 1)[1]}/kmslab"
    session = arn.rsplit("/", 1)[1]
    return Caller(
        arn=arn,
        account=account,
        identity_type="AssumedRole",
        principal_id=f"AROA{digest[:17]}:{session}",
        source_ip=source_ip,
    )


class IdentityStore:
    """The known identities, by access key and by ARN.

    Args:
        account: the endpoint's account.
        identities: the identities.
    """

    def __init__(self, account: str, identities: Iterable[Identity] = ()) -> None:
        self.account = account
        self._by_key: dict[str, Identity] = {}
        self._by_arn: dict[str, Identity] = {}
        for identity in identities:
            self._by_key[identity.access_key_id] = identity
            self._by_arn[identity.arn] = identity

    def __repr__(self) -> str:
        return f"IdentityStore(account={self.account!r}, identities={sorted(self._by_arn)!r})"

    def __len__(self) -> int:
        return len(self._by_arn)

    @property
    def identities(self) -> tuple[Identity, ...]:
        """All identities, in file order."""
        return tuple(self._by_arn.values())

    def by_access_key(self, access_key_id: str) -> Identity | None:
        """Find the identity that owns an access key.

        Args:
            access_key_id: the access key ID.

        Returns:
            The identity, or None.
        """
        return self._by_key.get(access_key_id)

    def by_arn(self, arn: str) -> Identity | None:
        """Find an identity by principal ARN (an assumed-role session also finds its role's entry).

        Args:
            arn: the principal ARN.

        Returns:
            The identity, or None.
        """
        found = self._by_arn.get(arn)
        if found is not None:
            return found
        if ":assumed-role/" in arn:
            role = principal_arn(Caller(arn=arn, account=arn.split(":")[4]))
            role_name = role.rsplit("/", 1)[1]
            for identity in self._by_arn.values():
                if identity.identity_type == "AssumedRole" and identity.arn.split("/")[1] == role_name:
                    return identity
        return None

    def policies_for(self, caller: Caller) -> tuple[NamedPolicy, ...]:
        """Return the IAM policies that apply to a caller (none for the root user or unknown callers).

        Args:
            caller: the caller.

        Returns:
            The caller's identity policies.
        """
        identity = self.by_arn(caller.arn)
        return identity.policies if identity is not None and identity.identity_type != "Root" else ()


def parse_named_policy(raw: Any, where: str, default_name: str) -> NamedPolicy:
    """Parse one entry of an identity's (or a role's) ``policies`` list.

    Args:
        raw: a policy document (object or JSON text), or ``{"name": ..., "document": ...}``.
        where: how to name the entry in errors.
        default_name: the name when the entry gives none (nor an ``Id``).

    Returns:
        The named policy.

    Raises:
        IdentityFileError: the entry is not a valid IAM identity policy.
    """
    if isinstance(raw, Mapping) and "document" in raw:
        name = str(raw.get("name") or default_name)
        doc = raw["document"]
    else:
        doc = raw
        name = str(doc.get("Id") or default_name) if isinstance(doc, Mapping) else default_name
    if isinstance(doc, str):
        text = doc
    elif isinstance(doc, Mapping):
        text = json.dumps(doc)
    else:
        raise IdentityFileError(f"{where}: a policy must be a JSON object or JSON text")
    try:
        return NamedPolicy(name=name, policy=parse_policy(text, kind="identity"))
    except MalformedPolicyDocumentException as exc:
        raise IdentityFileError(f"{where}: {exc.message}") from None


def _identity(raw: Any, where: str) -> Identity:
    if not isinstance(raw, Mapping):
        raise IdentityFileError(f"{where}: must be an object with arn, access_key_id, secret_access_key")
    for name in ("arn", "access_key_id", "secret_access_key"):
        if not isinstance(raw.get(name), str) or not raw.get(name):
            raise IdentityFileError(f"{where}.{name}: missing or not a string")
    arn = raw["arn"]
    if not _ARN_RE.match(arn):
        raise IdentityFileError(f"{where}.arn: not an IAM principal ARN: {arn!r}")
    if not _AKID_RE.match(raw["access_key_id"]):
        raise IdentityFileError(f"{where}.access_key_id: must be 16-128 upper-case letters and digits")
    caller = caller_for_arn(arn)
    if caller.identity_type == "AssumedRole" and raw.get("session_name"):
        session = str(raw["session_name"])
        caller = Caller(
            arn=caller.arn.rsplit("/", 1)[0] + "/" + session,
            account=caller.account,
            identity_type="AssumedRole",
            principal_id=caller.principal_id.split(":")[0] + ":" + session,
        )
    admin = raw.get("admin", False)
    if not isinstance(admin, bool):
        raise IdentityFileError(f"{where}.admin: must be true or false")
    policies_raw = raw.get("policies", [])
    if not isinstance(policies_raw, list):
        raise IdentityFileError(f"{where}.policies: must be a list of IAM policy documents")
    name = arn.rsplit("/", 1)[-1] if "/" in arn else "root"
    policies = tuple(
        parse_named_policy(p, f"{where}.policies[{i}]", f"{name}-policy-{i + 1}") for i, p in enumerate(policies_raw)
    )
    return Identity(
        arn=caller.arn,
        account=caller.account,
        identity_type=caller.identity_type,
        principal_id=str(raw.get("principal_id") or caller.principal_id),
        access_key_id=raw["access_key_id"],
        secret_access_key=raw["secret_access_key"],
        policies=policies,
        admin=admin,
    )


def parse_identities(data: Any, *, origin: str = "identities") -> IdentityStore:
    """Build an IdentityStore from parsed identities data.

    Args:
        data: the parsed file content.
        origin: how to name the source in errors.

    Returns:
        The store.

    Raises:
        IdentityFileError: the data is malformed.
    """
    if not isinstance(data, Mapping):
        raise IdentityFileError(f"{origin}: must be an object with 'account' and 'identities'")
    account = str(data.get("account", ""))
    if not _ACCOUNT_RE.match(account):
        raise IdentityFileError(f"{origin}: account must be a 12-digit account ID, got {data.get('account')!r}")
    raw = data.get("identities")
    if not isinstance(raw, list):
        raise IdentityFileError(f"{origin}: identities must be a list")
    identities = [_identity(item, f"{origin}: identities[{i}]") for i, item in enumerate(raw)]
    seen_keys: set[str] = set()
    seen_arns: set[str] = set()
    for i, identity in enumerate(identities):
        if identity.access_key_id in seen_keys:
            raise IdentityFileError(f"{origin}: identities[{i}].access_key_id: used twice: {identity.access_key_id}")
        if identity.arn in seen_arns:
            raise IdentityFileError(f"{origin}: identities[{i}].arn: listed twice: {identity.arn}")
        seen_keys.add(identity.access_key_id)
        seen_arns.add(identity.arn)
    return IdentityStore(account, identities)


def read_identities_data(path: str | Path) -> Any:
    """Read an identities file: JSON, or YAML for ``.yaml``/``.yml`` or anything JSON cannot read.

    Args:
        path: the file.

    Returns:
        The parsed content (not validated yet).

    Raises:
        IdentityFileError: the file is missing, unreadable, or neither JSON nor YAML.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise IdentityFileError(f"{file}: cannot read the identities file: {exc.strerror}") from None
    try:
        return json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except ValueError as exc:
        raise IdentityFileError(f"{file}: not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise IdentityFileError(f"{file}: not valid YAML{where}") from None


def load_identities(path: str | Path) -> IdentityStore:
    """Load an identities file (JSON, or YAML for ``.yaml``/``.yml`` or anything JSON cannot read).

    Args:
        path: the file.

    Returns:
        The store.

    Raises:
        IdentityFileError: the file is missing, unreadable or malformed.
    """
    return parse_identities(read_identities_data(path), origin=str(Path(path)))
