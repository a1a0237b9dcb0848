"""The lab's local cloud: started in this process on a free port, the kit deployed, signed as the workshop identities.

The cloud is :func:`kmslab.cloud.local.build_cloud` (what ``kmslab local up`` serves), the kit is
deployed by :func:`kmslab.cloud.deploy.run.deploy` (what ``kmslab local deploy`` runs), and the
data directory gets the same pid and state files as ``kmslab local up`` writes, so
``kmslab local env/status/down --data-dir DIR`` work on the lab's cloud while it runs.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kmslab.errors import KmslabError

#: who the lab signs as: the workshop identities of chapter 1
WHO = ("admin", "alice", "bob", "auditor")
#: the kit's roles the role profiles assume (``role_arn`` + ``source_profile admin``, as in chapter 1)
ROLE_OF = {"alice": "kmslab-key-user", "auditor": "kmslab-auditor"}
#: a file that marks a directory as the lab's own, so a new run may empty it
MARKER = ".kmslab-lab"
REGION = "us-east-1"


class LabCloudError(KmslabError):
    """The lab's local cloud could not be started or the kit not deployed (one line for the CLI)."""


@dataclass
class Clock:
    """The local cloud's clock (the KMS engine's, as ``kmslab local advance-time`` moves it)."""

    kms: Any

    def now(self) -> datetime:
        """The cloud's current time."""
        now: datetime = self.kms.clock.now()
        return now

    def advance(self, delta: timedelta) -> datetime:
        """Move the cloud's clock forward.

        Args:
            delta: how far.

        Returns:
            The new time.
        """
        moved: datetime = self.kms.advance_time(delta)
        return moved


@dataclass
class LabCloud:
    """A running local cloud with the kit deployed.

    Args:
        cloud: the in-process cloud (:class:`kmslab.cloud.local.LocalCloud`).
        data_dir: its data directory.
        identities: the identities file's data (access keys of admin, alice, bob, auditor).
        stacks: the deployed stacks' records by name.
    """

    cloud: Any
    data_dir: Path
    identities: dict[str, Any] = field(repr=False)
    stacks: dict[str, Any] = field(default_factory=dict, repr=False)
    _sessions: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        """The endpoint URL."""
        return str(self.cloud.url)

    @property
    def account(self) -> str:
        """The account."""
        return str(self.identities.get("account", "111122223333"))

    @property
    def ca_file(self) -> str:
        """The CA bundle clients trust."""
        return str((self.data_dir / "tls" / "ca.pem").resolve())

    @property
    def clock(self) -> Clock:
        """The cloud's clock."""
        return Clock(self.cloud.kms)

    def _user_credentials(self, who: str) -> dict[str, str]:
        for item in self.identities.get("identities", []):
            if str(item.get("arn", "")).rsplit("/", 1)[-1] == who:
                return {
                    "aws_access_key_id": str(item["access_key_id"]),
                    "aws_secret_access_key": str(item["secret_access_key"]),
                }
        raise LabCloudError(f"the local cloud has no identity named {who!r}")

    def credentials(self, who: str) -> dict[str, str]:
        """Credentials of a workshop identity: a user's access key, or a role session assumed by admin.

        Args:
            who: ``admin``, ``alice``, ``bob`` or ``auditor``.

        Returns:
            boto3 credential keyword arguments.
        """
        if who not in ROLE_OF:
            return self._user_credentials(who)
        if who not in self._sessions:
            sts = self.client("sts", "admin")
            role = f"arn:aws:iam::{self.account}:role/{ROLE_OF[who]}"
            got = sts.assume_role(RoleArn=role, RoleSessionName=who)["Credentials"]
            self._sessions[who] = {
                "aws_access_key_id": got["AccessKeyId"],
                "aws_secret_access_key": got["SecretAccessKey"],
                "aws_session_token": got["SessionToken"],
            }
        return dict(self._sessions[who])

    def client(self, service: str, who: str = "admin", *, region: str = REGION) -> Any:
        """A boto3 client pointed at the cloud, signed as a workshop identity.

        Args:
            service: the boto3 service name.
            who: the identity.
            region: the Region it signs for.

        Returns:
            The client.
        """
        import boto3
        from botocore.config import Config

        config = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60)
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            verify=self.ca_file,
            config=config,
            **self.credentials(who),
        )

    def resource(self, stack: str, prefix: str) -> str:
        """The physical ID of a deployed resource whose logical ID starts with ``prefix``.

        Args:
            stack: the stack name (``KmslabStorage``).
            prefix: the logical ID without the CDK's hash (``DataBucket``).

        Returns:
            The physical ID.

        Raises:
            LabCloudError: the stack or resource was not deployed.
        """
        record = self.stacks.get(stack)
        found = [r for lid, r in (record.resources.items() if record else []) if lid.startswith(prefix)]
        if not found:
            raise LabCloudError(f"the kit has no {prefix} in {stack}: was it deployed?")
        return str(found[0].physical_id)

    def stop(self) -> None:
        """Stop the cloud and release the data directory."""
        from kmslab.cloud import daemon
        from kmslab.cloud.config import CloudConfig

        try:
            self.cloud.stop()
        finally:
            daemon.release(CloudConfig(data_dir=self.data_dir))


