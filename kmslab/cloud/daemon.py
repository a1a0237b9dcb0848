"""A running local cloud's footprint in its data directory: pid file, state file, health checks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from kmslab.cloud.config import CloudConfig


def pid_alive(pid: int) -> bool:
    """Tell whether a process exists.

    Args:
        pid: the process ID.

    Returns:
        True when it exists (and is not a zombie we can see).
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (OSError, IndexError):
        return True
    return status != "Z"


def read_state(config: CloudConfig) -> dict[str, Any] | None:
    """The state a running server wrote, if its process still lives.

    Args:
        config: the settings (data directory).

    Returns:
        The state (``pid``, ``url``, ``port``, ``tls``, ``ca``...), or None.
    """
    try:
        state: dict[str, Any] = json.loads(config.state_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not pid_alive(int(state.get("pid", 0))):
        return None
    return state


def claim(config: CloudConfig) -> None:
    """Take the data directory for this process (pid file), refusing if another server holds it.

    Args:
        config: the settings.

    Raises:
        RuntimeError: a live server already uses the data directory.
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(config.pid_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                other = int(config.pid_file.read_text().strip() or "0")
            except (OSError, ValueError):
                other = 0
            if other != os.getpid() and pid_alive(other):
                raise RuntimeError(f"a local cloud already runs on {config.data_dir} (pid {other})") from None
            config.pid_file.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as out:
            out.write(str(os.getpid()))
        return
    raise RuntimeError(f"cannot claim {config.pid_file}")


def write_state(config: CloudConfig, state: dict[str, Any]) -> None:
    """Publish the running server's state atomically.

    Args:
        config: the settings.
        state: what ``status``/``env``/``down`` need.
    """
    tmp = config.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(config.state_file)


def release(config: CloudConfig) -> None:
    """Remove this process's pid and state files.

    Args:
        config: the settings.
    """
    with contextlib.suppress(OSError, ValueError):
        if int(config.pid_file.read_text().strip() or "0") == os.getpid():
            config.pid_file.unlink(missing_ok=True)
            config.state_file.unlink(missing_ok=True)


def stop(config: CloudConfig, timeout: float = 15.0) -> int | None:
    """Stop the server that runs on a data directory (SIGTERM, then wait).

    Args:
        config: the settings.
        timeout: how long to wait for it to exit.

    Returns:
        The pid stopped, or None when nothing ran.

    Raises:
        TimeoutError: it did not exit in time.
    """
    try:
        pid = int(config.pid_file.read_text().strip() or "0")
    except (OSError, ValueError):
        return None
    if not pid_alive(pid):
        config.pid_file.unlink(missing_ok=True)
        config.state_file.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            config.pid_file.unlink(missing_ok=True)
            config.state_file.unlink(missing_ok=True)
            return pid
        time.sleep(0.05)
    raise TimeoutError(f"the local cloud (pid {pid}) did not stop within {timeout:.0f} s")


def fetch(state: dict[str, Any], route: str, timeout: float = 3.0) -> dict[str, Any]:
    """GET a control route of a running server.

    Args:
        state: its state.
        route: ``health`` or ``stats``.
        timeout: seconds.

    Returns:
        The JSON answer.

    Raises:
        OSError: it does not answer.
    """
    context = None
    if state.get("tls"):
        context = ssl.create_default_context(cafile=state["ca"])
    url = f"{state['url']}/_kmslab/{route}"
    with urllib.request.urlopen(url, timeout=timeout, context=context) as answer:  # noqa: S310 - our own endpoint
        loaded: dict[str, Any] = json.loads(answer.read())
    return loaded


def wait_healthy(config: CloudConfig, pid: int, timeout: float = 20.0) -> dict[str, Any]:
    """Wait until a freshly started server publishes its state and answers.

    Args:
        config: the settings.
        pid: the server process.
        timeout: seconds.

    Returns:
        Its state.

    Raises:
        RuntimeError: it exited or did not answer in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            raise RuntimeError("the local cloud exited during start-up")
        state = read_state(config)
        if state is not None and int(state.get("pid", 0)) == pid:
            try:
                fetch(state, "health", timeout=1.0)
                return state
            except (OSError, urllib.error.URLError):
                pass
        time.sleep(0.02)
    raise RuntimeError(f"the local cloud did not answer within {timeout:.0f} s")
