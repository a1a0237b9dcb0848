"""Soak (a script for ``make soak``, not a test module): kill -9 the local KMS under write load, again and again.

Each cycle starts ``python -m kmslab kms serve --port 0 --data-dir D --trail-dir T`` in a child
process, drives it with writer threads (boto3, a client each, no retries), kills it with SIGKILL
after a random time, and checks, with the server down:

* SQLite ``PRAGMA integrity_check`` of ``D/kms.sqlite3`` is ``ok``;
* every acknowledged write is there: each created key exists, each tag is on its key with its value
  (read through a :class:`kmslab.kms.LocalKms` opened on ``D``, so the check leaves no trail);

and, once the next server has started (its trail recorder folds the journal the killed one left):

* every acknowledged call (a 200 answer, or a 4xx KMS error the engine recorded) has exactly one
  CloudTrail record, matched by the ``requestID`` the answer's ``x-amzn-RequestId`` header carried.

In about one cycle in five, a server is also killed while it starts (it may be folding the killed
one's journal), before the one that is checked. A last server is stopped cleanly (SIGTERM) and the
trail checked again. Writers call CreateKey,
TagResource (a fresh tag key per call), Encrypt with a unique encryption context and DescribeKey of
a missing key (a NotFoundException, recorded as an error).

It prints the figures and exits 1 if anything acknowledged was lost, duplicated or SQLite was damaged.

Usage::

    .venv/bin/python tests/soak/soak.py                  # 50 kills, a few minutes (make soak)
    .venv/bin/python tests/soak/soak.py --kills 5 --threads 4 --max-run 1.5
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "111122223333"
TAGS_PER_KEY = 40  # KMS allows 50 tags per key
START_KILLS = 0.2  # the share of cycles that also kill a server while it starts (and folds the journal)
_URL = re.compile(r"http://[0-9.:\[\]]+")


@dataclass
class Ledger:
    """What the server acknowledged, shared by the writer threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: set[str] = field(default_factory=set)
    tags: dict[tuple[str, str], str] = field(default_factory=dict)
    calls: dict[str, str] = field(default_factory=dict)  # requestID -> operation
    server_errors: int = 0
    unanswered: int = 0

    @property
    def writes(self) -> int:
        """Acknowledged writes (keys created and tags set)."""
        return len(self.keys) + len(self.tags)


@dataclass
class Figures:
    """The soak's outcome."""

    kills: int = 0
    start_kills: int = 0
    lost_writes: int = 0
    lost_records: int = 0
    duplicated_records: int = 0
    integrity_failures: int = 0
    records_read: int = 0
    folded_files: int = 0

    def clean(self) -> bool:
        """Whether nothing acknowledged was lost or duplicated and SQLite was always intact."""
        return not (self.lost_writes or self.lost_records or self.duplicated_records or self.integrity_failures)


#: the servers' ``--trail-sync`` (``--trail-sync`` of this script; the serve command's default is ``write``)
TRAIL_SYNC = "write"


def _command(data_dir: Path, trail_dir: Path) -> list[str]:
    command = [sys.executable, "-m", "kmslab", "kms", "serve", "--port", "0", "--trail-sync", TRAIL_SYNC]
    return [*command, "--data-dir", str(data_dir), "--trail-dir", str(trail_dir)]


