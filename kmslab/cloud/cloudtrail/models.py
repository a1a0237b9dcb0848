"""Digest chains: the hourly digest files of one trail and one source Region, as state.

A trail with log file validation keeps, per Region whose logs it delivers, the log files delivered
since the last digest and that digest (the chain's head). Every hour CloudTrail delivers a digest
for the hour, even when no log file was delivered in it ("CloudTrail digest file structure": an
empty ``logFiles`` array). Stopping logging or turning validation off ends the chain; the next
digest then starts a new one (``previousDigestSignature`` null), which validators report as a gap.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kmslab.cloud.cloudtrail.digest import DigestFile, LogFileEntry, build_digest
from kmslab.cloud.cloudtrail.keys import DigestKeyStore

DIGEST_INTERVAL = timedelta(hours=1)


@dataclass
class DigestChain:
    """The digest chain of one trail for one source Region.

    Args:
        trail_arn: the trail's ARN.
        bucket: its bucket.
        prefix: its key prefix, or None.
        source_region: the Region whose log files the chain covers.
        started: the start time of the next digest.
    """

    trail_arn: str
    bucket: str
    prefix: str | None
    source_region: str
    started: datetime
    pending: list[LogFileEntry] = field(default_factory=list)
    head: DigestFile | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, entry: LogFileEntry) -> None:
        """Note a delivered log file for the next digest."""
        with self._lock:
            self.pending.append(entry)

    def due(self, now: datetime) -> bool:
        """Tell whether the hour is over (a digest is due)."""
        return now - self.started >= DIGEST_INTERVAL

    def close(self, now: datetime, keys: DigestKeyStore) -> DigestFile:
        """Build, sign and chain the digest for ``[started, now)``; the caller puts it in S3.

        Args:
            now: the digest's end time.
            keys: the signing keys.

        Returns:
            The digest file.
        """
        parts = self.trail_arn.split(":")
        with self._lock:
            digest = build_digest(
                account=parts[4],
                bucket=self.bucket,
                prefix=self.prefix,
                source_region=self.source_region,
                home_region=parts[3],
                trail_name=self.trail_arn.split("/")[-1],
                start=self.started,
                end=now,
                log_files=self.pending,
                previous=self.head,
                keys=keys,
            )
            self.head, self.started, self.pending = digest, now, []
        return digest

    def restart(self, now: datetime) -> None:
        """End the chain (logging stopped or validation turned off): the next digest has no previous one."""
        with self._lock:
            self.head, self.started, self.pending = None, now, []
