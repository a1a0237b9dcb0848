"""Warm Lambda workers: execution environments kept between invocations, as Lambda keeps them.

Lambda Developer Guide, "Lambda execution environment lifecycle": after an invocation the
environment is frozen and may be reused for the next invocation of the same function version and
configuration (the INIT phase, module imports and clients, is not repeated); it serves one
invocation at a time; an update of the code or configuration retires the old environments; an
environment whose invocation timed out or crashed is reset. Here each environment is a
``_worker.py`` process started with the function's environment (its execution role's temporary
credentials included), kept idle per function under a key that covers its code and configuration.
A worker whose credentials expire within its timeout and a minute is retired, so a new worker
assumes the role again. While an invocation runs, the worker's resident memory is watched against
the function's ``MemorySize`` (Lambda stops an environment that exceeds it: ``Runtime.OutOfMemory``).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_WORKER = Path(__file__).with_name("_worker.py")
#: how often the worker's memory is checked while it runs an invocation, in seconds
_WATCH_SECONDS = 0.02
#: a worker is retired when its credentials would expire this soon after the invocation's timeout
_CREDENTIAL_MARGIN = 60.0


@dataclass(frozen=True)
class Outcome:
    """What one invocation in a worker produced.

    Args:
        result: the worker's answer (``ok``, ``payload`` or ``error``), or None when it gave none.
        output: the invocation's log text (the handler's stdout and stderr).
        timed_out: the invocation ran past the function's timeout (the worker was stopped).
        out_of_memory: the worker's resident memory went past the function's ``MemorySize`` (stopped).
        max_memory_mb: the worker's peak resident memory, in MB (0 when unknown).
    """

    result: dict[str, Any] | None
    output: str
    timed_out: bool = False
    out_of_memory: bool = False
    max_memory_mb: int = 0


@dataclass
class Worker:
    """One execution environment: a worker process serving one function configuration.

    Args:
        process: the worker process (stdin: requests, stdout: answers).
        key: the configuration it serves.
        expires: when its credentials expire (``time.time()`` seconds).
        scratch: a private folder for its invocation logs.
        stream: its CloudWatch Logs stream (one per environment, as on AWS).
    """

    process: subprocess.Popen[bytes]
    key: str
    expires: float
    scratch: Path
    stream: str
    _buffer: bytes = field(default=b"", repr=False)
    _count: int = field(default=0, repr=False)

    @classmethod
    def start(
        cls, *, handler: str, cwd: Path, env: dict[str, str], key: str, expires: float, scratch: Path, stream: str
    ) -> Worker:
        """Start a worker process (its INIT phase runs with the first invocation).

        Args:
            handler: the function's handler (``module.function``).
            cwd: the function's code folder.
            env: the process environment.
            key: the configuration it serves.
            expires: when the credentials in ``env`` expire.
            scratch: a private folder for its logs (created).
            stream: its log stream.

        Returns:
            The worker.
        """
        scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
        process = subprocess.Popen(  # noqa: S603 - our own worker, argv without a shell
            [sys.executable, str(_WORKER), handler],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return cls(process, key, expires, scratch, stream)

    def alive(self) -> bool:
        """Tell whether the process still runs."""
        return self.process.poll() is None

    def invoke(self, request: dict[str, Any], *, timeout: float, memory_mb: int) -> Outcome:
        """Run one invocation and wait for its answer, its timeout or its memory limit.

        Args:
            request: the invocation (event, context fields).
            timeout: the function's timeout, in seconds.
            memory_mb: the function's memory size, in MB.

        Returns:
            The outcome; after a timeout, an out-of-memory stop or a crash the worker is stopped.
        """
        self._count += 1
        log_file = self.scratch / f"{self._count}.log"
        log_file.touch(mode=0o600)
        line = json.dumps({**request, "log_file": str(log_file)}).encode("utf-8") + b"\n"
        deadline = time.monotonic() + timeout
        answer: bytes | None = None
        timed_out = out_of_memory = False
        peak = 0
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(line)
            self.process.stdin.flush()
            fd = self.process.stdout.fileno()
            while answer is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select([fd], [], [], min(left, _WATCH_SECONDS))
                if ready:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break  # the worker died
                    self._buffer += chunk
                    if b"\n" in self._buffer:
                        answer, _, self._buffer = self._buffer.partition(b"\n")
                        break
                rss = _rss_mb(self.process.pid)
                peak = max(peak, rss)
                if rss > memory_mb:
                    out_of_memory = True
                    break
        except (BrokenPipeError, OSError):
            answer = None
        result: dict[str, Any] | None = None
        if answer is not None:
            with contextlib.suppress(ValueError):
                result = json.loads(answer)
        if result is None or result.get("fatal"):
            self.stop(keep_logs=True)  # a timeout, a memory stop, a crash or a failed INIT: a fresh one next time
        if isinstance(result, dict) and result.get("max_rss_kib"):
            peak = max(peak, int(result["max_rss_kib"]) // 1024)
        try:
            output = log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            output = ""
        log_file.unlink(missing_ok=True)
        return Outcome(result, output, timed_out, out_of_memory, peak)

    def stop(self, *, keep_logs: bool = False) -> None:
        """Stop the process (and whatever it started) and forget its logs.

        Args:
            keep_logs: leave the log files (the caller reads and deletes the last one).
        """
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, 9)
            with contextlib.suppress(OSError):
                self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        if keep_logs:
            return
        for path in self.scratch.glob("*.log"):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.scratch.rmdir()


def _rss_mb(pid: int) -> int:
    """The resident memory of a process in MB (0 where /proc is not there)."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_bytes().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024)


