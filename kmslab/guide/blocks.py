"""Run the guide's Offline steps as a learner would, in one shell, and compare what they print.

``python -m kmslab.guide.blocks workshop/05-s3.md`` runs chapter 1's steps (they start a local cloud and
deploy the kit), then the given pages, in one ``bash`` session, and shows each mismatch as a diff. The tests
(``tests/guide/test_blocks.py``) run every page this way.

The session is the learner's terminal: variables persist from block to block and page to page. The working
directory is a scratch folder (with links to the synthesized ``cdk.out`` and ``node_modules``, as in a clone);
``HOME`` is a temporary folder, so ``~/.aws/config`` is the run's own; ``KMSLAB_LOCAL_PORT`` picks a free
port, so the guide's commands run unchanged beside a learner's own local cloud.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from kmslab.guide._matching import matches, normalise
from kmslab.guide._pages import Block, PageError, offline_blocks

__all__ = ["Block", "Outcome", "PageError", "Shell", "offline_blocks", "pages_in_order", "run_blocks"]

ROOT = Path(__file__).resolve().parents[2]
WORKSHOP = ROOT / "workshop"
PREPARATION = "01-preparation.md"
_DONE = "__kmslab_block_done__"
BLOCK_TIMEOUT = 180.0


@dataclass(frozen=True)
class Outcome:
    """What one block did.

    Attributes:
        block: The block.
        output: What it printed (stdout and stderr together).
        status: The exit status of its last command.
        seconds: How long it took.
        ok: True when the status and the output are as the page shows.
    """

    block: Block
    output: str
    status: int
    seconds: float
    ok: bool

    def explain(self, port: int | None = None) -> str:
        """A readable account of a mismatch: the status, and a diff of shown vs real output.

        Args:
            port: The run's port (written as 4566 in the diff).

        Returns:
            The explanation ("" when the block passed).
        """
        if self.ok:
            return ""
        lines = [f"{self.block.where}: {self.block.language} block"]
        wanted = "fail" if self.block.fails else "succeed"
        if (self.status != 0) != self.block.fails:
            lines.append(f"  its last command should {wanted}, but exited with status {self.status}")
        diff = difflib.unified_diff(
            normalise(self.block.expected).splitlines(),
            normalise(self.output, port=port).splitlines(),
            "shown on the page",
            "printed",
            lineterm="",
        )
        lines += [f"  {line}" for line in diff]
        return "\n".join(lines)


def free_port() -> int:
    """A TCP port nobody listens on now.

    Returns:
        The port.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Shell:
    """One ``bash`` session that runs blocks one after the other, as a learner's terminal does.

    Args:
        workdir: The working directory (the learner's folder).
        env: The session's environment.
    """

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self._scripts = Path(tempfile.mkdtemp(prefix="kmslab-blocks-"))
        self._process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=workdir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._count = 0
        self._pending = b""

    def __enter__(self) -> Shell:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def run(self, block: Block, *, timeout: float = BLOCK_TIMEOUT) -> tuple[str, int]:
        """Run one block in the session.

        Args:
            block: The block.
            timeout: Seconds before the session is given up.

        Returns:
            What it printed, and the exit status of its last command.

        Raises:
            TimeoutError: The block did not finish in time (the session is closed).
        """
        assert self._process.stdin is not None and self._process.stdout is not None
        self._count += 1
        script = self._scripts / f"{self._count:03d}.{'sh' if block.language == 'bash' else 'py'}"
        script.write_text(block.code, encoding="utf-8")
        out = self._scripts / f"{self._count:03d}.out"
        if block.language == "bash":
            command = f"source {script} > {out} 2>&1 < /dev/null"
        else:
            command = f'"$KMSLAB_BLOCKS_PYTHON" {script} > {out} 2>&1 < /dev/null'
        self._process.stdin.write(f"{command}\necho {_DONE} $?\n".encode())
        self._process.stdin.flush()
        deadline = time.monotonic() + timeout
        status = None
        while status is None:
            line = self._readline(deadline)
            if line.startswith(_DONE):
                status = int(line.split()[1])
        return out.read_text(encoding="utf-8", errors="replace"), status

    def _readline(self, deadline: float) -> str:
        """The shell's next line of its own output (the block's output goes to a file)."""
        assert self._process.stdout is not None
        fd = self._process.stdout.fileno()
        while b"\n" not in self._pending:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                self.close()
                raise TimeoutError("the block did not finish in time")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"the shell ended (status {self._process.wait()})")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode("utf-8", "replace")

    def close(self) -> None:
        """End the session and everything it started in the foreground."""
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        shutil.rmtree(self._scripts, ignore_errors=True)


