"""The local S3: the kit's S3 operations with real SSE-KMS through the local KMS, and ciphertext at rest.

One-way layering, as moto's services: :mod:`~kmslab.cloud.s3.urls` (routing) →
:mod:`~kmslab.cloud.s3.responses` (wire) → :mod:`~kmslab.cloud.s3.models`,
:mod:`~kmslab.cloud.s3.objects`, :mod:`~kmslab.cloud.s3.multipart` (operations) →
:mod:`~kmslab.cloud.s3.store` (persistence), with :mod:`~kmslab.cloud.s3.sse` and
:mod:`~kmslab.cloud.s3.crypto` for encryption and :mod:`~kmslab.cloud.s3.policy` for authorization.
"""

from __future__ import annotations

from kmslab.cloud.s3.responses import S3Service

__all__ = ["S3Service"]
