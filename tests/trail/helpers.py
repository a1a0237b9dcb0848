"""Builders of ApiCall objects shaped as the local KMS hands them to sinks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kmslab.kms.seams import ApiCall, Caller
from tests.personas import ACCOUNT, ALICE, APP_ROLE, REGION, S3_FOR_APP

__all__ = [
    "ACCOUNT",
    "ALICE",
    "APP_ROLE",
    "CIPHERTEXT_B64",
    "KEY_ARN",
    "KEY_ID",
    "PLAINTEXT_B64",
    "REGION",
    "S3_FOR_APP",
    "call",
]

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
PLAINTEXT_B64 = "U0VDUkVULXBsYWludGV4dC12YWx1ZQ=="  # b"SECRET-plaintext-value"
CIPHERTEXT_B64 = "AQICAHhDSVBIRVJURVhULWJsb2ItdmFsdWU="


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
