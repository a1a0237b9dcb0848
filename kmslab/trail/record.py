"""Turn one answered KMS request into the CloudTrail record AWS would log for it.

The shapes follow the CloudTrail examples of the AWS KMS Developer Guide ("Logging AWS KMS
API calls with AWS CloudTrail"): request parameters in lowerCamelCase, ``responseElements``
null for cryptographic operations, ``readOnly`` true for every operation that changes
nothing (Encrypt, Decrypt and GenerateDataKey included), and one ``AWS::KMS::Key`` resource
per key the call touched.

Request parameters are copied through a per-operation allow-list: plaintext, ciphertext,
messages, signatures, MACs, key material and import tokens never reach a record.

A record holds standard JSON only (RFC 8259), whatever the request held: a refused request is
recorded too, with its parameters as sent. An unpaired surrogate (a JSON ``"\ud800"`` escape) in
caller-supplied text becomes U+FFFD, the Unicode replacement character, and a NaN or infinite
number becomes null, so every reader of the trail (DuckDB, Athena, ``json.loads``) can parse it.
:func:`record_json` and :func:`records_json` are the strict serializers for writing records.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from kmslab.kms.ops import READ_ONLY
from kmslab.kms.seams import ApiCall, Caller

EVENT_VERSION = "1.11"
EVENT_SOURCE = "kms.amazonaws.com"
KEY_RESOURCE_TYPE = "AWS::KMS::Key"

_GRANT = ("GrantTokens",)
_CONTEXT = ("EncryptionContext",)
_DATA_KEY = ("KeyId", "KeySpec", "NumberOfBytes", *_CONTEXT, *_GRANT, "DryRun")
_DATA_KEY_PAIR = ("KeyId", "KeyPairSpec", *_CONTEXT, *_GRANT, "DryRun")
_KEY_ONLY = ("KeyId",)

#: operation -> request fields CloudTrail records (wire names). Anything else is dropped.
REQUEST_FIELDS: dict[str, tuple[str, ...]] = {
    "Encrypt": ("KeyId", "EncryptionAlgorithm", *_CONTEXT, *_GRANT, "DryRun"),
    "Decrypt": ("KeyId", "EncryptionAlgorithm", *_CONTEXT, *_GRANT, "DryRun"),
    "ReEncrypt": (
        "SourceKeyId",
        "DestinationKeyId",
        "SourceEncryptionAlgorithm",
        "DestinationEncryptionAlgorithm",
        "SourceEncryptionContext",
        "DestinationEncryptionContext",
        *_GRANT,
        "DryRun",
    ),
    "GenerateDataKey": _DATA_KEY,
    "GenerateDataKeyWithoutPlaintext": _DATA_KEY,
    "GenerateDataKeyPair": _DATA_KEY_PAIR,
    "GenerateDataKeyPairWithoutPlaintext": _DATA_KEY_PAIR,
    "GenerateRandom": ("NumberOfBytes", "CustomKeyStoreId"),
    "Sign": ("KeyId", "SigningAlgorithm", "MessageType", *_GRANT, "DryRun"),
    "Verify": ("KeyId", "SigningAlgorithm", "MessageType", *_GRANT, "DryRun"),
    "GenerateMac": ("KeyId", "MacAlgorithm", *_GRANT, "DryRun"),
    "VerifyMac": ("KeyId", "MacAlgorithm", *_GRANT, "DryRun"),
    "DeriveSharedSecret": ("KeyId", "KeyAgreementAlgorithm", *_GRANT, "DryRun"),
    "Encapsulate": ("KeyId", "EncapsulationAlgorithm", *_GRANT, "DryRun"),
    "Decapsulate": ("KeyId", "EncapsulationAlgorithm", *_GRANT, "DryRun"),
    "GetKeyLastUsage": _KEY_ONLY,
    "CreateKey": (
        "Description",
        "KeyUsage",
        "KeySpec",
        "CustomerMasterKeySpec",
        "Origin",
        "MultiRegion",
        "CustomKeyStoreId",
        "XksKeyId",
        "BypassPolicyLockoutSafetyCheck",
        "Policy",
        "Tags",
    ),
    "ScheduleKeyDeletion": ("KeyId", "PendingWindowInDays"),
    "CancelKeyDeletion": _KEY_ONLY,
    "EnableKey": _KEY_ONLY,
    "DisableKey": _KEY_ONLY,
    "DescribeKey": ("KeyId", *_GRANT),
    "EnableKeyRotation": ("KeyId", "RotationPeriodInDays"),
    "DisableKeyRotation": _KEY_ONLY,
    "GetKeyRotationStatus": _KEY_ONLY,
    "RotateKeyOnDemand": _KEY_ONLY,
    "ListKeyRotations": ("KeyId", "Limit", "Marker"),
    "GetKeyPolicy": ("KeyId", "PolicyName"),
    "PutKeyPolicy": ("KeyId", "PolicyName", "Policy", "BypassPolicyLockoutSafetyCheck"),
    "ListKeyPolicies": ("KeyId", "Limit", "Marker"),
    "GetPublicKey": ("KeyId", *_GRANT),
    "CreateGrant": (
        "KeyId",
        "GranteePrincipal",
        "RetiringPrincipal",
        "Operations",
        "Constraints",
        "Name",
        *_GRANT,
        "DryRun",
    ),
    "RetireGrant": ("KeyId", "GrantId", "DryRun"),
    "RevokeGrant": ("KeyId", "GrantId", "DryRun"),
    "ListGrants": ("KeyId", "GrantId", "GranteePrincipal", "Limit", "Marker"),
    "ListRetirableGrants": ("RetiringPrincipal", "Limit", "Marker"),
    "GetParametersForImport": ("KeyId", "WrappingAlgorithm", "WrappingKeySpec"),
    "ImportKeyMaterial": (
        "KeyId",
        "ValidTo",
        "ExpirationModel",
        "ImportType",
        "KeyMaterialDescription",
        "KeyMaterialId",
    ),
    "DeleteImportedKeyMaterial": ("KeyId", "KeyMaterialId"),
    "CreateAlias": ("AliasName", "TargetKeyId"),
    "UpdateAlias": ("AliasName", "TargetKeyId"),
    "DeleteAlias": ("AliasName",),
    "ListAliases": ("KeyId", "Limit", "Marker"),
    "ListKeys": ("Limit", "Marker"),
    "TagResource": ("KeyId", "Tags"),
    "UntagResource": ("KeyId", "TagKeys"),
    "ListResourceTags": ("KeyId", "Limit", "Marker"),
    "UpdateKeyDescription": ("KeyId", "Description"),
    "ReplicateKey": ("KeyId", "ReplicaRegion", "Description", "Policy", "BypassPolicyLockoutSafetyCheck", "Tags"),
    "UpdatePrimaryRegion": ("KeyId", "PrimaryRegion"),
}

#: operation -> response fields CloudTrail records; every other operation logs ``responseElements: null``.
RESPONSE_FIELDS: dict[str, tuple[str, ...]] = {
    "CreateKey": ("KeyMetadata",),
    "ScheduleKeyDeletion": ("KeyId", "DeletionDate", "KeyState", "PendingWindowInDays"),
    "CancelKeyDeletion": ("KeyId",),
    "CreateGrant": ("GrantId",),
    "RotateKeyOnDemand": ("KeyId",),
    "ReplicateKey": ("ReplicaKeyMetadata",),
    "UpdateKeyDescription": (),
}

#: wire fields that hold secrets or bulk bytes; never copied even if an allow-list named them.
SECRET_FIELDS = frozenset(
    {
        "Plaintext",
        "CiphertextBlob",
        "CiphertextForRecipient",
        "KeyMaterial",
        "ImportToken",
        "EncryptedKeyMaterial",
        "Message",
        "Signature",
        "Mac",
        "PrivateKeyPlaintext",
        "PrivateKeyCiphertextBlob",
        "SharedSecret",
        "GrantToken",
        "Recipient",
        "PublicKey",
    }
)

#: operations CloudTrail marks ``readOnly: true``: the read-only flag of the engine's operation table.
READ_ONLY_OPERATIONS = READ_ONLY

#: operations whose records carry the key ARN in ``responseElements.keyId`` although the API returns
#: nothing: AWS's CloudTrail entries recorded on or after December 2022 do (DeleteKey, KMS's own
#: service event, gets the same in :func:`kmslab.trail.events.service_event_record`).
_KEY_ARN_RESPONSE = frozenset({"DisableKey"})

#: operations that always log their algorithm, even when the request left it to the default.
_DEFAULT_ALGORITHM = {"Encrypt": "EncryptionAlgorithm", "Decrypt": "EncryptionAlgorithm"}

#: error codes CloudTrail writes differently from the API's ``__type``.
_ERROR_CODES = {"AccessDeniedException": "AccessDenied"}

#: response fields holding timestamps, which CloudTrail prints as "Dec 4, 2023, 12:00:00 AM".
_DATE_FIELDS = frozenset({"CreationDate", "DeletionDate", "ValidTo", "ImportDate", "RotationDate"})


_SURROGATE = re.compile("[\ud800-\udfff]")
#: Request parameters nested deeper than this are recorded as null (CloudTrail records have a size
#: limit too); it keeps a hostile request from failing the copy and so going unrecorded.
_MAX_DEPTH = 32


def standard_text(text: str) -> str:
    """Return text that encodes to UTF-8: unpaired surrogates become U+FFFD.

    Args:
        text: any Python string (a JSON ``"\ud800"`` escape decodes to an unpaired surrogate).

    Returns:
        The same text when it is valid, else a copy with U+FFFD for each unpaired surrogate.
    """
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


#: one strict encoder for every record written (built once: ``json.dumps`` with options builds one per call)
_STRICT = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def record_json(record: Mapping[str, Any]) -> bytes:
    """Serialize one record in standard JSON only, as it goes into a log file's ``Records`` array.

    Args:
        record: a CloudTrail record (from :func:`to_cloudtrail_record`).

    Returns:
        The record as UTF-8 JSON bytes.

    Raises:
        ValueError: the record holds NaN, an infinity or an unpaired surrogate (a record built by
            :func:`to_cloudtrail_record` never does).
    """
    return _STRICT.encode(record).encode("utf-8")  # strict: an unpaired surrogate raises UnicodeEncodeError


def records_json(records: Iterable[Mapping[str, Any]]) -> bytes:
    """Serialize records as a CloudTrail log file body, in standard JSON only.

    Args:
        records: CloudTrail records (from :func:`to_cloudtrail_record`).

    Returns:
        ``{"Records": [...]}`` as UTF-8 bytes.

    Raises:
        ValueError: a record holds NaN, an infinity or an unpaired surrogate (a record built by
            :func:`to_cloudtrail_record` never does).
    """
    return _STRICT.encode({"Records": list(records)}).encode("utf-8")  # strict, as in record_json


def format_event_time(moment: datetime) -> str:
    """Return CloudTrail's ``eventTime`` text for a moment.

    Args:
        moment: a timezone-aware (or UTC-naive) datetime.

    Returns:
        ISO 8601 in UTC to the second with a ``Z`` suffix, e.g. ``2026-01-01T12:00:00Z``.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def lower_camel(name: str) -> str:
    """Return a wire field name as CloudTrail spells it (first letter lower-cased).

    Args:
        name: the API field name, e.g. ``EncryptionContext`` or ``AWSAccountId``.

    Returns:
        ``encryptionContext``, ``aWSAccountId`` (CloudTrail lower-cases only the first letter).
    """
    return name[:1].lower() + name[1:]