class WorkerPool:
    """Idle workers per function, taken for one invocation at a time and given back after.

    Args:
        max_idle: how many idle workers one function keeps (0: a fresh worker per invocation).
    """

    def __init__(self, max_idle: int = 2) -> None:
        self.max_idle = max_idle
        self._idle: dict[str, list[Worker]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.started = 0

    def take(self, function_arn: str, key: str, *, timeout: float, start: Callable[[], Worker]) -> Worker:
        """Return an idle worker of this configuration, or a new one.

        Idle workers of another configuration of the function (its code or configuration changed)
        and workers whose credentials would expire during the invocation are stopped.

        Args:
            function_arn: the function.
            key: its current configuration.
            timeout: the invocation's timeout, in seconds.
            start: starts a new worker.

        Returns:
            A worker for this invocation only; give it back with :meth:`give_back`.
        """
        stale: list[Worker] = []
        found: Worker | None = None
        with self._lock:
            idle = self._idle.get(function_arn, [])
            keep = []
            for worker in idle:
                usable = (
                    worker.key == key and worker.alive() and worker.expires - time.time() > timeout + _CREDENTIAL_MARGIN
                )
                if usable and found is None:
                    found = worker
                elif usable:
                    keep.append(worker)
                else:
                    stale.append(worker)
            self._idle[function_arn] = keep
        for worker in stale:
            worker.stop()
        if found is not None:
            return found
        worker = start()
        with self._lock:
            self.started += 1
        return worker

    def give_back(self, function_arn: str, worker: Worker) -> None:
        """Keep a worker idle for the next invocation, or stop it (dead, pool full or closed).

        Args:
            function_arn: the function.
            worker: the worker.
        """
        with self._lock:
            idle = self._idle.setdefault(function_arn, [])
            if not self._closed and worker.alive() and len(idle) < self.max_idle:
                idle.append(worker)
                return
        worker.stop()

    def close(self) -> None:
        """Stop every idle worker; workers given back later are stopped too."""
        with self._lock:
            self._closed = True
            workers = [w for idle in self._idle.values() for w in idle]
            self._idle.clear()
        for worker in workers:
            worker.stop()
