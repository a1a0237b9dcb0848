"""Turn one answered KMS request into the CloudTrail record AWS would log for it.

The shapes follow the CloudTrail examples of the AWS KMS Developer Guide ("Logging AWS KMS
API calls with AWS CloudTrail"): request parameters in lowerCamelCase, ``responseElements``
null for cryptographic operations, ``readOnly`` true for every operation that changes
nothing (Encrypt, Decrypt and GenerateDataKey included), and one ``AWS::KMS::Key`` resource
per key the call touched.

Request parameters are copied through a per-operation allow-list (:mod:`kmslab.trail.fields`):
plaintext, ciphertext, messages, signatures, MACs, key material and import tokens never reach a record.
``userIdentity`` comes from :mod:`kmslab.trail.identity`. A refused request is recorded too, with its
parameters as sent, in standard JSON only (:mod:`kmslab.trail.text`, whose :func:`record_json` and
:func:`records_json` are the strict serializers for writing records; re-exported here).
"""

from __future__ import annotations

import uuid
from typing import Any

from kmslab.kms.ops import READ_ONLY
from kmslab.kms.seams import ApiCall
from kmslab.trail.fields import (
    REQUEST_FIELDS,
    RESPONSE_FIELDS,
    SECRET_FIELDS,
    request_parameters,
    response_elements,
)
from kmslab.trail.identity import user_identity, user_name
from kmslab.trail.text import (
    cloudtrail_date,
    format_event_time,
    lower_camel,
    record_json,
    records_json,
    standard_text,
)

__all__ = [
    "EVENT_SOURCE",
    "EVENT_VERSION",
    "KEY_RESOURCE_TYPE",
    "READ_ONLY_OPERATIONS",
    "REQUEST_FIELDS",
    "RESPONSE_FIELDS",
    "SECRET_FIELDS",
    "cloudtrail_date",
    "format_event_time",
    "lower_camel",
    "record_json",
    "records_json",
    "request_parameters",
    "response_elements",
    "standard_text",
    "to_cloudtrail_record",
    "user_identity",
    "user_name",
]

EVENT_VERSION = "1.11"
EVENT_SOURCE = "kms.amazonaws.com"
KEY_RESOURCE_TYPE = "AWS::KMS::Key"

#: operations CloudTrail marks ``readOnly: true``: the read-only flag of the engine's operation table.
READ_ONLY_OPERATIONS = READ_ONLY

#: operations whose records carry the key ARN in ``responseElements.keyId`` although the API returns
#: nothing: AWS's CloudTrail entries recorded on or after December 2022 do (DeleteKey, KMS's own
#: service event, gets the same in :func:`kmslab.trail.events.service_event_record`).
_KEY_ARN_RESPONSE = frozenset({"DisableKey"})

#: error codes CloudTrail writes differently from the API's ``__type``.
_ERROR_CODES = {"AccessDeniedException": "AccessDenied"}


def _arn_account(arn: str, default: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else default


def _tls_details(call: ApiCall) -> dict[str, str] | None:
    if not call.caller.secure_transport:
        return None
    return {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_256_GCM_SHA384",
        "clientProvidedHostHeader": f"kms.{call.region}.amazonaws.com",
    }


def to_cloudtrail_record(call: ApiCall, *, event_id: str | None = None) -> dict[str, Any]:
    """Return the CloudTrail record AWS logs for one answered KMS request.

    Args:
        call: the answered request, success or failure.
        event_id: the event ID to use; when None, the one the engine gave the call, else a fresh UUID4.

    Returns:
        A JSON-ready dict with CloudTrail's field names, in CloudTrail's order.
    """
    caller = call.caller
    invoked_by = caller.invoked_by
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(caller),
        "eventTime": format_event_time(call.event_time),
        "eventSource": EVENT_SOURCE,
        "eventName": call.operation,
        "awsRegion": call.region,
        "sourceIPAddress": invoked_by or caller.source_ip,
        "userAgent": standard_text(invoked_by or caller.user_agent or "AWS Internal"),
    }
    if call.error_code:
        record["errorCode"] = _ERROR_CODES.get(call.error_code, call.error_code)
        record["errorMessage"] = standard_text(call.error_message or "")
    record["requestParameters"] = request_parameters(call.operation, call.request)
    record["responseElements"] = None if call.error_code else response_elements(call.operation, call.response)
    if call.operation in _KEY_ARN_RESPONSE and not call.error_code and call.key_arns:
        record["responseElements"] = {"keyId": call.key_arns[0]}
    record["requestID"] = call.request_id
    record["eventID"] = event_id or call.event_id or str(uuid.uuid4())
    record["readOnly"] = call.operation in READ_ONLY_OPERATIONS
    if call.key_arns:
        record["resources"] = [
            {"accountId": _arn_account(arn, call.account), "type": KEY_RESOURCE_TYPE, "ARN": arn}
            for arn in call.key_arns
        ]
    record["eventType"] = "AwsApiCall"
    record["managementEvent"] = True
    record["recipientAccountId"] = call.account
    record["eventCategory"] = "Management"
    tls = _tls_details(call)
    if tls is not None:
        record["tlsDetails"] = tls
    return record