def user_name(caller: Caller) -> str | None:
    """Return the user or session name CloudTrail shows for a caller.

    Args:
        caller: the principal.

    Returns:
        The last ARN path element for IAM users and assumed roles, ``root`` for the root user,
        the service for an AWS service, else None.
    """
    if caller.identity_type == "Root":
        return "root"
    if caller.identity_type == "AWSService":
        return caller.invoked_by
    if caller.identity_type in ("IAMUser", "AssumedRole"):
        return caller.arn.rsplit("/", 1)[-1]
    return None


def user_identity(caller: Caller) -> dict[str, Any]:
    """Return CloudTrail's ``userIdentity`` element for a caller.

    Args:
        caller: the principal.

    Returns:
        The element; ``invokedBy`` is set when a service made the call on the caller's behalf.
    """
    if caller.identity_type == "AWSService":
        identity: dict[str, Any] = {"type": "AWSService", "invokedBy": caller.invoked_by or caller.arn}
        return identity
    identity = {
        "type": caller.identity_type,
        "principalId": caller.principal_id or caller.account,
        "arn": caller.arn,
        "accountId": caller.account,
    }
    if caller.access_key_id:
        identity["accessKeyId"] = caller.access_key_id
    if caller.identity_type == "IAMUser":
        identity["userName"] = user_name(caller)
    if caller.identity_type == "AssumedRole":
        identity["sessionContext"] = _session_context(caller)
    if caller.invoked_by:
        identity["invokedBy"] = caller.invoked_by
    return identity


