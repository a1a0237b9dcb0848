"""Run the venv's AWS CLI (v1) against a test local cloud, with nothing from the user's AWS setup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.cloud.conftest import Running

AWS = Path(sys.executable).with_name("aws")


class AwsCli:
    """The ``aws`` command as one identity of a local cloud.

    Args:
        cloud: the cloud.
        home: a private directory (HOME, the config file).
        creds: access key ID, secret and (optionally) session token.
        sigv4_presign: write a config file that makes ``aws s3 presign`` use SigV4.
    """

    def __init__(self, cloud: Running, home: Path, creds: dict[str, str], *, sigv4_presign: bool = True) -> None:
        home.mkdir(parents=True, exist_ok=True)
        config = home / "config"
        config.write_text("[default]\ns3 =\n    signature_version = s3v4\n" if sigv4_presign else "[default]\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            HOME=str(home),
            AWS_CONFIG_FILE=str(config),
            AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
            AWS_ENDPOINT_URL=cloud.url,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ACCESS_KEY_ID=creds["aws_access_key_id"],
            AWS_SECRET_ACCESS_KEY=creds["aws_secret_access_key"],
        )
        if creds.get("aws_session_token"):
            env["AWS_SESSION_TOKEN"] = creds["aws_session_token"]
        if isinstance(cloud.ca, str):
            env["AWS_CA_BUNDLE"] = cloud.ca
        self.env = env

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``aws ARGS``.

        Returns:
            The finished process (text output).
        """
        return subprocess.run(
            [str(AWS), *args], capture_output=True, text=True, env=self.env, timeout=timeout, check=False
        )

    def json(self, *args: str) -> Any:
        """Run ``aws ARGS --output json`` and parse what it prints (asserting it succeeded).

        Returns:
            The parsed output.
        """
        done = self.run(*args, "--output", "json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None
