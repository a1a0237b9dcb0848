"""An object version's document: what PutObject, CopyObject and CompleteMultipartUpload store for a new version."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kmslab.cloud.s3.crypto import new_uid

__all__ = ["new_version", "version_id_for"]


def version_id_for(bucket: Mapping[str, Any]) -> str:
    """The version ID of a new write: random under versioning, else ``null``.

    Args:
        bucket: the bucket's document.

    Returns:
        The version ID.
    """
    return new_uid() if bucket.get("versioning") == "Enabled" else "null"


def new_version(
    bucket: Mapping[str, Any],
    uid: str,
    etag: str,
    meta: Any,
    enc: dict[str, Any],
    acl: str,
    parts: list[dict[str, Any]],
) -> dict[str, Any]:
    """The document of a new object version (PutObject, CopyObject, CompleteMultipartUpload).

    Args:
        bucket: the bucket's document (its versioning decides the version ID).
        uid: the object's unique ID (its blobs' and key's name).
        etag: the ETag.
        meta: the user metadata.
        enc: the encryption document.
        acl: the canned ACL.
        parts: the blobs, in order (``size`` each); the object's size is their sum.

    Returns:
        The document, last modified now.
    """
    return {
        "version_id": version_id_for(bucket),
        "uid": uid,
        "size": sum(p["size"] for p in parts),
        "etag": etag,
        "last_modified": time.time(),
        "meta": meta,
        "enc": enc,
        "acl": acl,
        "parts": parts,
    }
