"""The pieces of a chapter checkpoint: a chapter, its checks, and what each one found.

A check is a small function that looks at the learner's own state (in their AWS account, or in the local
cloud) through boto3 and returns a :class:`Finding`. It never changes anything.

Example (``kmslab/guide/checks/ch05.py``)::

    def _object_under_data_key(env: CheckEnv) -> Finding:
        ...
        return Finding.done("the data bucket holds an object encrypted under the data key")

    CHAPTER = Chapter(number=5, title="S3 with SSE-KMS", checks=(_object_under_data_key, ...))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckEnv", "Chapter", "Finding", "Check"]


@dataclass(frozen=True)
class Finding:
    """What one check found.

    Attributes:
        ok: True when the step is done.
        text: What the check looked for, said as done ("the data key rotates every 90 days").
        hint: When not done: what to do about it (a command or a chapter step).
    """

    ok: bool
    text: str
    hint: str = ""

    @classmethod
    def done(cls, text: str) -> Finding:
        """A step that is done.

        Args:
            text: What is done.

        Returns:
            The finding.
        """
        return cls(True, text)

    @classmethod
    def missing(cls, text: str, hint: str) -> Finding:
        """A step that is not done yet.

        Args:
            text: What should be done.
            hint: How to do it.

        Returns:
            The finding.
        """
        return cls(False, text, hint)


@dataclass
class CheckEnv:
    """Where checks look: boto3 clients of one session (a profile, or the environment's default).

    Attributes:
        profile: The AWS CLI profile of the session, or None for the default chain (``AWS_PROFILE``, env).
        region: The Region, or None for the session's.
    """

    profile: str | None = None
    region: str | None = None
    _session: Any = field(default=None, repr=False)
    _clients: dict[tuple[str, str | None, str | None], Any] = field(default_factory=dict, repr=False)

    def client(self, service: str, *, profile: str | None = None, region: str | None = None) -> Any:
        """A boto3 client of the learner's session (or another profile, e.g. ``alice``).

        Args:
            service: The service name (``kms``, ``s3``, ...).
            profile: Another AWS CLI profile than the session's, e.g. to act as ``alice``.
            region: Another Region than the session's (multi-Region keys).

        Returns:
            The client (cached per service, profile and Region).
        """
        import boto3  # noqa: PLC0415 - keep ``kmslab --help`` fast

        key = (service, profile, region)
        if key not in self._clients:
            if profile is None:
                if self._session is None:
                    self._session = boto3.Session(profile_name=self.profile, region_name=self.region)
                session = self._session
            else:
                session = boto3.Session(profile_name=profile, region_name=self.region)
            self._clients[key] = session.client(service, region_name=region or self.region)
        return self._clients[key]

    def account(self) -> str:
        """The account of the session's identity.

        Returns:
            The 12-digit account ID.
        """
        return str(self.client("sts").get_caller_identity()["Account"])


#: A check: looks, never changes anything, and says what it found.
Check = Callable[[CheckEnv], Finding]


@dataclass(frozen=True)
class Chapter:
    """A chapter's checkpoint.

    Attributes:
        number: The guide's chapter number.
        title: The chapter's title, as in the guide.
        checks: The checks, in the order the chapter does the steps.
    """

    number: int
    title: str
    checks: tuple[Check, ...]

    def run(self, env: CheckEnv) -> Iterator[Finding]:
        """Run every check; a check that raises is reported as not done, with the error as the hint.

        Args:
            env: Where to look.

        Yields:
            One finding per check, in order.
        """
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        for check in self.checks:
            try:
                yield check(env)
            except (ClientError, BotoCoreError) as exc:
                name = (check.__doc__ or check.__name__).strip().splitlines()[0].rstrip(".")
                yield Finding.missing(name, _hint(exc))


def _hint(exc: Exception) -> str:
    """A service error said in one line: ``Code: message`` for AWS's errors, else the SDK's own words."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return str(exc)
