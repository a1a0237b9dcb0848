"""One request in flight: who asks, where, when, and the helpers every operation shares.

Operations receive a :class:`RequestContext` and the validated parameters; they
resolve keys through it (so the event records the key ARNs), authorize through it
(so every operation hands the authorizer the same facts), and queue writes on it
(so the engine commits them in one transaction).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kmslab.kms._keys import Alias, Key, alias_arn, key_arn
from kmslab.kms._states import state_error
from kmslab.kms.errors import DryRunOperationException, NotFoundException
from kmslab.kms.seams import AllowAll, AuthorizationRequest, Caller

if TYPE_CHECKING:
    from kmslab.kms.engine import LocalKms

KEY_ID_RE = re.compile(r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$")
_KEY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/(.+)$")
_ALIAS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(alias/.+)$")


def b64(data: bytes) -> str:
    """Encode bytes as a wire blob.

    Args:
        data: the bytes.

    Returns:
        Base64 text.
    """
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def ts(value: datetime) -> float:
    """Encode a datetime as a wire timestamp.

    Args:
        value: an aware datetime.

    Returns:
        Epoch seconds.
    """
    return value.timestamp()


@dataclass(slots=True, init=False)
class RequestContext:
    """The state of one call.

    Args:
        kms: the engine.
        operation: the operation name.
        caller: who asks.
        region: the region of the request.
        now: the engine clock's time at the start of the call.
        request_id: the request ID.
    """

    kms: LocalKms
    operation: str
    caller: Caller
    region: str
    now: datetime
    request_id: str
    key_arns: list[str]
    dirty_keys: dict[tuple[str, str], Key]
    deleted_keys: list[tuple[str, str]]
    dirty_aliases: dict[tuple[str, str], Alias]
    deleted_aliases: list[tuple[str, str]]

    def __init__(  # written out: one per request, literals are cheaper than default factories
        self, kms: LocalKms, operation: str, caller: Caller, region: str, now: datetime, request_id: str
    ) -> None:
        self.kms = kms
        self.operation = operation
        self.caller = caller
        self.region = region
        self.now = now
        self.request_id = request_id
        self.key_arns = []
        self.dirty_keys = {}
        self.deleted_keys = []
        self.dirty_aliases = {}
        self.deleted_aliases = []

    @property
    def account(self) -> str:
        """The account that owns the endpoint."""
        return self.kms.account

    def arn_for(self, key_id: str, region: str | None = None) -> str:
        """Return the ARN a key ID has in this request's region.

        Args:
            key_id: the key ID.
            region: another region, if not the request's.

        Returns:
            The key ARN.
        """
        return key_arn(region or self.region, self.account, key_id)

    def _note(self, key: Key) -> None:
        arn = key.arn
        if arn not in self.key_arns:
            self.key_arns.append(arn)

    def _missing_key(self, key_id: str) -> NotFoundException:
        return NotFoundException(f"Key '{self.arn_for(key_id)}' does not exist")

    def key_by_id(self, key_id: str, region: str | None = None) -> Key:
        """Return a key of this region by its ID.

        Args:
            key_id: the key ID.
            region: another region, if not the request's.

        Returns:
            The key.

        Raises:
            NotFoundException: no such key in the region.
        """
        key = self.kms._keys.get((region or self.region, key_id))
        if key is None:
            raise NotFoundException(f"Key '{self.arn_for(key_id, region)}' does not exist")
        self._note(key)
        return key

    def resolve(self, ref: str, *, aliases: bool = True) -> tuple[Key, str | None]:
        """Resolve a key named by key ID, key ARN, alias name or alias ARN.

        Args:
            ref: the KeyId parameter.
            aliases: whether this operation accepts an alias.

        Returns:
            The key, and the alias name when the request named it by alias.

        Raises:
            NotFoundException: the key or alias does not exist here, or the name is not valid.
        """
        if KEY_ID_RE.match(ref):
            return self.key_by_id(ref), None
        match = _KEY_ARN_RE.match(ref)
        if match:
            region, account, key_id = match.groups()
            if region != self.region or account != self.account or not KEY_ID_RE.match(key_id):
                raise NotFoundException(f"Key '{ref}' does not exist")
            return self.key_by_id(key_id), None
        name: str | None = None
        if ref.startswith("alias/"):
            name = ref
        else:
            match = _ALIAS_ARN_RE.match(ref)
            if match and match.group(1) == self.region and match.group(2) == self.account:
                name = match.group(3)
        if name is None or not aliases:
            raise NotFoundException(f"Invalid keyId {ref}")
        alias = self.kms._aliases.get((self.region, name))
        if alias is None:
            raise NotFoundException(f"Alias {alias_arn(self.region, self.account, name)} is not found.")
        return self.key_by_id(alias.target_key_id), name

    def resource_aliases(self, key: Key) -> list[str]:
        """Return the names of the aliases that point to a key.

        Args:
            key: the key.

        Returns:
            Alias names, sorted.
        """
        return sorted(self.kms._alias_index.get((key.region, key.key_id), ()))

    def key_context(self, key: Key, request_alias: str | None) -> dict[str, Any]:
        """Return the kms condition keys that describe a key and this request.

        Args:
            key: the key.
            request_alias: the alias the request used, if any.

        Returns:
            Condition keys.
        """
        context: dict[str, Any] = {
            "kms:KeySpec": key.key_spec,
            "kms:CustomerMasterKeySpec": key.key_spec,
            "kms:KeyUsage": key.key_usage,
            "kms:KeyOrigin": key.origin,
            "kms:MultiRegion": key.multi_region,
            "kms:ResourceAliases": self.resource_aliases(key),
        }
        if key.multi_region:
            context["kms:MultiRegionKeyType"] = "REPLICA" if key.is_replica else "PRIMARY"
        if request_alias is not None:
            context["kms:RequestAlias"] = request_alias
        return context

    def authorize(
        self,
        action: str,
        key: Key | None,
        *,
        request_alias: str | None = None,
        grant_tokens: Iterable[str] = (),
        context: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        """Ask the authorizer whether this request may go on.

        Args:
            action: the IAM action, ``kms:<Operation>``.
            key: the key, or None for account-level actions.
            request_alias: the alias the request named the key by, if any.
            grant_tokens: grant tokens sent with the request.
            context: operation-specific condition keys, or a function that returns them (called only
                when an authorizer will read them).

        Raises:
            AccessDeniedException: refused.
        """
        authorizer = self.kms._authorizer
        if type(authorizer) is AllowAll:
            # The default authorizer allows everything and reads nothing: building the request for it
            # would be pure cost. Any other authorizer (a subclass of AllowAll too) sees every request.
            return
        full: dict[str, Any] = {"kms:CallerAccount": self.caller.account}
        if self.caller.invoked_by:
            service = self.caller.invoked_by.split(".", 1)[0]
            full["kms:ViaService"] = f"{service}.{self.region}.amazonaws.com"
        if key is not None:
            full.update(self.key_context(key, request_alias))
        if callable(context):
            context = context()
        if context:
            full.update(context)
        authorizer.authorize(
            AuthorizationRequest(
                caller=self.caller,
                action=action,
                region=self.region,
                key_arn=None if key is None else key.arn,
                key_policy=None if key is None else key.policy,
                grants=tuple(key.grants.values()) if key is not None else (),
                grant_tokens=tuple(grant_tokens),
                context=full,
            )
        )

    def check_state(self, operation: str, key: Key) -> None:
        """Refuse the operation if the key's state does not allow it.

        Args:
            operation: the operation (or ReEncryptFrom/ReEncryptTo).
            key: the key.

        Raises:
            KmsError: DisabledException or KMSInvalidStateException, worded as AWS does.
        """
        error = state_error(operation, key.state, key.arn)
        if error is not None:
            raise error

    def dry_run(self, params: Mapping[str, Any]) -> None:
        """Stop a DryRun request that would have succeeded.

        Args:
            params: the request parameters.

        Raises:
            DryRunOperationException: DryRun is set.
        """
        if params.get("DryRun"):
            raise DryRunOperationException("The request would have succeeded, but the DryRun option is set.")

    def save(self, *keys: Key) -> None:
        """Queue keys to be written when the call commits.

        Args:
            *keys: changed keys.
        """
        for key in keys:
            self.dirty_keys[(key.region, key.key_id)] = key
            self.kms._note_deadlines(key)

    def save_alias(self, region: str, alias: Alias) -> None:
        """Queue an alias to be written when the call commits.

        Args:
            region: the alias's region.
            alias: the alias.
        """
        self.dirty_aliases[(region, alias.name)] = alias
