"""The seams of the local KMS: who calls, who decides, who listens, what time it is.

These small value types and protocols are the contract between the engine
(:class:`kmslab.kms.LocalKms`), the HTTP endpoint, authorization (key policies,
IAM policies, grants) and the CloudTrail recorder. Each side may change its insides
freely as long as it keeps these shapes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

DEFAULT_ACCOUNT = "111122223333"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Caller:
    """Who made a request, as CloudTrail's ``userIdentity`` and IAM's condition keys see it.

    Args:
        arn: the principal ARN (``arn:aws:iam::<account>:root``, ``...:user/alice``, an assumed-role ARN).
        account: the principal's account ID.
        identity_type: CloudTrail's ``userIdentity.type``: ``Root``, ``IAMUser``, ``AssumedRole``, ``AWSService``.
        principal_id: CloudTrail's ``userIdentity.principalId``.
        access_key_id: the access key that signed the request, if any.
        source_ip: the client address (``aws:SourceIp``, ``sourceIPAddress``).
        user_agent: the client's User-Agent header.
        secure_transport: whether the request came over TLS (``aws:SecureTransport``).
        invoked_by: the service principal that made the call on the caller's behalf
            (for example ``s3.amazonaws.com``), or None for a direct call.
        source_arn: when a service principal acts for a resource of the account (CloudTrail
            delivering a trail's logs), that resource's ARN: ``aws:SourceArn``, with
            ``aws:SourceAccount`` = ``account``.
    """

    arn: str
    account: str
    identity_type: str = "Root"
    principal_id: str = ""
    access_key_id: str | None = None
    source_ip: str = "127.0.0.1"
    user_agent: str = ""
    secure_transport: bool = False
    invoked_by: str | None = None
    source_arn: str | None = None

    @classmethod
    def root(cls, account: str = DEFAULT_ACCOUNT, **kwargs: Any) -> Caller:
        """Return the account's root user.

        Args:
            account: the account ID.
            **kwargs: other fields (source_ip, user_agent, ...).

        Returns:
            A Caller for ``arn:aws:iam::<account>:root``.
        """
        return cls(
            arn=f"arn:aws:iam::{account}:root", account=account, identity_type="Root", principal_id=account, **kwargs
        )


@dataclass(frozen=True)
class AuthorizationRequest:
    """Everything authorization needs to decide one request on one key.

    Args:
        caller: who asks.
        action: the IAM action, ``kms:<Operation>``.
        region: the region of the request.
        key_arn: the key the action is on, or None for account-level actions (CreateKey, ListKeys, ...).
        key_policy: the key policy document (JSON text), or None when there is no key.
        grants: the key's grants, each shaped as ListGrants returns it (GrantId, GranteePrincipal,
            RetiringPrincipal, Operations, Constraints, Name, IssuingAccount, CreationDate, KeyId).
        grant_tokens: grant tokens sent with the request (the grant IDs they name count at once).
        context: request condition keys the engine knows, for example ``kms:EncryptionContext:<k>``,
            ``kms:EncryptionContextKeys``, ``kms:KeySpec``, ``kms:KeyUsage``, ``kms:EncryptionAlgorithm``,
            ``kms:RequestAlias``, ``kms:ResourceAliases``, ``kms:GrantOperations``,
            ``kms:GrantIsForAWSResource``, ``kms:ViaService``. Global ``aws:*`` keys come from ``caller``.
    """

    caller: Caller
    action: str
    region: str
    key_arn: str | None = None
    key_policy: str | None = None
    grants: tuple[Mapping[str, Any], ...] = ()
    grant_tokens: tuple[str, ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)


class Authorizer(Protocol):
    """Decides whether a request may go on."""

    def authorize(self, request: AuthorizationRequest) -> None:
        """Allow the request by returning, or refuse it.

        Args:
            request: the request to decide.

        Raises:
            AccessDeniedException: the request is not allowed.
        """


class AllowAll:
    """The default authorizer: every request is allowed (every caller acts as the account root)."""

    def authorize(self, request: AuthorizationRequest) -> None:
        """Allow every request.

        Args:
            request: ignored.
        """


@dataclass(frozen=True)
class ApiCall:
    """One request the local KMS answered, success or failure; handed to every event sink.

    ``request`` and ``response`` are in the API's JSON wire shape and may hold plaintext
    (a sink must copy only the fields it knows to be safe); they are kept out of ``repr``.

    Args:
        event_time: when the call was answered (engine clock, UTC).
        operation: the API operation, e.g. ``Decrypt``.
        region: the region that answered.
        account: the account that owns the endpoint.
        caller: who made the call.
        request_id: the request ID returned to the caller.
        request: the request parameters as received.
        response: the response on success, else None.
        error_code: the AWS error code on failure, else None.
        error_message: the error message on failure, else None.
        key_arns: ARNs of the keys the call touched, for CloudTrail's ``resources``.
        event_id: the CloudTrail eventID the engine gave the call (GetKeyLastUsage reports it), if any.
    """

    event_time: datetime
    operation: str
    region: str
    account: str
    caller: Caller
    request_id: str
    request: Mapping[str, Any] = field(repr=False)
    response: Mapping[str, Any] | None = field(repr=False)
    error_code: str | None = None
    error_message: str | None = None
    key_arns: tuple[str, ...] = ()
    event_id: str | None = None


class EventSink(Protocol):
    """Receives every answered request. Must be fast and must not raise."""

    def __call__(self, call: ApiCall) -> None:
        """Take one call record.

        Args:
            call: the answered request.
        """


class Clock(Protocol):
    """Tells the engine what time it is (UTC, timezone-aware)."""

    def now(self) -> datetime:
        """Return the current time.

        Returns:
            A timezone-aware UTC datetime.
        """
        ...


class SystemClock:
    """Wall-clock time plus an offset that can only move forward (``kmslab kms advance-time``).

    Args:
        offset: how far ahead of the wall clock it starts.
        on_advance: called with the new offset each time the clock moves, before :meth:`advance`
            returns (:class:`kmslab.kms._clockfile.SavedOffsetClock` saves it there).
    """

    def __init__(
        self, offset: timedelta = timedelta(0), *, on_advance: Callable[[timedelta], None] | None = None
    ) -> None:
        self._offset = offset
        self._on_advance = on_advance
        self._lock = threading.Lock()

    @property
    def offset(self) -> timedelta:
        """How far this clock runs ahead of the wall clock."""
        return self._offset

    def now(self) -> datetime:
        """Return wall-clock UTC time plus the offset.

        Returns:
            A timezone-aware UTC datetime.
        """
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward.

        Args:
            delta: how far; must not be negative.

        Returns:
            The new current time.

        Raises:
            ValueError: ``delta`` is negative.
            OSError: ``on_advance`` could not keep the new offset (the clock has moved nonetheless).
        """
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += delta
            if self._on_advance is not None:
                self._on_advance(self._offset)
        return self.now()


class FixedClock:
    """A clock that stands still until moved: for tests."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        """Return the current (fixed) time.

        Returns:
            A timezone-aware UTC datetime.
        """
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward.

        Args:
            delta: how far; must not be negative.

        Returns:
            The new current time.

        Raises:
            ValueError: ``delta`` is negative.
        """
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        self._now += delta
        return self._now
