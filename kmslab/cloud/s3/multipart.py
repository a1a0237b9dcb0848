"""Multipart uploads: the data key is made once (CreateMultipartUpload calls KMS GenerateDataKey) and
opened for every part (UploadPart calls KMS Decrypt as the requester, which is why SSE-KMS multipart
uploads need ``kms:Decrypt``, as on AWS)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

from kmslab.cloud.errors import CloudError
from kmslab.cloud.s3.bodies import UploadBody
from kmslab.cloud.s3.crypto import new_uid
from kmslab.cloud.s3.headers import choose_encryption, sse_context, user_metadata
from kmslab.cloud.s3.models import check_acl
from kmslab.cloud.s3.objects import Objects
from kmslab.cloud.s3.versions import new_version
from kmslab.kms import Caller

MIN_PART = 5 * 1024 * 1024
MAX_PARTS = 10000


def _no_such_upload(upload_id: str) -> CloudError:
    return CloudError(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
        "aborted or completed.",
        404,
        {"UploadId": upload_id},
    )


class Multipart:
    """Multipart upload operations.

    Args:
        objects: the object operations (authorization, blobs, keys, commit).
    """

    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        self.store = objects.store

    def create(
        self, caller: Caller, region: str, bucket: str, key: str, headers: Mapping[str, str], *, secure: bool
    ) -> tuple[str, dict[str, Any]]:
        """CreateMultipartUpload.

        Args:
            caller: who asks.
            region: the request's region.
            bucket: the bucket.
            key: the key.
            headers: the request headers.
            secure: whether the request came over TLS.

        Returns:
            (upload ID, the upload's encryption document).
        """
        doc = self.objects.buckets.get(bucket)
        encryption = choose_encryption(headers, doc, caller, secure)
        self.objects.authorize(caller, "s3:PutObject", bucket, key, doc, region, sse_context(headers))
        check_acl(doc, headers.get("x-amz-acl"))
        uid = new_uid()
        _, enc = self.objects.new_key(caller, doc, bucket, key, encryption)
        upload_id = new_uid() + new_uid()
        self.store.put_upload(
            upload_id,
            bucket,
            key,
            {
                "uid": uid,
                "enc": enc,
                "meta": user_metadata(headers),
                "acl": headers.get("x-amz-acl", "private"),
                "initiated": time.time(),
                "initiator": caller.arn,
            },
        )
        return upload_id, enc

    def _upload(
        self, caller: Caller, region: str, bucket: str, key: str, upload_id: str, action: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Find an upload of this bucket and key, then authorize ``action`` on the object for the caller.

        Returns:
            (the bucket's document, the upload's document).
        """
        doc = self.objects.buckets.get(bucket)
        found = self.store.upload(upload_id)
        if found is None or found[0] != bucket or found[1] != key:
            raise _no_such_upload(upload_id)
        self.objects.authorize(caller, action, bucket, key, doc, region, {})
        return doc, found[2]

    def upload_part(
        self, caller: Caller, region: str, bucket: str, key: str, upload_id: str, number_text: str, body: UploadBody
    ) -> tuple[str, dict[str, Any]]:
        """UploadPart.

        Args:
            caller: who asks.
            region: the request's region.
            bucket: the bucket.
            key: the key.
            upload_id: the upload.
            number_text: the ``partNumber`` parameter.
            body: the part's body.

        Returns:
            (the part's ETag, the upload's encryption document).
        """
        try:
            number = int(number_text)
        except ValueError:
            number = 0
        if not 1 <= number <= MAX_PARTS:
            raise CloudError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", 400)
        doc, upload = self._upload(caller, region, bucket, key, upload_id, "s3:PutObject")
        object_key = self.objects.keys.open_object_key(caller=caller, region=doc["region"], enc=upload["enc"])
        blob, size, cipher_md5 = self.objects.write_blob(object_key, upload["uid"], number, body.pieces())
        etag = body.md5.hexdigest() if upload["enc"]["algorithm"] == "AES256" else cipher_md5.hex()
        self.store.remove_blobs(
            self.store.put_part(
                upload_id, number, {"blob": blob, "size": size, "etag": etag, "last_modified": time.time()}
            )
        )
        return etag, upload["enc"]

    def complete(
        self, caller: Caller, region: str, bucket: str, key: str, upload_id: str, chosen: list[tuple[int, str]]
    ) -> dict[str, Any]:
        """CompleteMultipartUpload.

        Args:
            caller: who asks.
            region: the request's region.
            bucket: the bucket.
            key: the key.
            upload_id: the upload.
            chosen: (part number, ETag) pairs from the request body.

        Returns:
            The new version's document.
        """
        doc, upload = self._upload(caller, region, bucket, key, upload_id, "s3:PutObject")
        if not chosen:
            raise CloudError(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema",
                400,
            )
        stored = self.store.parts(upload_id)
        numbers = [n for n, _ in chosen]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise CloudError(
                "InvalidPartOrder",
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
                400,
            )
        parts = []
        for index, (number, etag) in enumerate(chosen):
            part = stored.get(number)
            if part is None or part["etag"] != etag.strip('"'):
                raise CloudError(
                    "InvalidPart",
                    "One or more of the specified parts could not be found. The part may not have been "
                    "uploaded, or the specified entity tag may not have matched the part's entity tag.",
                    400,
                )
            if index < len(chosen) - 1 and part["size"] < MIN_PART:
                raise CloudError(
                    "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.", 400
                )
            parts.append({"blob": part["blob"], "part": number, "size": part["size"], "etag": part["etag"]})
        combined = hashlib.md5(b"".join(bytes.fromhex(p["etag"]) for p in parts), usedforsecurity=False).hexdigest()
        etag = f"{combined}-{len(parts)}"
        version = new_version(doc, upload["uid"], etag, upload["meta"], upload["enc"], upload["acl"], parts)
        self.objects.commit(bucket, key, version)
        unused = [p["blob"] for n, p in stored.items() if n not in set(numbers)]
        self.store.drop_upload(upload_id)
        self.store.remove_blobs(unused)
        return version

    def abort(self, caller: Caller, region: str, bucket: str, key: str, upload_id: str) -> None:
        """AbortMultipartUpload.

        Args:
            caller: who asks.
            region: the request's region.
            bucket: the bucket.
            key: the key.
            upload_id: the upload.
        """
        self._upload(caller, region, bucket, key, upload_id, "s3:AbortMultipartUpload")
        blobs = [p["blob"] for p in self.store.parts(upload_id).values()]
        self.store.drop_upload(upload_id)
        self.store.remove_blobs(blobs)

    def list_parts(
        self, caller: Caller, region: str, bucket: str, key: str, upload_id: str
    ) -> list[tuple[int, dict[str, Any]]]:
        """ListParts.

        Args:
            caller: who asks.
            region: the request's region.
            bucket: the bucket.
            key: the key.
            upload_id: the upload.

        Returns:
            (part number, document) pairs, by number.
        """
        self._upload(caller, region, bucket, key, upload_id, "s3:ListMultipartUploadParts")
        return sorted(self.store.parts(upload_id).items())