def learner_env(home: Path, port: int) -> dict[str, str]:
    """The environment of a fresh learner's terminal: the venv's tools first, no AWS settings.

    Args:
        home: The temporary home folder.
        port: The local cloud's port.

    Returns:
        The environment.
    """
    venv_bin = str(Path(sys.executable).parent)
    keep = {
        k: v for k, v in os.environ.items() if k in {"LANG", "TMPDIR", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"}
    }
    return keep | {
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "COLUMNS": "120",
        "AWS_PAGER": "",
        "PYTHONDONTWRITEBYTECODE": "1",
        "KMSLAB_LOCAL_PORT": str(port),
        "KMSLAB_BLOCKS_PYTHON": sys.executable,
    }


def pages_in_order(workshop: Path = WORKSHOP) -> list[Path]:
    """The guide's chapters in reading order (``index.md`` first, then ``NN-*.md``).

    Args:
        workshop: The guide's folder.

    Returns:
        The pages.
    """
    numbered = sorted(p for p in workshop.glob("[0-9][0-9]-*.md"))
    index = workshop / "index.md"
    return ([index] if index.is_file() else []) + numbered


def run_blocks(blocks: Sequence[Block], shell: Shell, port: int) -> Iterator[Outcome]:
    """Run blocks in order in one session.

    Args:
        blocks: The blocks.
        shell: The session.
        port: The local cloud's port (for matching).

    Yields:
        One outcome per block, as it finishes.
    """
    for block in blocks:
        started = time.monotonic()
        output, status = shell.run(block)
        ok = (status != 0) == block.fails and matches(block.expected, output, port=port)
        yield Outcome(block, output, status, time.monotonic() - started, ok)


class GuideRun:
    """A learner's run through the guide: a scratch folder, a home, a port and a shell; torn down at exit.

    Args:
        cdk_out: The synthesized kit (linked into the scratch folder as ``cdk.out``).
    """

    def __init__(self, cdk_out: Path) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="kmslab-guide-"))
        self.workdir, self.home = self.base / "work", self.base / "home"
        self.workdir.mkdir()
        self.home.mkdir()
        (self.workdir / "cdk.out").symlink_to(cdk_out.resolve())
        # the clone's pinned CDK CLI: `kmslab local deploy` reads its bootstrap template, as in a clone
        (self.workdir / "node_modules").symlink_to(ROOT / "node_modules")
        self.port = free_port()
        self.shell = Shell(self.workdir, learner_env(self.home, self.port))

    def __enter__(self) -> GuideRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the local cloud the guide started (if any), end the shell, and remove the folders."""
        env = learner_env(self.home, self.port)
        subprocess.run(
            [str(Path(sys.executable).with_name("kmslab")), "local", "down"],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        self.shell.close()
        shutil.rmtree(self.base, ignore_errors=True)


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kmslab.guide.blocks",
        description="Run guide pages' Offline blocks (chapter 1 first) and show each mismatch as a diff.",
    )
    parser.add_argument("pages", nargs="*", type=Path, help="pages to run (default: every chapter, in order)")
    parser.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out", help="the synthesized kit")
    args = parser.parse_args(argv)
    if not (args.cdk_out / "manifest.json").is_file():
        print(f"{args.cdk_out}: no cloud assembly; run 'make synth' first", file=sys.stderr)
        return 2
    pages = list(args.pages) or pages_in_order()
    first = WORKSHOP / PREPARATION
    if first.is_file() and all(p.resolve() != first.resolve() for p in pages):
        pages.insert(0, first)
    failed = total = 0
    with GuideRun(args.cdk_out) as run:
        for page in pages:
            try:
                blocks = offline_blocks(page)
            except PageError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            for outcome in run_blocks(blocks, run.shell, run.port):
                total += 1
                mark = "ok  " if outcome.ok else "FAIL"
                print(f"{mark} {outcome.block.where} ({outcome.seconds:.1f}s)", flush=True)
                if not outcome.ok:
                    failed += 1
                    print(outcome.explain(run.port), flush=True)
    print(f"{total - failed} of {total} blocks as shown")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(_main())