def _session_context(caller: Caller) -> dict[str, Any]:
    # arn:aws:sts::111122223333:assumed-role/RoleName/session -> the role behind the session
    parts = caller.arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    role_name = resource.split("/")[1] if resource.count("/") >= 2 else resource
    principal = caller.principal_id.split(":", 1)[0] if caller.principal_id else ""
    return {
        "sessionIssuer": {
            "type": "Role",
            "principalId": principal,
            "arn": f"arn:aws:iam::{caller.account}:role/{role_name}",
            "accountId": caller.account,
            "userName": role_name,
        },
        "attributes": {"mfaAuthenticated": "false"},
    }


def request_parameters(operation: str, request: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the ``requestParameters`` CloudTrail logs for a request: allow-listed fields only.

    Args:
        operation: the KMS operation.
        request: the request in wire shape (may hold plaintext; it is not copied).

    Returns:
        The safe fields, lowerCamelCase, or None when the request carried none.
    """
    allowed = REQUEST_FIELDS.get(operation, ("KeyId",))
    params: dict[str, Any] = {}
    for name in allowed:
        if name in SECRET_FIELDS or name not in request:
            continue
        params[lower_camel(name)] = _plain_copy(request[name])
    algorithm = _DEFAULT_ALGORITHM.get(operation)
    if algorithm is not None:
        params.setdefault(lower_camel(algorithm), "SYMMETRIC_DEFAULT")
    return params or None


def response_elements(operation: str, response: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Return the ``responseElements`` CloudTrail logs: null for cryptographic and read operations.

    Args:
        operation: the KMS operation.
        response: the response in wire shape, or None when the call failed.

    Returns:
        The allow-listed fields, lowerCamelCase with CloudTrail's date text, or None.
    """
    allowed = RESPONSE_FIELDS.get(operation)
    if response is None or not allowed:
        return None
    elements = {
        lower_camel(name): _response_value(name, response[name])
        for name in allowed
        if name in response and name not in SECRET_FIELDS
    }
    return elements or None


def _response_value(name: str, value: Any) -> Any:
    if name in _DATE_FIELDS and isinstance(value, int | float | datetime):
        return cloudtrail_date(value)
    if isinstance(value, Mapping):
        return {
            lower_camel(str(k)): _response_value(str(k), v) for k, v in value.items() if str(k) not in SECRET_FIELDS
        }
    if isinstance(value, list | tuple):
        return [_response_value(name, v) for v in value]
    return value


def cloudtrail_date(value: float | datetime) -> str:
    """Return a timestamp as CloudTrail prints dates inside ``responseElements``.

    Args:
        value: epoch seconds or a datetime.

    Returns:
        For example ``Dec 4, 2023, 12:00:00 AM`` (UTC).
    """
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(float(value), UTC)
    moment = moment.astimezone(UTC)
    hour = moment.hour % 12 or 12
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S} {'AM' if moment.hour < 12 else 'PM'}"


def _plain_copy(value: Any, depth: int = 0) -> Any:
    """Copy JSON-like data as standard JSON values, so a record never aliases the caller's request."""
    if isinstance(value, str):
        return standard_text(value)
    if isinstance(value, bool | int | None):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= _MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {standard_text(str(k)): _plain_copy(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_copy(v, depth + 1) for v in value]
    return None  # bytes and anything else that is not JSON


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
