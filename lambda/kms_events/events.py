"""Typed views of the EventBridge "AWS API Call via CloudTrail" events that AWS KMS produces.

EventBridge wraps a CloudTrail record in an envelope (``id``, ``source``, ``detail-type``,
``region``, ...) and puts the record itself in ``detail``. These read-only wrappers follow
Powertools' pattern: subclass :class:`EventBridgeEvent` and type ``detail``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.data_classes.common import DictWrapper

from kms_events.errors import IgnoredEventError

KMS_SOURCE = "aws.kms"
KMS_EVENT_SOURCE = "kms.amazonaws.com"
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
PENDING_DELETION_SUFFIX = "is pending deletion."
S3_ARN_CONTEXT_KEY = "aws:s3:arn"

_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class UserIdentity(DictWrapper):
    """CloudTrail's ``userIdentity``: who made the request."""

    @property
    def identity_type(self) -> str:
        """The kind of identity: ``Root``, ``IAMUser``, ``AssumedRole``, ``AWSService``, ..."""
        return _text(self.get("type"))

    @property
    def arn(self) -> str:
        """The ARN of the principal that made the call (empty for some service calls)."""
        return _text(self.get("arn"))

    @property
    def account_id(self) -> str:
        """The account that owns the principal."""
        return _text(self.get("accountId"))

    @property
    def principal_id(self) -> str:
        """The unique identifier of the principal."""
        return _text(self.get("principalId"))

    @property
    def access_key_id(self) -> str:
        """The access key that signed the request, if any."""
        return _text(self.get("accessKeyId"))

    @property
    def invoked_by(self) -> str:
        """The AWS service that made the request on the principal's behalf (``s3.amazonaws.com``), or empty."""
        return _text(self.get("invokedBy"))

    @property
    def session_issuer_arn(self) -> str:
        """For an assumed role, the role that issued the session."""
        issuer = _mapping(_mapping(self.get("sessionContext")).get("sessionIssuer"))
        return _text(issuer.get("arn"))

    @property
    def principal(self) -> str:
        """The best single name for the caller: the ARN, else the service, else the principal ID."""
        if self.arn:
            return self.arn
        if self.identity_type == "AWSService" and self.invoked_by:
            return self.invoked_by
        return self.principal_id or "unknown"