def prepare_data_dir(data_dir: Path) -> None:
    """Empty the lab's data directory for a fresh run (only a directory the lab made, or an empty one).

    Args:
        data_dir: the directory.

    Raises:
        LabCloudError: a local cloud still runs there, or the directory holds files the lab did not make.
    """
    from kmslab.cloud import daemon
    from kmslab.cloud.config import CloudConfig

    running = daemon.read_state(CloudConfig(data_dir=data_dir))
    if running is not None:
        raise LabCloudError(
            f"a local cloud still runs on {data_dir} (pid {running['pid']}): "
            f"stop it with 'kmslab local down --data-dir {data_dir}'"
        )
    if data_dir.exists():
        if any(data_dir.iterdir()) and not (data_dir / MARKER).exists():
            raise LabCloudError(f"{data_dir} is not empty and is not a lab directory: choose another --data-dir")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    (data_dir / MARKER).write_text("kmslab lab run: this directory is emptied at the start of each run\n")


def assembly_for(app: Path, root: Path, say: Callable[[str], None]) -> Any:
    """The kit's cloud assembly, synthesized first when it is missing or older than the sources.

    Args:
        app: the assembly directory (``cdk.out``).
        root: the project root.
        say: prints one line.

    Returns:
        The :class:`~kmslab.cloud.deploy.assembly.Assembly`.

    Raises:
        LabCloudError: synthesis is needed and fails (e.g. no Node.js), or the assembly is damaged.
    """
    from kmslab.cloud.deploy.assembly import Assembly
    from kmslab.cloud.deploy.errors import DeployError
    from kmslab.cloud.deploy.run import needs_synth, synthesize

    try:
        if needs_synth(app, root, {}):
            say(f"synthesizing {app} (npx cdk synth)…")
            started = time.monotonic()
            synthesize(app, root, {})
            say(f"synthesized in {time.monotonic() - started:.1f} s")
        return Assembly.read(app)
    except DeployError as exc:
        raise LabCloudError(str(exc)) from None


def start(data_dir: Path, assembly: Any, root: Path, say: Callable[[str], None]) -> LabCloud:
    """Start the cloud on a free port in ``data_dir`` and deploy every stack of ``assembly`` as admin.

    Args:
        data_dir: the (prepared) data directory.
        assembly: the kit's assembly.
        root: the project root (the pinned CDK CLI's bootstrap version).
        say: prints one line.

    Returns:
        The running cloud.

    Raises:
        LabCloudError: the cloud did not start or the deploy failed.
    """
    import os

    from kmslab.cloud import daemon
    from kmslab.cloud.config import CloudConfig
    from kmslab.cloud.deploy.errors import DeployError
    from kmslab.cloud.deploy.run import Connection, deploy
    from kmslab.cloud.deploy.state import StackStore
    from kmslab.cloud.deploy.types import default_registry
    from kmslab.cloud.local import build_cloud

    # absolute: the Lambda runtime hands the CA file's path to functions that run in other directories
    config = CloudConfig(data_dir=data_dir.resolve(), port=0, tls=True, region=REGION)
    daemon.claim(config)
    try:
        cloud = build_cloud(config).start()
    except OSError as exc:
        daemon.release(config)
        raise LabCloudError(f"cannot start the local cloud: {exc}") from None
    identities = json.loads(config.identities_file.read_text())
    lab = LabCloud(cloud, data_dir, identities)
    daemon.write_state(
        config,
        {
            "pid": os.getpid(),
            "url": cloud.url,
            "host": cloud.server.host,
            "port": cloud.server.port,
            "tls": True,
            "ca": str(config.ca_file.resolve()),
            "region": REGION,
            "account": lab.account,
            "identities": str(config.identities_file.resolve()),
            "started": time.time(),
        },
    )
    say(f"local cloud at {cloud.url} (data {data_dir})")
    admin = lab._user_credentials("admin")
    conn = Connection(
        endpoint_url=cloud.url,
        region=REGION,
        account=lab.account,
        access_key_id=admin["aws_access_key_id"],
        secret_access_key=admin["aws_secret_access_key"],
        ca_bundle=lab.ca_file,
    )
    started = time.monotonic()
    try:
        records = deploy(
            assembly,
            None,
            conn=conn,
            store=StackStore(data_dir / "cloudformation"),
            registry=default_registry(),
            root=root,
            echo=lambda line: None,
        )
    except DeployError as exc:
        lab.stop()
        raise LabCloudError(f"the kit did not deploy: {exc}") from None
    except BaseException:
        lab.stop()
        raise
    lab.stacks = {r.name: r for r in records}
    say(f"deployed {', '.join(lab.stacks)} in {time.monotonic() - started:.1f} s")
    return lab
