"""Compose the local cloud: identities, the KMS engine, S3, STS, moto, the gateway and its server."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from kmslab.cloud.alerts import AlertPath, attach_alerts
from kmslab.cloud.cloudtrail.wiring import cloudtrail_service, connect_logs, with_data_events
from kmslab.cloud.config import CloudConfig
from kmslab.cloud.gateway import Gateway
from kmslab.cloud.gateway.clock import ClockRoute
from kmslab.cloud.server import CloudServer
from kmslab.cloud.services.docstore import DocStore
from kmslab.cloud.services.kms import KmsService
from kmslab.cloud.services.managed_keys import ManagedKeys
from kmslab.cloud.services.moto_iam import MotoIamIdentities
from kmslab.cloud.services.motobridge import MOTO_SERVICES, MotoBridge, cloud_started, cloud_stopped
from kmslab.cloud.services.secrets import SecretsService
from kmslab.cloud.services.ssm import SsmService
from kmslab.cloud.services.sts import StsService
from kmslab.iam import CloudIdentities, KmsAuthorizer, load_cloud_identities
from kmslab.iam.defaults import ensure_default_identities
from kmslab.kms import LocalKms
from kmslab.kms.control import load_or_create_token
from kmslab.trail import TrailRecorder

#: services the cloud implements itself, with state in the data directory
PERSISTENT = ("kms", "s3", "ssm", "secretsmanager", "identities", "cloudtrail")
#: services whose state moto keeps in memory only (lost on down / kill)
MEMORY_ONLY = tuple(s for s in MOTO_SERVICES if s not in PERSISTENT)


@dataclass
class LocalCloud:
    """A built local cloud.

    Args:
        config: its settings.
        identities: who may sign.
        kms: the KMS engine.
        gateway: the WSGI application.
        server: the HTTP(S) server.
        closers: what to close on stop.
        recorder: the CloudTrail recorder of KMS calls (``<data-dir>/trail``).
        alerts: the alert path (EventBridge delivery, Lambda runtime).
    """

    config: CloudConfig
    identities: CloudIdentities
    kms: LocalKms
    gateway: Gateway
    server: CloudServer
    closers: list[Any] = field(default_factory=list)
    recorder: TrailRecorder | None = None
    alerts: AlertPath | None = None

    @property
    def url(self) -> str:
        """The endpoint URL."""
        return self.server.url()

    def start(self) -> LocalCloud:
        """Start serving.

        Returns:
            The cloud.
        """
        self.server.start()
        cloud_started()
        return self

    def stop(self) -> None:
        """Stop serving and close every store (the CloudTrail recorder flushes its last records)."""
        self.server.stop()
        if self.recorder is not None:  # deliver the last records to trails while KMS and S3 are open
            with contextlib.suppress(OSError):  # not folded: the journal keeps them for the close below
                self.recorder.flush()
        self.kms.close()
        for close in reversed(self.closers):
            close()
        cloud_stopped()


def build_cloud(config: CloudConfig, *, verbose: bool = False, warm_moto: bool = True) -> LocalCloud:
    """Build (not start) the local cloud on ``config``.

    Args:
        config: the settings.
        verbose: log one line per request.
        warm_moto: import moto on a background thread now.

    Returns:
        The cloud.

    Raises:
        IdentityFileError: the identities file is malformed.
        OSError: the port is busy.
    """
    from kmslab.cloud.athena.service import AthenaService
    from kmslab.cloud.s3 import S3Service
    from kmslab.kms._clockfile import SavedOffsetClock

    config.data_dir.mkdir(parents=True, exist_ok=True)
    if config.identities is None:
        ensure_default_identities(config.identities_file, config.account)
    identities = load_cloud_identities(config.identities_file)
    account = identities.account
    config.kms_dir.mkdir(parents=True, exist_ok=True)
    kms = LocalKms(
        config.kms_dir,
        account=account,
        region=config.region,
        clock=SavedOffsetClock(str(config.kms_dir)),
        authorizer=KmsAuthorizer(identities),
    )
    closers: list[Any] = []
    try:
        # CloudTrail records of every KMS call, direct or made by a service on a caller's behalf
        # (invokedBy), as log files under <data-dir>/trail until the next issue delivers trails to S3.
        recorder = TrailRecorder(config.data_dir / "trail", account=account, flush_interval=1.0)
        closers.append(recorder.close)
        kms.add_sink(recorder)
        docs = DocStore(config.data_dir / "services.sqlite3")
        closers.append(docs.close)
        managed = ManagedKeys(kms, account)
        s3 = S3Service(
            config.s3_dir, kms=kms, identities=identities, account=account, region=config.region, managed=managed
        )
        closers.append(s3.close)
        bridge = MotoBridge(identities, account)
        identities.add_source(MotoIamIdentities(account))
        services: dict[str, Any] = {name: bridge.service(name) for name in MOTO_SERVICES}
        services.update(
            {
                "kms": KmsService(kms),
                "sts": StsService(identities),
                "s3": s3,
                "ssm": SsmService(docs, managed, kms=kms, identities=identities, account=account),
                "secretsmanager": SecretsService(docs, managed, kms=kms, identities=identities, account=account),
                "athena": AthenaService(docs, s3, kms=kms, identities=identities, account=account),
                "cloudtrail": cloudtrail_service(
                    docs=docs, kms=kms, identities=identities, account=account, s3=s3, recorder=recorder
                ),
            }
        )
        # object-level S3 calls become CloudTrail data events when a logging trail selects them
        services["s3"] = with_data_events(services["cloudtrail"], s3, recorder)
        # the alert path: EventBridge delivery of the trail's events, Lambda Invoke, SNS, metric alarms
        alerts = attach_alerts(
            identities=identities, account=account, kms=kms, data_dir=config.data_dir, recorder=recorder,
            moto_services=services,
            endpoint=lambda: server.url(), ca_bundle=lambda: ca_file,
        )  # fmt: skip
        closers.append(alerts.close)
        services.update(alerts.services)
        if alerts.put_logs is not None:  # a trail with a CloudWatch Logs group delivers there, to its metric filters
            connect_logs(services["cloudtrail"], alerts.put_logs)
        gateway = Gateway(
            clock=ClockRoute(kms, load_or_create_token(config.data_dir)),
            identities=identities,
            services=services,
            region=config.region,
            stats={"s3": s3.stats},
            info={
                "account": account,
                "region": config.region,
                "tls": config.tls,
                "persistent": list(PERSISTENT),
                "memory_only": [s for s in MEMORY_ONLY if s != "athena"] + ["sts sessions", "athena query executions"],
                "trail_dir": str(config.data_dir / "trail"),
            },
        )
        context = None
        ca_file: str | None = None
        if config.tls:
            from kmslab.cloud.tls import ensure_certificates, server_context

            ca, cert, key = ensure_certificates(config.tls_dir, config.host)
            # absolute: Lambda workers run in their code folder, so a path relative to the data dir would not resolve
            ca_file = str(ca.resolve())
            context = server_context(cert, key)
        server = CloudServer(gateway, host=config.host, port=config.port, ssl_context=context, verbose=verbose)
    except BaseException:
        for close in reversed(closers):
            close()
        kms.close()
        raise
    if warm_moto:
        threading.Thread(target=bridge.warm_up, name="kmslab-moto-import", daemon=True).start()
    return LocalCloud(config, identities, kms, gateway, server, closers, recorder, alerts)
