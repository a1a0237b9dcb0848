"""The local KMS engine: AWS KMS key semantics, in process.

:class:`LocalKms` answers KMS API operations in their JSON wire shape. It keeps hot
state in memory (reads never touch the database), commits every change in one SQLite
transaction, evaluates time-based events (deletion, automatic rotation, imported
material expiry) lazily against its injectable clock, asks the authorizer before every
action, and hands one :class:`~kmslab.kms.seams.ApiCall` per call to its event sinks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kmslab.kms import _model, _usage
from kmslab.kms._context import RequestContext
from kmslab.kms._keys import Alias, Key, alias_from_doc, alias_to_doc, key_from_doc, key_to_doc, uuid_text
from kmslab.kms._ops_agreement import OPS as _AGREEMENT_OPS
from kmslab.kms._ops_crypto import OPS as _CRYPTO_OPS
from kmslab.kms._ops_custom_stores import OPS as _CUSTOM_STORE_OPS
from kmslab.kms._ops_grants import OPS as _GRANT_OPS
from kmslab.kms._ops_import import OPS as _IMPORT_OPS
from kmslab.kms._ops_keys import OPS as _KEY_OPS
from kmslab.kms._ops_rotation import OPS as _ROTATION_OPS
from kmslab.kms._ops_rotation import rotate
from kmslab.kms._store import Store
from kmslab.kms.errors import KmsError, KMSInternalException, UnknownOperationException
from kmslab.kms.seams import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    AllowAll,
    ApiCall,
    Authorizer,
    Caller,
    Clock,
    EventSink,
    SystemClock,
)
from kmslab.kms.service_events import (
    DELETE_EXPIRED_KEY_MATERIAL,
    DELETE_KEY,
    ROTATE_KEY,
    ServiceEvent,
    ServiceEventHub,
    ServiceSink,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient

log = logging.getLogger(__name__)

Operation = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]

_OPERATIONS: dict[str, Operation] = {
    **_KEY_OPS,
    **_ROTATION_OPS,
    **_CRYPTO_OPS,
    **_AGREEMENT_OPS,
    **_GRANT_OPS,
    **_IMPORT_OPS,
    **_CUSTOM_STORE_OPS,
}

# Operations that change nothing: they run without the engine lock.
_READ_ONLY = frozenset(
    {
        "DescribeKey",
        "ListKeys",
        "ListAliases",
        "ListResourceTags",
        "GetKeyPolicy",
        "ListKeyPolicies",
        "ListGrants",
        "ListRetirableGrants",
        "GetKeyRotationStatus",
        "ListKeyRotations",
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateRandom",
        "Sign",
        "Verify",
        "GenerateMac",
        "VerifyMac",
        "GetPublicKey",
        "GetParametersForImport",
        "DeriveSharedSecret",
        "Encapsulate",
        "Decapsulate",
        "GetKeyLastUsage",
        "DescribeCustomKeyStores",
    }
)


class LocalKms:
    """An AWS KMS endpoint in process.

    Args:
        data_dir: where to keep state (``kms.sqlite3``, ``root.key``); None keeps it in memory.
        account: the account that owns every key.
        region: the default region of requests.
        clock: the time source (default :class:`SystemClock`).
        authorizer: decides every request (default :class:`AllowAll`).
    """

    OPERATIONS: frozenset[str] = frozenset(_OPERATIONS)
    #: operations that change no key: run without the engine lock, and CloudTrail marks them ``readOnly``.
    READ_ONLY: frozenset[str] = _READ_ONLY

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        account: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        clock: Clock | None = None,
        authorizer: Authorizer | None = None,
    ) -> None:
        self.account = account
        self.region = region
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._authorizer: Authorizer = authorizer if authorizer is not None else AllowAll()
        self._lock = threading.RLock()
        self._sinks: list[EventSink] = []
        self._service = ServiceEventHub()
        self._keys: dict[tuple[str, str], Key] = {}
        self._aliases: dict[tuple[str, str], Alias] = {}
        self._alias_index: dict[tuple[str, str], set[str]] = {}
        self._next_deadline: datetime | None = None
        self._usage = _usage.UsageLog()
        self._store = Store(data_dir)
        self._grant_token_key = self._store.subkey(b"grant-token")
        self._import_token_key = self._store.subkey(b"import-token")
        key_docs, alias_docs = self._store.load()
        for doc in key_docs:
            key = key_from_doc(doc, self._store.unseal)
            self._keys[(key.region, key.key_id)] = key
            self._note_deadlines(key)
        for region, doc in alias_docs:
            self._put_alias(region, alias_from_doc(doc))

    def __repr__(self) -> str:
        return (
            f"LocalKms(account={self.account!r}, region={self.region!r}, keys={len(self._keys)}, store={self._store!r})"
        )

    # -- public API -------------------------------------------------------------------------

    @property
    def authorizer(self) -> Authorizer:
        """The authorizer every request goes through."""
        return self._authorizer

    @authorizer.setter
    def authorizer(self, value: Authorizer) -> None:
        self._authorizer = value

    def add_sink(self, sink: EventSink) -> None:
        """Hand every later call to ``sink``.

        Sinks run before the call is answered. A sink that raises a :class:`KmsError` (the CloudTrail
        journal could not keep the record) turns the answer into that error; other failures are logged.

        Args:
            sink: a callable taking one :class:`ApiCall`.
        """
        with self._lock:
            self._sinks = [*self._sinks, sink]

    def remove_sink(self, sink: EventSink) -> None:
        """Stop handing calls to ``sink`` (no error if it was not added).

        Args:
            sink: a sink passed to :meth:`add_sink`.
        """
        with self._lock:
            self._sinks = [s for s in self._sinks if s != sink]

    def add_service_sink(self, sink: ServiceSink) -> None:
        """Hand every later KMS service event (DeleteKey, RotateKey, DeleteExpiredKeyMaterial) to ``sink``.

        Args:
            sink: a callable taking one :class:`~kmslab.kms.service_events.ServiceEvent`.
        """
        self._service.add(sink)

    def remove_service_sink(self, sink: ServiceSink) -> None:
        """Stop handing service events to ``sink`` (no error if it was not added).

        Args:
            sink: a sink passed to :meth:`add_service_sink`.
        """
        self._service.remove(sink)

    def advance_time(self, delta: timedelta) -> datetime:
        """Move the engine's clock forward (when the clock supports it).

        Args:
            delta: how far.

        Returns:
            The new time.

        Raises:
            TypeError: the clock cannot be advanced.
        """
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError(f"{type(self.clock).__name__} cannot be advanced")
        now: datetime = advance(delta)
        return now

    def boto3_client(self, region: str = DEFAULT_REGION, **kwargs: Any) -> BaseClient:
        """Return a real boto3 KMS client whose requests this engine answers in process.

        Args:
            region: the client's region.
            **kwargs: passed to :func:`kmslab.kms._boto.make_client` (``caller``, ``parameter_validation``).

        Returns:
            A botocore KMS client.
        """
        from kmslab.kms._boto import make_client

        return make_client(self, region=region, **kwargs)

    def close(self) -> None:
        """Write pending last-usage records and release the database."""
        with self._lock:
            self._flush_usage()
            self._store.close()

    def call(
        self,
        operation: str,
        params: Mapping[str, Any],
        *,
        caller: Caller | None = None,
        region: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Answer one KMS API request.

        Args:
            operation: the operation, e.g. ``Encrypt``.
            params: the request in JSON wire shape (blobs base64, timestamps epoch seconds).
            caller: who asks (default: the account root).
            region: the request's region (default: the engine's).
            request_id: the request ID (default: a new UUID).

        Returns:
            The response in JSON wire shape.

        Raises:
            KmsError: the AWS error for this request.
        """
        handler = _OPERATIONS.get(operation)
        if handler is None:
            raise UnknownOperationException(f"Unknown operation {operation}")
        now = self.clock.now()
        ctx = RequestContext(
            self,
            operation,
            caller if caller is not None else Caller.root(self.account),
            region or self.region,
            now,
            request_id or _usage.new_request_id(),
        )
        response: dict[str, Any] | None = None
        error: KmsError | None = None
        event_id: int | None = None
        try:
            if self._next_deadline is not None and now >= self._next_deadline:
                self._sweep(now)
            parsed = _model.parse_request(operation, params)
            if operation in _READ_ONLY:
                response = handler(ctx, parsed)
            else:
                with self._lock:
                    response = handler(ctx, parsed)
                    self._commit(ctx)
            if operation in _usage.TRACKED:
                event_id = _usage.new_event_number()  # the call's CloudTrail eventID, as text only when read
                if self._usage.note(self._keys, ctx, event_id):
                    self._flush_usage_quietly()
        except KmsError as exc:
            error = exc
        except Exception:
            log.exception("internal error in %s (request %s)", operation, ctx.request_id)
            error = KMSInternalException("An internal error occurred.")
        if self._service.pending:
            self._service.deliver()
        if self._sinks:
            self._emit(ctx, params, response, error, event_id)
        if error is not None:
            raise error
        assert response is not None
        return response

    # -- internals used by operations -----------------------------------------------------

    def _emit(
        self,
        ctx: RequestContext,
        params: Mapping[str, Any],
        response: dict[str, Any] | None,
        error: KmsError | None,
        event_id: int | None = None,
    ) -> None:
        if not self._sinks:
            return
        record = ApiCall(
            event_time=ctx.now,
            operation=ctx.operation,
            region=ctx.region,
            account=self.account,
            caller=ctx.caller,
            request_id=ctx.request_id,
            request=params,
            response=response,
            error_code=None if error is None else error.code,
            error_message=None if error is None else error.message,
            key_arns=tuple(ctx.key_arns),
            event_id=None if event_id is None else uuid_text(event_id),
        )
        refusal: KmsError | None = None
        for sink in self._sinks:
            try:
                sink(record)
            except KmsError as exc:  # a durable sink (the CloudTrail journal) could not keep the record
                refusal = refusal or exc
            except Exception:
                log.exception("event sink %r failed on %s", sink, ctx.operation)
        if refusal is not None:  # answer only calls whose record is kept: this one is not acknowledged
            raise refusal

    def _service_event(self, key: Key, name: str, when: datetime, **details: str | None) -> None:
        """Queue a service event about a key (delivered once the call or sweep that caused it is done)."""
        self._service.queue(
            lambda: ServiceEvent(when, name, key.region, key.account, key.key_id, key.arn, key.origin, **details)
        )

    def _flush_usage_quietly(self) -> None:
        try:
            with self._lock:
                self._flush_usage()
        except Exception:  # the call itself succeeded; the stamps are written with the next change
            log.exception("could not write last-usage records")

    def _flush_usage(self) -> None:
        """Write the keys whose last usage changed since the last write (under the lock)."""
        refs = self._usage.take()
        keys = [self._keys[ref] for ref in refs if ref in self._keys]
        if keys:
            self._store.write(keys=[key_to_doc(key, self._store.seal) for key in keys])

    def _commit(self, ctx: RequestContext) -> None:
        if self._usage:
            for ref in self._usage.take():
                key = self._keys.get(ref)
                if key is not None and ref not in ctx.deleted_keys:
                    ctx.dirty_keys.setdefault(ref, key)
        if not (ctx.dirty_keys or ctx.deleted_keys or ctx.dirty_aliases or ctx.deleted_aliases):
            return
        self._store.write(
            keys=[key_to_doc(key, self._store.seal) for key in ctx.dirty_keys.values()],
            deleted_keys=ctx.deleted_keys,
            aliases=[(region, alias_to_doc(alias)) for (region, _), alias in ctx.dirty_aliases.items()],
            deleted_aliases=ctx.deleted_aliases,
        )

    def _put_alias(self, region: str, alias: Alias) -> None:
        old = self._aliases.get((region, alias.name))
        if old is not None:
            self._alias_index.get((region, old.target_key_id), set()).discard(alias.name)
        self._aliases[(region, alias.name)] = alias
        self._alias_index.setdefault((region, alias.target_key_id), set()).add(alias.name)

    def _drop_alias(self, region: str, name: str) -> None:
        old = self._aliases.pop((region, name), None)
        if old is not None:
            self._alias_index.get((region, old.target_key_id), set()).discard(name)

    def _note_deadlines(self, key: Key) -> None:
        """Remember the earliest time-based event of a key (deletion, rotation, expiry)."""
        rotating = key.rotation_enabled and key.state == "Enabled"
        candidates = [key.deletion_date, key.next_rotation if rotating else None, key.updating_until]
        candidates += [b.valid_to for b in key.backing if b.material is not None and b.valid_to is not None]
        for when in candidates:
            if when is not None and (self._next_deadline is None or when < self._next_deadline):
                self._next_deadline = when

    def _sweep(self, now: datetime) -> None:
        """Apply every time-based event that is due: deletions, rotations, material expiry."""
        with self._lock:
            ctx = RequestContext(self, "Sweep", Caller.root(self.account), self.region, now, "sweep")
            self._next_deadline = None
            for key in list(self._keys.values()):
                if (key.region, key.key_id) not in self._keys:
                    continue
                if key.deletion_date is not None and key.deletion_date <= now:
                    self._delete_key(ctx, key)
                    self._service_event(key, DELETE_KEY, key.deletion_date)
                    continue
                changed = False
                if key.updating_until is not None and key.updating_until <= now:
                    key.updating_until = None
                    if key.state == "Updating":
                        key.state = "Enabled"
                    changed = True
                for backing in key.backing:
                    if backing.material is not None and backing.valid_to is not None and backing.valid_to <= now:
                        backing.material = None
                        changed = True
                        self._service_event(
                            key, DELETE_EXPIRED_KEY_MATERIAL, backing.valid_to, key_material_id=backing.material_id
                        )
                if changed and not key.all_imported and key.state in ("Enabled", "Disabled"):
                    key.state = "PendingImport"
                guard = 0
                while (
                    key.rotation_enabled
                    and key.state == "Enabled"
                    and key.next_rotation is not None
                    and key.next_rotation <= now
                    and key.rotation_period_days
                    and guard < 1000
                ):
                    previous = key.current_entry
                    new = rotate(ctx, key, "AUTOMATIC", key.next_rotation)
                    self._service_event(
                        key,
                        ROTATE_KEY,
                        key.next_rotation,
                        rotation_type="AUTOMATIC",
                        key_material_id=new.material_id,
                        previous_key_material_id=previous.material_id if previous else None,
                    )
                    key.next_rotation += timedelta(days=key.rotation_period_days)
                    changed = True
                    guard += 1
                if changed:
                    ctx.save(key)
            for key in self._keys.values():
                self._note_deadlines(key)
            self._commit(ctx)
        if self._service.pending:
            self._service.deliver()

    def _delete_key(self, ctx: RequestContext, key: Key) -> None:
        """Remove a key whose waiting period is over, with its aliases."""
        self._keys.pop((key.region, key.key_id), None)
        ctx.deleted_keys.append((key.region, key.key_id))
        ctx.dirty_keys.pop((key.region, key.key_id), None)
        for name in list(self._alias_index.pop((key.region, key.key_id), set())):
            self._aliases.pop((key.region, name), None)
            ctx.deleted_aliases.append((key.region, name))
        if key.is_replica and key.primary_region is not None:
            primary = self._keys.get((key.primary_region, key.key_id))
            if primary is not None:
                primary.replica_regions = [r for r in primary.replica_regions if r != key.region]
                if primary.state == "PendingReplicaDeletion" and not primary.replica_regions:
                    primary.state = "PendingDeletion"
                    base = key.deletion_date or ctx.now
                    primary.deletion_date = base + timedelta(days=primary.pending_window_days or 30)
                ctx.save(primary)
