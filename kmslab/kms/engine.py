"""The local KMS engine: AWS KMS key semantics, in process.

:class:`LocalKms` answers KMS API operations in their JSON wire shape. It keeps hot
state in memory (reads never touch the database), commits every change in one SQLite
transaction, evaluates time-based events (deletion, automatic rotation, imported
material expiry) lazily against its injectable clock, asks the authorizer before every
action, and hands one :class:`~kmslab.kms.seams.ApiCall` per call to its event sinks.

The engine only dispatches: its state is a :class:`~kmslab.kms._registry.Registry`, the
operations are the table in :mod:`kmslab.kms.ops`, the rules of passing time are in
:mod:`kmslab.kms._lifecycle`. This module builds them, answers :meth:`LocalKms.call`
(an operation's bug is caught and logged here, answered as KMSInternalException), commits
each call's changes and emits its record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kmslab.kms import _lifecycle, _usage, _validation
from kmslab.kms._context import RequestContext
from kmslab.kms._records import alias_to_doc, key_to_doc, uuid_text
from kmslab.kms._registry import Registry
from kmslab.kms._store import Store
from kmslab.kms.errors import KmsError, KMSInternalException, UnknownOperationException
from kmslab.kms.ops import OPERATIONS as _TABLE
from kmslab.kms.ops import READ_ONLY as _READ_ONLY
from kmslab.kms.ops import managed as _managed
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
from kmslab.kms.service_events import ServiceEventHub, ServiceSink

if TYPE_CHECKING:
    from botocore.client import BaseClient

log = logging.getLogger(__name__)


class LocalKms:
    """An AWS KMS endpoint in process.

    Args:
        data_dir: where to keep state (``kms.sqlite3``, ``root.key``); None keeps it in memory.
        account: the account that owns every key.
        region: the default region of requests.
        clock: the time source (default :class:`SystemClock`).
        authorizer: decides every request (default :class:`AllowAll`).
    """

    OPERATIONS: frozenset[str] = frozenset(_TABLE)
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
        self._usage = _usage.UsageLog()
        self._store = Store(data_dir)
        self.registry = Registry(
            grant_token_key=self._store.subkey(b"grant-token"), import_token_key=self._store.subkey(b"import-token")
        )
        key_docs, alias_docs = self._store.load()
        self.registry.load(key_docs, alias_docs, self._store.unseal)

    def __repr__(self) -> str:
        where = f"account={self.account!r}, region={self.region!r}"
        return f"LocalKms({where}, keys={len(self.registry)}, store={self._store!r})"

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
        """Move the engine's clock forward (when the clock supports it); whatever falls due happens at once.

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
        if self.registry.due(now):  # what fell due happens now (and its service events go out), not at the next call
            self._sweep(now)
        return now

    def aws_managed_key(self, service: str, region: str | None = None) -> str:
        """Return the ARN of the AWS managed key ``aws/<service>`` of a region, created on first use.

        Args:
            service: ``s3``, ``ssm`` or ``secretsmanager`` (see :mod:`kmslab.kms.ops.managed`).
            region: the region (default: the engine's).

        Returns:
            The key ARN.

        Raises:
            ValueError: the service has no AWS managed key.
        """
        region = region or self.region
        alias = self.registry.alias(region, f"alias/aws/{service}")
        key = self.registry.key(region, alias.target_key_id) if alias is not None else None
        if key is not None:
            return key.arn
        with self._lock:
            ctx = self._context("CreateAwsManagedKey", Caller.root(self.account), region, self.clock.now(), "managed")
            key = _managed.ensure_managed_key(ctx, service)
            self._commit(ctx)
        return key.arn

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

    def subkey(self, purpose: bytes) -> bytes:
        """A 32-byte key derived from the store's root key for one purpose (never stored).

        Args:
            purpose: A label that no other user of the root key shares.

        Returns:
            The derived key.
        """
        return self._store.subkey(purpose)

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
        entry = _TABLE.get(operation)
        if entry is None:
            raise UnknownOperationException(f"Unknown operation {operation}")
        if operation == "DescribeKey":  # DescribeKey on a predefined alias (alias/aws/s3) creates the AWS managed key
            service = _managed.predefined_service(params.get("KeyId"), region or self.region, self.account)
            if service is not None:
                self.aws_managed_key(service, region)
        now = self.clock.now()
        ctx = self._context(
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
            if self.registry.due(now):
                self._sweep(now)
            parsed = _validation.parse_request(operation, params)
            if entry.read_only:
                response = entry.handler(ctx, parsed)
            else:
                with self._lock:
                    response = entry.handler(ctx, parsed)
                    self._commit(ctx)
            if operation in _usage.TRACKED:
                event_id = _usage.new_event_number()  # the call's CloudTrail eventID, as text only when read
                if self._usage.note(self.registry, ctx, event_id):
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

    # -- internals --------------------------------------------------------------------------

    def _context(self, operation: str, caller: Caller, region: str, now: datetime, request_id: str) -> RequestContext:
        return RequestContext(
            self.registry, self._authorizer, self._service, self.account, operation, caller, region, now, request_id
        )

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

    def _flush_usage_quietly(self) -> None:
        try:
            with self._lock:
                self._flush_usage()
        except Exception:  # the call itself succeeded; the stamps are written with the next change
            log.exception("could not write last-usage records")

    def _flush_usage(self) -> None:
        """Write the keys whose last usage changed since the last write (under the lock)."""
        refs = self._usage.take()
        keys = [key for ref in refs if (key := self.registry.key(*ref)) is not None]
        if keys:
            self._store.write(keys=[key_to_doc(key, self._store.seal) for key in keys])

    def _commit(self, ctx: RequestContext) -> None:
        if self._usage:
            for ref in self._usage.take():
                key = self.registry.key(*ref)
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

    def _sweep(self, now: datetime) -> None:
        """Apply every time-based event that is due (see :mod:`kmslab.kms._lifecycle`), in one transaction."""
        with self._lock:
            if self.registry.due(now):  # another call may have swept while this one waited for the lock
                ctx = self._context("Sweep", Caller.root(self.account), self.region, now, "sweep")
                _lifecycle.sweep(ctx)
                self._commit(ctx)
        if self._service.pending:
            self._service.deliver()
