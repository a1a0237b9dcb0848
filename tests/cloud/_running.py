"""Make an in-process test cloud look like a detached one to the CLI (its state file names this process)."""

from __future__ import annotations

import os
import time

from kmslab.cloud import daemon
from tests.cloud.conftest import Running


def publish_state(running: Running) -> None:
    """Write the state file that 'kmslab local' commands read to find the cloud.

    Args:
        running: the cloud (served by this test process).
    """
    config = running.cloud.config
    state = {
        "pid": os.getpid(),
        "url": running.url,
        "host": running.cloud.server.host,
        "port": running.cloud.server.port,
        "tls": config.tls,
        "ca": str((running.data_dir / "tls" / "ca.pem").resolve()) if config.tls else None,
        "region": config.region,
        "account": running.ids["account"],
        "identities": str(config.identities_file.resolve()),
        "started": time.time(),
    }
    daemon.write_state(config, state)
