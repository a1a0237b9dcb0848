"""Where the local cloud keeps its state, and how it is reached."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kmslab.kms.seams import DEFAULT_ACCOUNT, DEFAULT_REGION

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
DEFAULT_DATA_DIR = ".kmslab/local"
# Environment variables that override the defaults of every `kmslab local` command's --data-dir and --port,
# so a second local cloud (the guide's tests, a second terminal) needs no edited commands.
DATA_DIR_ENV = "KMSLAB_LOCAL_DATA_DIR"
PORT_ENV = "KMSLAB_LOCAL_PORT"


@dataclass(frozen=True)
class CloudConfig:
    """The local cloud's settings.

    Args:
        data_dir: the data directory (KMS store, S3 objects, CA, identities, pid and state files).
        host: the address to listen on.
        port: the port (0 picks a free one).
        tls: serve HTTPS (the default) or plain HTTP.
        region: the region of requests that name none.
        account: the account, when no identities file names one.
        identities: an identities file; None uses the default set in the data directory.
    """

    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    tls: bool = True
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    identities: Path | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port out of range: {self.port}")
        if not (self.account.isdigit() and len(self.account) == 12):
            raise ValueError(f"account must be 12 digits: {self.account!r}")

    @property
    def kms_dir(self) -> Path:
        """The local KMS's store."""
        return self.data_dir / "kms"

    @property
    def s3_dir(self) -> Path:
        """S3 objects and metadata."""
        return self.data_dir / "s3"

    @property
    def tls_dir(self) -> Path:
        """The CA and the server certificate."""
        return self.data_dir / "tls"

    @property
    def ca_file(self) -> Path:
        """The CA certificate clients trust (``AWS_CA_BUNDLE``)."""
        return self.tls_dir / "ca.pem"

    @property
    def identities_file(self) -> Path:
        """The identities in use: the given file, else the default set in the data directory."""
        return self.identities if self.identities is not None else self.data_dir / "identities.json"

    @property
    def pid_file(self) -> Path:
        """The pid file of a detached server."""
        return self.data_dir / "local.pid"

    @property
    def state_file(self) -> Path:
        """What the running server tells ``status``/``env``/``down`` (URL, pid, scheme)."""
        return self.data_dir / "local.json"
