"""Compose the offline stand-ins: the local KMS endpoint, its CloudTrail recorder and its identities.

The one place that puts the pieces together, used by ``kmslab kms serve`` and by the offline lab,
so both run exactly the same endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kmslab.kms.seams import DEFAULT_ACCOUNT, DEFAULT_REGION, EventSink

if TYPE_CHECKING:
    from kmslab.kms.authz import IdentityStore
    from kmslab.kms.server import KmsServer
    from kmslab.trail import TrailRecorder
    from kmslab.trail.journal import SyncPolicy


@dataclass
class LocalEndpoint:
    """A built (not yet started) local KMS endpoint and the parts attached to it.

    Args:
        server: the HTTP server around the engine.
        recorder: the CloudTrail recorder, when a trail directory was given.
        identities: the identity store, when an identities file was given.
    """

    server: KmsServer
    recorder: TrailRecorder | None = None
    identities: IdentityStore | None = field(default=None, repr=False)


def build_endpoint(
    *,
    data_dir: str | Path | None,
    host: str = "127.0.0.1",
    port: int = 0,
    region: str = DEFAULT_REGION,
    account: str | None = None,
    trail_dir: str | Path | None = None,
    identities: str | Path | IdentityStore | None = None,
    flush_interval: float = 5.0,
    trail_sync: SyncPolicy = "write",
    sinks: tuple[EventSink, ...] = (),
    verbose: bool = False,
) -> LocalEndpoint:
    """Build the local KMS endpoint with the optional CloudTrail recorder and SigV4 identities.

    Args:
        data_dir: where keys persist; None keeps them in memory.
        host: the address to listen on.
        port: the port; 0 picks a free one.
        region: the region of requests that are not signed.
        account: the account that owns the keys; defaults to the identities file's account, else
            111122223333.
        trail_dir: with a directory, every call is written there as CloudTrail log files, and the
            endpoint also answers CloudTrail ``LookupEvents`` over those records.
        identities: an identities file (or a loaded store): requests must then be signed (SigV4)
            with one of its access keys, and key policies, IAM policies and grants decide every call.
            Without it, every caller acts as the account root.
        flush_interval: the longest a CloudTrail record waits in the trail journal before it is in a log file, in s.
        trail_sync: when a call is answered: once its CloudTrail record is written to the trail journal
            (``write``: it survives the process being killed, and is synced to disk within 50 ms) or
            also synced (``fsync``: it survives a power loss, at a cost in throughput).
        sinks: more event sinks for the engine.
        verbose: log one line per request to stderr.

    Returns:
        The endpoint; start it with ``endpoint.server.start()`` or ``serve_forever()``.

    Raises:
        IdentityFileError: the identities file is malformed, or names another account than ``account``.
        OSError: the port is busy.
    """
    from kmslab.kms.server import build_server

    store = None
    authorizer = None
    resolver = None
    if identities is not None:
        from kmslab.kms.authz import IdentityFileError, IdentityStore, KmsAuthorizer, SigV4Resolver, load_identities

        store = identities if isinstance(identities, IdentityStore) else load_identities(identities)
        if account is not None and account != store.account:
            raise IdentityFileError(
                f"the identities file is for account {store.account}, but the endpoint serves account {account}"
            )
        account = store.account
        authorizer = KmsAuthorizer(store)
        resolver = SigV4Resolver(store)
    account = account or DEFAULT_ACCOUNT

    recorder = None
    on_close: tuple[Callable[[], None], ...] = ()
    all_sinks = tuple(sinks)
    if trail_dir is not None:
        from kmslab.trail import TrailRecorder

        recorder = TrailRecorder(trail_dir, account=account, flush_interval=flush_interval, sync=trail_sync)
        all_sinks = (recorder, *all_sinks)
        on_close = (recorder.close,)
    try:
        server = build_server(
            data_dir=str(data_dir) if data_dir is not None else None,
            host=host,
            port=port,
            region=region,
            account=account,
            sinks=all_sinks,
            authorizer=authorizer,
            identity_resolver=resolver,
            on_close=on_close,
            verbose=verbose,
        )
    except BaseException:
        if recorder is not None:
            recorder.close()
        raise
    if recorder is not None:
        from kmslab.trail import TARGET_PREFIX, lookup_service
        from kmslab.trail.events import attach_service_events

        server.add_service(TARGET_PREFIX, lookup_service(recorder, identities=store))
        # KMS's own events (deletion at the end of a waiting period, automatic rotation, expired material)
        attach_service_events(server.kms, recorder)
    return LocalEndpoint(server=server, recorder=recorder, identities=store)
