"""The local mailbox: where SNS e-mail subscriptions deliver (``<data-dir>/mail``).

Each message is one RFC 5322 file (``<sortable time>-<id>.eml``), written to a temporary name,
flushed and renamed, so a reader never sees half a message and an acknowledged one survives a
crash. ``kmslab local mail`` lists and shows them as text.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path

#: the sender AWS uses for SNS e-mail notifications
SENDER = "AWS Notifications <no-reply@sns.amazonaws.com>"
_ID = re.compile(r"^[0-9A-Za-z_-]{1,80}$")


@dataclass(frozen=True)
class Mail:
    """One delivered message.

    Args:
        id: its ID (the file name without ``.eml``).
        to: the recipient.
        subject: the subject.
        date: when it was delivered.
        body: the text body.
    """

    id: str
    to: str
    subject: str
    date: str
    body: str

    def as_text(self) -> str:
        """Return the message as a reader sees it (headers, blank line, body)."""
        return f"From: {SENDER}\nTo: {self.to}\nDate: {self.date}\nSubject: {self.subject}\n\n{self.body}"


class Mailbox:
    """The mailbox folder.

    Args:
        folder: where the messages are (``<data-dir>/mail``).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def deliver(self, *, to: str, subject: str, body: str) -> str:
        """Store one message.

        Args:
            to: the recipient's address.
            subject: the subject.
            body: the text body.

        Returns:
            The message ID.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        mail_id = f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
        message = EmailMessage()
        message["From"] = SENDER
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(now)
        message["Message-ID"] = f"<{mail_id}@kmslab.local>"
        message.set_content(body)
        partial = self.folder / f".{mail_id}.tmp"
        with partial.open("wb") as out:
            out.write(message.as_bytes(policy=policy.SMTP))
            out.flush()
            os.fsync(out.fileno())
        partial.replace(self.folder / f"{mail_id}.eml")
        return mail_id

    def list(self) -> list[Mail]:
        """Return every message, oldest first."""
        if not self.folder.is_dir():
            return []
        return [self._read(path) for path in sorted(self.folder.glob("*.eml"))]

    def get(self, mail_id: str) -> Mail | None:
        """Return one message by ID (or a unique prefix of it), or None.

        Args:
            mail_id: the ID.

        Returns:
            The message, or None when none (or more than one) matches.
        """
        if not _ID.match(mail_id) or not self.folder.is_dir():
            return None
        found = sorted(self.folder.glob(f"{mail_id}*.eml"))
        return self._read(found[0]) if len(found) == 1 else None

    def _read(self, path: Path) -> Mail:
        with path.open("rb") as raw:
            parsed = BytesParser(policy=policy.default).parse(raw)
        part = parsed.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""

        def header(name: str) -> str:  # a long header comes back folded: one line again
            return " ".join(str(parsed[name] or "").split())

        return Mail(path.stem, header("To"), header("Subject"), header("Date"), body)
