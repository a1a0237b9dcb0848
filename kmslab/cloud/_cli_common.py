"""What the ``kmslab local`` commands share: the one-line error, the common options, the identities, the endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from kmslab.cloud.config import DATA_DIR_ENV, DEFAULT_DATA_DIR, DEFAULT_PORT, PORT_ENV, CloudConfig

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


class LocalError(click.ClickException):
    """A local-cloud command failed (one line, exit status 2)."""

    exit_code = 2


def data_dir_option(func: Any) -> Any:
    """Add ``--data-dir`` (also ``KMSLAB_LOCAL_DATA_DIR``) to a command."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        default=DEFAULT_DATA_DIR,
        envvar=DATA_DIR_ENV,
        show_default=True,
        show_envvar=True,
        help="Where the local cloud keeps its state (keys, objects, CA, identities, pid file).",
    )(func)


def port_option(func: Any) -> Any:
    """Add ``--port`` (also ``KMSLAB_LOCAL_PORT``) to a command."""
    return click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=DEFAULT_PORT,
        envvar=PORT_ENV,
        show_default=True,
        show_envvar=True,
        help="The endpoint's port (0 picks a free one).",
    )(func)


def identity_data(config: CloudConfig, *, create: bool = False) -> dict[str, Any]:
    """Read the identities the local cloud on ``config`` uses.

    Args:
        config: the settings (data directory).
        create: write the default workshop set when the data directory has none yet.

    Returns:
        Identities-file data.

    Raises:
        LocalError: there are none yet, or the file cannot be read.
    """
    from kmslab.iam.defaults import ensure_default_identities

    state_identities = None
    if config.state_file.exists():
        try:
            state_identities = json.loads(config.state_file.read_text()).get("identities")
        except (OSError, ValueError):
            state_identities = None
    path = Path(state_identities) if state_identities else config.identities_file
    if not path.exists():
        if not create:
            raise LocalError(
                f"no identities in {config.data_dir} yet: run 'kmslab local up' (or 'kmslab local identities')"
            )
        ensure_default_identities(path)
    try:
        text = path.read_text(encoding="utf-8")
        data: dict[str, Any] = json.loads(text) if path.suffix.lower() == ".json" else _yaml(text)
    except (OSError, ValueError) as exc:
        raise LocalError(f"cannot read the identities file {path}: {exc}") from None
    return data


def _yaml(text: str) -> dict[str, Any]:
    import yaml

    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def find_identity(data: dict[str, Any], who: str) -> dict[str, Any] | None:
    """Find a user of the identities by name or ARN.

    Args:
        data: identities-file data.
        who: a user name or ARN.

    Returns:
        The identity, or None.
    """
    for item in data.get("identities", []):
        arn = str(item.get("arn", ""))
        if who in (arn, arn.rsplit("/", 1)[-1]):
            return dict(item)
    return None


def endpoint(config: CloudConfig) -> tuple[str, str | None, str, dict[str, Any] | None]:
    """Say where the local cloud on ``config`` answers (its state when it runs, else the defaults).

    Args:
        config: the settings (data directory and port).

    Returns:
        ``(url, CA file or None, region, state or None)``.

    Raises:
        LocalError: it does not run and the port is 0 (no URL can be named).
    """
    from kmslab.cloud import daemon

    state = daemon.read_state(config)
    if state is not None:
        return str(state["url"]), state.get("ca"), str(state.get("region", "us-east-1")), state
    if config.port == 0:
        raise LocalError(
            f"no local cloud runs on {config.data_dir} and --port is 0: start it with 'kmslab local up -d'"
        )
    return f"https://localhost:{config.port}", str(config.ca_file.resolve()), "us-east-1", None