class KmsCloudTrailDetail(DictWrapper):
    """The CloudTrail record of one AWS KMS API call (the ``detail`` of the EventBridge event)."""

    @property
    def event_source(self) -> str:
        """The service that received the request: ``kms.amazonaws.com``."""
        return _text(self.get("eventSource"))

    @property
    def event_name(self) -> str:
        """The API operation: ``Decrypt``, ``ScheduleKeyDeletion``, ..."""
        return _text(self.get("eventName"))

    @property
    def error_code(self) -> str:
        """The AWS error code when the request failed (``KMSInvalidStateException``), else empty."""
        return _text(self.get("errorCode"))

    @property
    def error_message(self) -> str:
        """The error message when the request failed, else empty."""
        return _text(self.get("errorMessage"))

    @property
    def is_pending_deletion_error(self) -> bool:
        """Whether KMS refused the request because the key is pending deletion (matched on the message)."""
        return self.error_message.rstrip().endswith(PENDING_DELETION_SUFFIX)

    @property
    def user_identity(self) -> UserIdentity:
        """Who made the request."""
        return UserIdentity(_mapping(self.get("userIdentity")))

    @property
    def source_ip(self) -> str:
        """The caller's address, or the service name for calls a service made (``s3.amazonaws.com``)."""
        return _text(self.get("sourceIPAddress"))

    @property
    def user_agent(self) -> str:
        """The caller's user agent."""
        return _text(self.get("userAgent"))

    @property
    def event_time(self) -> str:
        """When the request was made, ISO 8601 UTC (``2026-01-01T12:00:00Z``)."""
        return _text(self.get("eventTime"))

    @property
    def event_datetime(self) -> datetime | None:
        """``eventTime`` as a timezone-aware datetime, or None when missing or malformed."""
        text = self.event_time
        if not text:
            return None
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def reference_time(self, now: datetime) -> datetime:
        """The moment "days left" and "days ago" count from: the call's time, else ``now``.

        EventBridge delivers within seconds, so in AWS the two agree; against the local KMS,
        whose clock can run ahead, the call's own time keeps the figures true.

        Args:
            now: the current time.

        Returns:
            A timezone-aware datetime.
        """
        return self.event_datetime or now

    @property
    def region(self) -> str:
        """The region the request was made to."""
        return _text(self.get("awsRegion"))

    @property
    def event_id(self) -> str:
        """CloudTrail's ID of this record."""
        return _text(self.get("eventID"))

    @property
    def request_id(self) -> str:
        """The request ID KMS returned."""
        return _text(self.get("requestID"))

    @property
    def recipient_account_id(self) -> str:
        """The account that received the event (the key's account)."""
        return _text(self.get("recipientAccountId"))

    @property
    def request_parameters(self) -> dict[str, Any]:
        """The request parameters CloudTrail logged (never plaintext)."""
        return _mapping(self.get("requestParameters"))

    @property
    def response_elements(self) -> dict[str, Any]:
        """The response elements CloudTrail logged, or an empty dict."""
        return _mapping(self.get("responseElements"))

    @property
    def encryption_context(self) -> dict[str, str]:
        """The encryption context of a cryptographic request, or an empty dict."""
        context = _mapping(self.request_parameters.get("encryptionContext"))
        return {str(k): str(v) for k, v in context.items()}

    @property
    def s3_object_arn(self) -> str:
        """For S3 SSE-KMS calls, the object (or bucket, with bucket keys) from ``aws:s3:arn``, else empty."""
        return self.encryption_context.get(S3_ARN_CONTEXT_KEY, "")

    @property
    def key_arn(self) -> str:
        """The key ARN: from ``resources[]``, else ``requestParameters.keyId``, else the error message."""
        for resource in self.get("resources") or []:
            if isinstance(resource, dict) and resource.get("type") == "AWS::KMS::Key":
                arn = _text(resource.get("ARN"))
                if arn:
                    return arn
        key_id = _text(self.request_parameters.get("keyId"))
        if _KEY_ARN.fullmatch(key_id):
            return key_id
        found = _KEY_ARN.search(self.error_message)
        return found.group(0) if found else ""

    @property
    def key_id(self) -> str:
        """The key ID (the last part of the key ARN), else ``requestParameters.keyId`` as given."""
        arn = self.key_arn
        if arn:
            return arn.rsplit("/", 1)[-1]
        return _text(self.request_parameters.get("keyId"))


class KmsApiCallEvent(EventBridgeEvent):
    """An EventBridge "AWS API Call via CloudTrail" event from ``aws.kms``."""

    @property
    def detail(self) -> KmsCloudTrailDetail:  # type: ignore[override]
        """The CloudTrail record."""
        return KmsCloudTrailDetail(_mapping(self.get("detail")))

    @property
    def event_id(self) -> str:
        """The EventBridge event ID (the idempotency key)."""
        return _text(self.get("id"))


def parse_kms_api_call(event: object) -> KmsApiCallEvent:
    """Check that a raw event is a well-formed KMS API call event and wrap it.

    Args:
        event: the event as Lambda delivered it.

    Returns:
        The typed event.

    Raises:
        IgnoredEventError: the event is malformed or is not a KMS API call recorded by CloudTrail.
    """
    if not isinstance(event, dict):
        raise IgnoredEventError("malformed_event", f"expected a JSON object, got {type(event).__name__}")
    if not _text(event.get("id")):
        raise IgnoredEventError("malformed_event", "the event has no id")
    if event.get("source") != KMS_SOURCE or event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE:
        raise IgnoredEventError(
            "not_kms_api_call", f"source={event.get('source')!r} detail-type={event.get('detail-type')!r}"
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise IgnoredEventError("malformed_event", "the event has no detail object")
    parsed = KmsApiCallEvent(event)
    if parsed.detail.event_source != KMS_EVENT_SOURCE or not parsed.detail.event_name:
        raise IgnoredEventError("malformed_event", "detail lacks eventSource kms.amazonaws.com or eventName")
    if not parsed.detail.key_id:
        raise IgnoredEventError("malformed_event", "no key ARN or key ID in resources, requestParameters or message")
    return parsed
