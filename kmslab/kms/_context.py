"""One request in flight: who asks, where, when, and the helpers every operation shares.

Operations receive a :class:`RequestContext` and the validated parameters; it carries
the endpoint's :class:`~kmslab.kms._registry.Registry` and authorizer. Operations
resolve keys through it (so the event records the key ARNs), authorize through it
(so every operation hands the authorizer the same facts), and queue writes on it
(so the engine commits them in one transaction).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kmslab.kms._records import Alias, Key, alias_arn, key_arn
from kmslab.kms._registry import Registry
from kmslab.kms._states import state_error
from kmslab.kms.errors import DryRunOperationException, NotFoundException
from kmslab.kms.seams import AllowAll, AuthorizationRequest, Authorizer, Caller
from kmslab.kms.service_events import ServiceEvent, ServiceEventHub

KEY_ID_RE = re.compile(r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$")
_KEY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/(.+)$")
_ALIAS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(alias/.+)$")


@dataclass(slots=True, init=False)
class RequestContext:
    """The state of one call.

    Args:
        registry: the endpoint's keys and aliases.
        authorizer: decides every request.
        service: where service events about keys are queued.
        account: the account that owns the endpoint.
        operation: the operation name.
        caller: who asks.
        region: the region of the request.
        now: the engine clock's time at the start of the call.
        request_id: the request ID.
    """

    registry: Registry
    authorizer: Authorizer
    service: ServiceEventHub
    account: str
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
        self,
        registry: Registry,
        authorizer: Authorizer,
        service: ServiceEventHub,
        account: str,
        operation: str,
        caller: Caller,
        region: str,
        now: datetime,
        request_id: str,
    ) -> None:
        self.registry = registry
        self.authorizer = authorizer
        self.service = service
        self.account = account
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
        key = self.registry.key(region or self.region, key_id)
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
        alias = self.registry.alias(self.region, name)
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
        return self.registry.aliases_of(key)

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
        authorizer = self.authorizer
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
            self.registry.note_deadlines(key)

    def add_key(self, key: Key) -> None:
        """Add a new key (or replica) to the registry, record its ARN, and queue it to be written.

        Args:
            key: the new key.
        """
        self.registry.add_key(key)
        self._note(key)
        self.save(key)

    def delete_key(self, key: Key) -> None:
        """Remove a key with its aliases, and queue the removal.

        Args:
            key: the key.
        """
        ref = (key.region, key.key_id)
        self.deleted_keys.append(ref)
        self.dirty_keys.pop(ref, None)
        for name in self.registry.delete_key(key):
            self.deleted_aliases.append((key.region, name))

    def put_alias(self, region: str, alias: Alias) -> None:
        """Add or repoint an alias, and queue it to be written when the call commits.

        Args:
            region: the alias's region.
            alias: the alias.
        """
        self.registry.put_alias(region, alias)
        self.dirty_aliases[(region, alias.name)] = alias

    def drop_alias(self, region: str, name: str) -> None:
        """Remove an alias, and queue the removal.

        Args:
            region: the alias's region.
            name: the alias name.
        """
        self.registry.drop_alias(region, name)
        self.dirty_aliases.pop((region, name), None)
        self.deleted_aliases.append((region, name))

    def service_event(self, key: Key, name: str, when: datetime, **details: str | None) -> None:
        """Queue a service event about a key (delivered once the call or sweep that caused it is done).

        Args:
            key: the key.
            name: the event name (DeleteKey, RotateKey, DeleteExpiredKeyMaterial).
            when: when it happened.
            **details: the event's extra fields (rotation type, key material IDs).
        """
        self.service.queue(
            lambda: ServiceEvent(when, name, key.region, key.account, key.key_id, key.arn, key.origin, **details)
        )
