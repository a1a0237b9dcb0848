"""The local cloud: one offline endpoint where the kit's AWS services behave as on AWS (``kmslab local``).

One gateway (:mod:`kmslab.cloud.gateway`) authenticates every request (SigV4, header or presigned
form) and routes it by its credential scope's service to one service module: the local KMS
engine, the kit's own S3 with real SSE-KMS (:mod:`kmslab.cloud.s3`), its own STS, and moto
in-process for the other services (:mod:`kmslab.cloud.services.motobridge`).
"""

from __future__ import annotations

from kmslab.cloud.config import CloudConfig
from kmslab.cloud.errors import CloudError

__all__ = ["CloudConfig", "CloudError"]
