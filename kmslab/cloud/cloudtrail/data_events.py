"""S3 data events: object reads and writes recorded as CloudTrail records, when a logging trail selects them.

CloudTrail User Guide, "Logging data events": data events (``managementEvent`` false,
``eventCategory`` ``Data``) are not logged by default; a trail logs them only when its event
selectors name them (:mod:`~kmslab.cloud.cloudtrail.selectors`). This module wraps the gateway's S3
module: for GetObject, HeadObject, PutObject, CopyObject and DeleteObject it builds the record S3
writes (Amazon S3 User Guide, "CloudTrail log file entries for Amazon S3": ``requestParameters``
with ``bucketName``, ``Host`` and ``key``; ``resources`` the object then its bucket;
``additionalEventData`` with the bytes transferred), success or refusal, and journals it through the
recorder when some logging trail covering the Region selects it. The recorder then delivers it like
any record, to the trails whose selectors select it. Event history (LookupEvents) shows management
events only, as on AWS.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kmslab.cloud.cloudtrail.selectors import selects
from kmslab.cloud.cloudtrail.trails import TrailStore
from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.cloud.s3.urls import route
from kmslab.trail.record import EVENT_VERSION, format_event_time, user_identity

_LOGGER = logging.getLogger(__name__)
#: S3 operation -> whether it is read-only
_OPERATIONS = {"GetObject": True, "HeadObject": True, "PutObject": False, "CopyObject": False, "DeleteObject": False}
#: request headers S3 copies into ``requestParameters``
_REQUEST_HEADERS = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-copy-source",
    "x-amz-acl",
)
#: response headers S3 copies into ``responseElements`` (writes only; reads answer null)
_RESPONSE_HEADERS = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-version-id",
)


@dataclass(frozen=True)
class ObjectCall:
    """One object-level S3 call as it came in.

    Args:
        request: the request.
        call: who sent it.
        name: the event name (``GetObject``, ``PutObject``...).
        bucket: the bucket.
        key: the object key.
        started: when it came in.
    """

    request: Incoming
    call: Call
    name: str
    bucket: str
    key: str
    started: datetime


class S3DataEvents:
    """The gateway's S3 module, recording object-level calls as CloudTrail data events.

    Args:
        inner: the local S3 (``S3Service``).
        trails: the trails (their logging state and selectors).
        record: journals a built record (the recorder's ``record``).
        account: the account.
    """

    protocol = "rest-xml"

    def __init__(self, inner: Any, *, trails: TrailStore, record: Callable[[dict[str, Any]], None], account: str):
        self.inner = inner
        self.trails = trails
        self.record = record
        self.account = account

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def handle(self, request: Incoming, call: Call) -> Outgoing:
        """Answer an S3 request; record it when it is an object-level call a trail selects.

        Args:
            request: the request.
            call: who sends it.

        Returns:
            The S3 answer.

        Raises:
            CloudError: S3's error (recorded first, as CloudTrail records refused calls).
        """
        if not self._any_data_selector(call.region):
            return self.inner.handle(request, call)  # type: ignore[no-any-return]
        operation = route(request.method, request.raw_path, request.query, request.host)
        name = operation.operation
        if name == "PutObject" and "x-amz-copy-source" in request.headers:
            name = "CopyObject"
        if name not in _OPERATIONS or not operation.key:
            return self.inner.handle(request, call)  # type: ignore[no-any-return]
        made = ObjectCall(request, call, name, operation.bucket, operation.key, datetime.now(UTC))
        try:
            out: Outgoing = self.inner.handle(request, call)
        except CloudError as exc:
            self._record(made, None, exc)
            raise
        self._record(made, out, None)
        return out

    def _any_data_selector(self, region: str) -> bool:
        for trail in self.trails.all():
            if not trail.logging or not trail.covers(region):
                continue
            if any(r for s in trail.doc.get("selectors") or [] for r in s.get("DataResources") or []):
                return True
            if trail.doc.get("advanced"):
                return True
        return False

    def _record(self, made: ObjectCall, out: Outgoing | None, error: CloudError | None) -> None:
        record = data_event(made, out, error, account=self.account)
        region = made.call.region
        if not any(t.logging and t.covers(region) and selects(t.doc, record) for t in self.trails.all()):
            return
        try:
            self.record(record)
        except Exception:  # the call is answered already; a lost data event is logged, never a failed call
            _LOGGER.exception("could not record the S3 data event %s on %s/%s", made.name, made.bucket, made.key)


def _header(headers: Any, name: str) -> str | None:
    if isinstance(headers, Mapping):
        value = headers.get(name)
        return None if value is None else str(value)
    for key, value in headers:
        if key.lower() == name:
            return str(value)
    return None


def data_event(made: ObjectCall, out: Outgoing | None, error: CloudError | None, *, account: str) -> dict[str, Any]:
    """Return the CloudTrail record of one object-level S3 call.

    Args:
        made: the call.
        out: the answer, or None when it failed.
        error: the error, or None.
        account: the bucket owner (the account).

    Returns:
        The record.
    """
    request, call, name, bucket, key = made.request, made.call, made.name, made.bucket, made.key
    caller = call.caller
    region = call.region
    parameters: dict[str, Any] = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "key": key}
    for header in _REQUEST_HEADERS:
        value = _header(request.headers, header)
        if value is not None:
            parameters[header] = value
    responses: dict[str, Any] | None = None
    if out is not None and not _OPERATIONS[name]:
        found = {h: _header(out.headers, h) for h in _RESPONSE_HEADERS}
        responses = {h: v for h, v in found.items() if v is not None} or None
    # a streamed (aws-chunked) upload declares the object's size apart from the body's
    sent = _header(request.headers, "x-amz-decoded-content-length") or _header(request.headers, "content-length")
    returned = _header(out.headers, "content-length") if out is not None and name == "GetObject" else None
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(caller),
        "eventTime": format_event_time(made.started),
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": caller.invoked_by or caller.source_ip,
        "userAgent": caller.invoked_by or caller.user_agent or "[]",
    }
    if error is not None:
        record["errorCode"] = error.code
        record["errorMessage"] = error.message
    record["requestParameters"] = parameters
    record["responseElements"] = responses
    record["additionalEventData"] = {
        "SignatureVersion": "SigV4" if call.sigv4 else "SigV2",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": int(sent) if sent and sent.isdigit() and name == "PutObject" else 0,
        "AuthenticationMethod": "QueryString" if call.presigned else "AuthHeader",
        "bytesTransferredOut": int(returned) if returned and returned.isdigit() else 0,
    }
    record["requestID"] = call.request_id
    record["eventID"] = str(uuid.uuid4())
    record["readOnly"] = _OPERATIONS[name]
    record["resources"] = [
        {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
        {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
    ]
    record["eventType"] = "AwsApiCall"
    record["managementEvent"] = False
    record["recipientAccountId"] = account
    record["eventCategory"] = "Data"
    if caller.secure_transport:
        record["tlsDetails"] = {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": request.host or f"{bucket}.s3.{region}.amazonaws.com",
        }
    return record