def kill_while_starting(data_dir: Path, trail_dir: Path, delay: float) -> None:
    """Start a server and SIGKILL it ``delay`` seconds later, perhaps while it folds the last one's journal."""
    process = subprocess.Popen(_command(data_dir, trail_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(30)


class Server:
    """One ``kmslab kms serve`` child process."""

    def __init__(self, data_dir: Path, trail_dir: Path) -> None:
        command = _command(data_dir, trail_dir)
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = _URL.search(line)
        if match is None:
            self.process.kill()
            _, err = self.process.communicate()
            raise RuntimeError(f"the server did not start: {line.strip()} {err.strip()}")
        self.url = match.group(0)

    def kill(self) -> None:
        """SIGKILL: no cleanup at all."""
        self.process.send_signal(signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        """SIGTERM: a clean stop (the recorder folds its journal)."""
        self.process.send_signal(signal.SIGTERM)
        self._reap()

    def _reap(self) -> None:
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        if "Traceback" in err:
            sys.stderr.write(err)


_SESSION = boto3.session.Session()


def client(url: str) -> Any:
    """A boto3 KMS client for ``url``: no retries (a retried call would blur what was acknowledged)."""
    return _SESSION.client(
        "kms",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10),
    )


def writer(kms: Any, ledger: Ledger, stop: threading.Event, seed: int) -> None:
    """Write until ``stop`` (or until the server dies); note every acknowledged call in ``ledger``."""
    rng = random.Random(seed)
    key_id: str | None = None
    tags = 0
    while not stop.is_set():
        operation = "CreateKey" if key_id is None or tags >= TAGS_PER_KEY else rng.choice(_MIX)
        token = uuid.uuid4().hex
        try:
            if operation == "CreateKey":
                answer = kms.create_key(Description=f"soak {token}")
                key_id, tags = answer["KeyMetadata"]["KeyId"], 0
                with ledger.lock:
                    ledger.keys.add(key_id)
            elif operation == "TagResource":
                assert key_id is not None
                tags += 1  # counted whether or not it is acknowledged: the key may hold it anyway
                answer = kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": f"t-{token}", "TagValue": token}])
                with ledger.lock:
                    ledger.tags[(key_id, f"t-{token}")] = token
            elif operation == "Encrypt":
                answer = kms.encrypt(KeyId=key_id, Plaintext=b"soak", EncryptionContext={"call": token})
            else:
                answer = kms.describe_key(KeyId=f"alias/missing-{token}")  # NotFoundException
        except ClientError as exc:
            answer = exc.response
            status = answer.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500:  # not acknowledged (a trail that could not be written answers 503)
                with ledger.lock:
                    ledger.server_errors += 1
                continue
        except (BotoCoreError, OSError):  # the server is gone: this call was not acknowledged
            with ledger.lock:
                ledger.unanswered += 1
            return
        request_id = answer.get("ResponseMetadata", {}).get("RequestId")
        if request_id:
            with ledger.lock:
                ledger.calls[request_id] = operation


_MIX = ("TagResource", "TagResource", "Encrypt", "DescribeKey")


def check_store(data_dir: Path, ledger: Ledger, figures: Figures) -> None:
    """With the server down: SQLite is intact and holds every acknowledged write."""
    with sqlite3.connect(data_dir / "kms.sqlite3") as db:
        result = db.execute("PRAGMA integrity_check").fetchall()
    db.close()
    if result != [("ok",)]:
        figures.integrity_failures += 1
        print(f"  integrity_check: {result[:3]}", flush=True)
    from kmslab.kms import LocalKms
    from kmslab.kms.errors import NotFoundException

    kms = LocalKms(data_dir, account=ACCOUNT, region=REGION)
    try:
        lost = 0
        tags_by_key: dict[str, dict[str, str]] = {}
        for key_id in sorted(ledger.keys | {k for k, _ in ledger.tags}):
            try:
                kms.call("DescribeKey", {"KeyId": key_id})
                listed = kms.call("ListResourceTags", {"KeyId": key_id, "Limit": 50})["Tags"]
                tags_by_key[key_id] = {t["TagKey"]: t["TagValue"] for t in listed}
            except NotFoundException:
                tags_by_key[key_id] = {}
                lost += key_id in ledger.keys
        lost += sum(tags_by_key[key].get(tag) != value for (key, tag), value in ledger.tags.items())
    finally:
        kms.close()
    figures.lost_writes = lost


class TrailReader:
    """Reads the trail's log files, each once (a file name never changes content)."""

    def __init__(self, trail_dir: Path) -> None:
        self.trail_dir = trail_dir
        self.read: set[Path] = set()
        self.seen: collections.Counter[str] = collections.Counter()

    def refresh(self) -> None:
        """Read the files written since the last refresh."""
        for path in sorted(self.trail_dir.rglob("*.json.gz")):
            if path.name.startswith(".") or path in self.read:
                continue
            with gzip.open(path, "rb") as handle:
                for record in json.load(handle)["Records"]:
                    self.seen[record["requestID"]] += 1
            self.read.add(path)

    def check(self, ledger: Ledger, figures: Figures) -> None:
        """Every acknowledged call has exactly one record."""
        self.refresh()
        figures.lost_records = sum(1 for request_id in ledger.calls if self.seen[request_id] == 0)
        figures.duplicated_records = sum(1 for count in self.seen.values() if count > 1)
        figures.records_read = sum(self.seen.values())
        figures.folded_files = len(self.read)


def run(
    kills: int, threads: int, min_run: float, max_run: float, seed: int, work: Path, quiet: bool
) -> tuple[Ledger, Figures]:
    """Run the soak in ``work``; return what was acknowledged and the figures."""
    rng = random.Random(seed)
    data_dir, trail_dir = work / "kms", work / "trail"
    ledger, figures, trail = Ledger(), Figures(), TrailReader(trail_dir)
    for cycle in range(1, kills + 2):
        if cycle > 1 and rng.random() < START_KILLS:
            kill_while_starting(data_dir, trail_dir, rng.uniform(0.05, 0.8))
            figures.start_kills += 1
        server = Server(data_dir, trail_dir)  # its recorder folds what the killed one journaled
        trail.check(ledger, figures)
        if cycle > kills:
            server.stop()
            trail.check(ledger, figures)
            break
        stop = threading.Event()
        workers = [
            threading.Thread(target=writer, args=(client(server.url), ledger, stop, rng.randrange(2**32)), daemon=True)
            for _ in range(threads)
        ]
        for worker in workers:
            worker.start()
        time.sleep(rng.uniform(min_run, max_run))
        server.kill()
        figures.kills += 1
        stop.set()
        for worker in workers:
            worker.join(30)
        check_store(data_dir, ledger, figures)
        if not quiet:
            print(
                f"  kill {cycle:3d}: {ledger.writes:6d} acknowledged writes, {len(ledger.calls):6d} acknowledged "
                f"calls; lost writes {figures.lost_writes}, lost records {figures.lost_records}",
                flush=True,
            )
    return ledger, figures


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print its figures; exit status 1 when anything acknowledged was lost."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50, help="how many times to kill -9 the server (default 50)")
    parser.add_argument("--threads", type=int, default=4, help="writer threads (default 4)")
    parser.add_argument("--min-run", type=float, default=0.3, help="shortest run before a kill, in s (default 0.3)")
    parser.add_argument("--max-run", type=float, default=2.5, help="longest run before a kill, in s (default 2.5)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one, printed)")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the data and trail here (default: temp)")
    parser.add_argument("--quiet", action="store_true", help="print only the figures")
    parser.add_argument(
        "--trail-sync",
        choices=("write", "fsync"),
        default="write",
        help="the servers' --trail-sync: when a call is answered (default write, as kmslab kms serve)",
    )
    args = parser.parse_args(argv)
    if args.kills < 1 or args.threads < 1 or not 0 < args.min_run <= args.max_run:
        parser.error("--kills and --threads must be >= 1 and 0 < --min-run <= --max-run")
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    global TRAIL_SYNC  # noqa: PLW0603 - one setting for every server this script starts
    TRAIL_SYNC = args.trail_sync
    print(
        f"kill -9 soak: {args.kills} kills, {args.threads} writer threads, "
        f"{args.min_run}-{args.max_run} s between kills, seed {seed}, --trail-sync {TRAIL_SYNC}",
        flush=True,
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kmslab-soak-") as scratch:
        work = args.work_dir or Path(scratch)
        ledger, figures = run(args.kills, args.threads, args.min_run, args.max_run, seed, work, args.quiet)
    print(
        f"kills {figures.kills} under load (+{figures.start_kills} while starting); "
        f"acknowledged writes {ledger.writes}; acknowledged calls {len(ledger.calls)} "
        f"(with a record: {len(ledger.calls) - figures.lost_records}); "
        f"records in log files {figures.records_read} in {figures.folded_files} files; "
        f"lost writes {figures.lost_writes}; lost records {figures.lost_records}; "
        f"duplicated records {figures.duplicated_records}; integrity failures {figures.integrity_failures}; "
        f"5xx answers {ledger.server_errors}; calls cut by a kill {ledger.unanswered}; "
        f"took {time.monotonic() - started:.0f} s",
        flush=True,
    )
    print("soak: OK" if figures.clean() else "soak: FAILED", flush=True)
    return 0 if figures.clean() else 1


if __name__ == "__main__":
    sys.exit(main())
