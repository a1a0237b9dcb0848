"""A local AWS KMS with AWS's real key semantics: in-process engine, wire layer and seams.

Typical use::

    from kmslab.kms import LocalKms

    kms = LocalKms()                      # in memory; LocalKms("data") persists
    client = kms.boto3_client()           # a real boto3 KMS client, no network
    key_id = client.create_key()["KeyMetadata"]["KeyId"]
"""

from __future__ import annotations

from kmslab.kms.engine import LocalKms
from kmslab.kms.errors import KmsError
from kmslab.kms.seams import (
    AllowAll,
    ApiCall,
    AuthorizationRequest,
    Authorizer,
    Caller,
    Clock,
    EventSink,
    FixedClock,
    SystemClock,
)

__all__ = [
    "AllowAll",
    "ApiCall",
    "AuthorizationRequest",
    "Authorizer",
    "Caller",
    "Clock",
    "EventSink",
    "FixedClock",
    "KmsError",
    "LocalKms",
    "SystemClock",
]
