"""The root of every error kmslab raises on purpose.

Each package has its own root (``KmsError``, ``EnvelopeError``, ...) that subclasses
:class:`KmslabError`, so the command line can turn any of them into one clear line.
"""

from __future__ import annotations

from typing import ClassVar


class KmslabError(Exception):
    """An error the user can act on; the CLI prints its message on one line and exits with status 2."""


class AwsServiceError(KmslabError):
    """The shared base of the AWS-shaped errors of the services that answer in JSON (KMS, Athena, Logs, CloudTrail).

    It is not a package root: each package keeps its own (``KmsError``, ``AthenaError``, ...), which
    subclasses this and sets its default code and status. A subclass names one AWS error by its
    ``code`` (the JSON ``__type``) and ``status``.

    Args:
        message: the error message, as AWS words it.
    """

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500
    #: the member that holds the message in the JSON body (Athena spells it ``Message``)
    message_key: ClassVar[str] = "message"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def to_response(self) -> dict[str, str]:
        """Return the JSON body of the error response.

        Returns:
            ``{"__type": code, <message_key>: message}``.
        """
        return {"__type": self.code, self.message_key: self.message}
