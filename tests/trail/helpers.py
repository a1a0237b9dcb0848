"""Builders of ApiCall objects shaped as the local KMS hands them to sinks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kmslab.kms.seams import ApiCall, Caller

ACCOUNT = "111122223333"
REGION = "us-east-1"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
PLAINTEXT_B64 = "U0VDUkVULXBsYWludGV4dC12YWx1ZQ=="  # b"SECRET-plaintext-value"
CIPHERTEXT_B64 = "AQICAHhDSVBIRVJURVhULWJsb2ItdmFsdWU="

ALICE = Caller(
    arn=f"arn:aws:iam::{ACCOUNT}:user/Alice",
    account=ACCOUNT,
    identity_type="IAMUser",
    principal_id="AIDAEXAMPLEALICE",
    access_key_id="AKIAEXAMPLEALICE",
    source_ip="192.0.2.10",
    user_agent="aws-cli/2.17.0",
    secure_transport=True,
)
APP_ROLE = Caller(
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/AppRole/app-session",
    account=ACCOUNT,
    identity_type="AssumedRole",
    principal_id="AROAEXAMPLEAPP:app-session",
    access_key_id="ASIAEXAMPLEAPP",
    source_ip="198.51.100.7",
    user_agent="Boto3/1.44.5",
)
S3_FOR_APP = Caller(
    arn=APP_ROLE.arn,
    account=ACCOUNT,
    identity_type="AssumedRole",
    principal_id=APP_ROLE.principal_id,
    access_key_id="ASIAEXAMPLEAPP",
    source_ip="198.51.100.7",
    invoked_by="s3.amazonaws.com",
)


def call(
    operation: str,
    request: dict[str, Any],
    *,
    response: dict[str, Any] | None = None,
    caller: Caller = ALICE,
    when: datetime | None = None,
    error: tuple[str, str] | None = None,
    key_arns: tuple[str, ...] = (KEY_ARN,),
    request_id: str = "req-1",
    region: str = REGION,
) -> ApiCall:
    """Return an ApiCall; success unless ``error`` = (code, message)."""
    return ApiCall(
        event_time=when or datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC),
        operation=operation,
        region=region,
        account=ACCOUNT,
        caller=caller,
        request_id=request_id,
        request=request,
        response=None if error else (response if response is not None else {}),
        error_code=error[0] if error else None,
        error_message=error[1] if error else None,
        key_arns=key_arns,
    )
