"""The local S3's objects: put, get, head, delete, copy, with SSE-S3 or real SSE-KMS, and versioning."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from kmslab.cloud.errors import CloudError
from kmslab.cloud.s3.bodies import BytesBody, UploadBody
from kmslab.cloud.s3.crypto import SegmentWriter, new_uid, read_plain
from kmslab.cloud.s3.errors import SIGV4_REQUIRED, invalid_argument, no_such_key, not_implemented
from kmslab.cloud.s3.headers import Encryption, choose_encryption, sse_context, user_metadata
from kmslab.cloud.s3.models import Buckets, acls_disabled, check_acl
from kmslab.cloud.s3.sse import SseKeys
from kmslab.cloud.s3.store import S3Store
from kmslab.cloud.s3.versions import new_version, version_id_for
from kmslab.iam.evaluate import ANONYMOUS_ARN
from kmslab.kms import Caller


class Objects:
    """Object operations.

    Args:
        store: the persistence.
        buckets: the bucket operations (lookup and authorization).
        keys: the data keys.
    """

    def __init__(self, store: S3Store, buckets: Buckets, keys: SseKeys) -> None:
        self.store = store
        self.buckets = buckets
        self.keys = keys

    def authorize(
        self,
        caller: Caller,
        action: str,
        bucket: str,
        key: str,
        doc: Mapping[str, Any],
        region: str,
        context: Mapping[str, Any],
        object_acl: str | None = None,
    ) -> None:
        """Authorize an object-level action.

        Args:
            caller: who asks.
            action: the IAM action.
            bucket: the bucket.
            key: the key.
            doc: the bucket's document.
            region: the request's region.
            context: S3 condition keys.
            object_acl: the object's canned ACL, for reads.
        """
        self.buckets.authz.check(
            caller=caller,
            action=action,
            bucket=bucket,
            key=key,
            doc=doc,
            region=region,
            context=context,
            object_acl=object_acl,
        )

    def write_blob(self, key_bytes: bytes, uid: str, part: int, pieces: Iterator[bytes]) -> tuple[str, int, bytes]:
        """Seal a body into a durable blob.

        Args:
            key_bytes: the object key.
            uid: the object (upload) unique ID.
            part: the part number.
            pieces: the plaintext.

        Returns:
            (blob name, plaintext size, MD5 of the ciphertext).
        """
        name = f"{uid}.{part}.{os.urandom(4).hex()}"
        tmp = self.store.blob_path(name + ".tmp")
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with tmp.open("wb") as out:
                writer = SegmentWriter(key_bytes, uid, part, out)
                for piece in pieces:
                    writer.write(piece)
                writer.finish()
                out.flush()
                os.fsync(out.fileno())
            with tmp.open("rb") as blob:
                for chunk in iter(lambda: blob.read(1 << 20), b""):
                    digest.update(chunk)
            self.store.commit_blob(tmp, name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return name, writer.size, digest.digest()

    def new_version_id(self, bucket: Mapping[str, Any]) -> str:
        """The version ID of a new write: random under versioning, else ``null``.

        Args:
            bucket: the bucket's document.

        Returns:
            The version ID.
        """
        return version_id_for(bucket)

    def new_key(
        self,
        caller: Caller,
        doc: Mapping[str, Any],
        bucket: str,
        key: str,
        encryption: Encryption,
        encryption_context: Mapping[str, str] | None = None,
    ) -> tuple[bytes, dict[str, Any]]:
        """Make the data key of a new object (or upload) under the encryption its write chose.

        Args:
            caller: who writes.
            doc: the bucket's document.
            bucket: the bucket.
            key: the object's key.
            encryption: the encryption :func:`choose_encryption` chose.
            encryption_context: more SSE-KMS encryption context (a service's write).

        Returns:
            (the object key, the version's encryption document).
        """
        return self.keys.new_object_key(
            caller=caller,
            region=doc["region"],
            algorithm=encryption.algorithm,
            key_id=encryption.key_id,
            bucket_key=encryption.bucket_key,
            bucket_arn=f"arn:aws:s3:::{bucket}",
            object_arn=f"arn:aws:s3:::{bucket}/{key}",
            extra_context=encryption_context,
        )

    def put(
        self,
        caller: Caller,
        region: str,
        bucket: str,
        key: str,
        headers: Mapping[str, str],
        body: UploadBody | BytesBody,
        *,
        secure: bool,
        extra_context: Mapping[str, Any] | None = None,
        sigv4: bool = True,
        encryption_context: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """PutObject.

        Args:
            caller: who asks.
            region: the request's region.
            bucket: the bucket.
            key: the key.
            headers: the request headers.
            body: the upload body.
            secure: whether the request came over TLS.
            extra_context: more condition keys (``aws:SourceArn``... when a service writes).
            sigv4: whether the request was signed with Signature Version 4.
            encryption_context: more SSE-KMS encryption context (a service's write).

        Returns:
            The new version's document.
        """
        doc = self.buckets.get(bucket)
        if len(key.encode()) > 1024:
            raise CloudError("KeyTooLongError", "Your key is too long", 400)
        encryption = choose_encryption(headers, doc, caller, secure, sigv4)
        self.authorize(
            caller, "s3:PutObject", bucket, key, doc, region, {**sse_context(headers), **(extra_context or {})}
        )
        acl = headers.get("x-amz-acl")
        check_acl(doc, acl)
        uid = new_uid()
        object_key, enc = self.new_key(caller, doc, bucket, key, encryption, encryption_context)
        blob, size, cipher_md5 = self.write_blob(object_key, uid, 1, body.pieces())
        etag = body.md5.hexdigest() if encryption.algorithm == "AES256" else cipher_md5.hex()
        parts = [{"blob": blob, "part": 1, "size": size}]
        version = new_version(doc, uid, etag, user_metadata(headers), enc, acl or "private", parts)
        return self.commit(bucket, key, version)

    def commit(self, bucket: str, key: str, version: dict[str, Any]) -> dict[str, Any]:
        """Make a new version current (durably) and delete the blobs it replaced.

        Args:
            bucket: the bucket.
            key: the key.
            version: the version's document.

        Returns:
            The document.
        """
        replaced = self.store.put_version(bucket, key, version)
        self.store.remove_blobs(replaced)
        return version

    def find(self, bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
        """Find the version a read names, or fail as S3 does.

        Args:
            bucket: the bucket.
            key: the key.
            version_id: the ``versionId`` parameter.

        Returns:
            The version's document.
        """
        version = self.store.version(bucket, key, version_id) if version_id else self.store.latest(bucket, key)
        if version is None:
            if version_id:
                raise CloudError(
                    "NoSuchVersion", "The specified version does not exist.", 404, {"Key": key, "VersionId": version_id}
                )
            raise no_such_key(key)
        if version.get("delete_marker"):
            if version_id:
                raise CloudError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
            raise no_such_key(key)
        return version

    def open(
        self,
        caller: Caller,
        region: str,
        bucket: str,
        key: str,
        version_id: str | None,
        *,
        action: str = "s3:GetObject",
        sigv4: bool = True,
        decrypt: bool = True,
    ) -> tuple[dict[str, Any], bytes]:
        """Authorize a read and recover the object's key (KMS Decrypt as the requester for SSE-KMS).

        Args:
            caller: who asks.
            region: the request's region.
            bucket: the bucket.
            key: the key.
            version_id: the version, if named.
            action: the IAM action.
            sigv4: whether the request was signed with Signature Version 4.
            decrypt: recover the object key (False for HeadObject, which does not call KMS).

        Returns:
            (the version's document, the object key; empty when not decrypting).
        """
        doc = self.buckets.get(bucket)
        version = self.find(bucket, key, version_id)
        if version_id and action == "s3:GetObject":
            action = "s3:GetObjectVersion"
        self.authorize(caller, action, bucket, key, doc, region, {}, object_acl=version.get("acl"))
        enc = version["enc"]
        if enc["algorithm"] == "aws:kms" and (caller.arn == ANONYMOUS_ARN or not sigv4):
            raise invalid_argument(SIGV4_REQUIRED, "Authorization", "null")
        if not decrypt:
            return version, b""
        return version, self.keys.open_object_key(caller=caller, region=doc["region"], enc=enc)

    def _acl_target(
        self, caller: Caller, region: str, bucket: str, key: str, version_id: str | None, verb: str, acl: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Find the object an ACL request names and authorize ``s3:<verb>Object[Version]Acl`` on it."""
        doc = self.buckets.get(bucket)
        version = self.find(bucket, key, version_id)
        action = f"s3:{verb}Object{'Version' if version_id else ''}Acl"
        self.authorize(caller, action, bucket, key, doc, region, {"s3:x-amz-acl": acl} if acl else {})
        return doc, version

    def get_acl(self, caller: Caller, region: str, bucket: str, key: str, version_id: str | None) -> tuple[str, str]:
        """GetObjectAcl: authorize, and return the owner and the object's canned ACL.

        Args:
            caller: who asks.
            region: the request's region.
            bucket: the bucket.
            key: the key.
            version_id: the version, if named.

        Returns:
            (the owner's canonical ID, the canned ACL).
        """
        doc, version = self._acl_target(caller, region, bucket, key, version_id, "Get", None)
        return str(doc["owner"]), str(version.get("acl", "private"))

    def put_acl(
        self, caller: Caller, region: str, bucket: str, key: str, version_id: str | None, acl: str | None
    ) -> None:
        """PutObjectAcl with a canned ACL (``x-amz-acl``).

        With the bucket's Object Ownership at ``BucketOwnerEnforced`` (the default), ACLs are disabled:
        only ``bucket-owner-full-control`` is accepted, anything else is ``AccessControlListNotSupported``
        (S3 User Guide, "Controlling ownership of objects and disabling ACLs for your bucket").

        Args:
            caller: who asks.
            region: the request's region.
            bucket: the bucket.
            key: the key.
            version_id: the version, if named.
            acl: the canned ACL; None when the request gives grants instead.

        Raises:
            CloudError: AccessDenied, AccessControlListNotSupported, or NotImplemented for explicit grants.
        """
        doc, version = self._acl_target(caller, region, bucket, key, version_id, "Put", acl)
        if acl is None:
            if acls_disabled(doc):
                raise CloudError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)
            raise not_implemented("PutObjectAcl with grant headers or an XML body (use a canned ACL)")
        check_acl(doc, acl)
        # False when the object was replaced or deleted since it was read: S3 applies requests in some
        # order, and this one came first (its ACL went with the object it named)
        self.store.set_acl(bucket, key, version["version_id"], version["uid"], acl)

    def plaintext(self, version: Mapping[str, Any], object_key: bytes, start: int, end: int) -> Iterator[bytes]:
        """Stream plaintext bytes ``start..end`` (inclusive) of a version, across its parts.

        Args:
            version: the version's document.
            object_key: its key.
            start: the first byte.
            end: the last byte.

        Yields:
            Plaintext slices.
        """
        offset = 0
        for part in version["parts"]:
            lo, hi = offset, offset + part["size"] - 1
            if part["size"] and hi >= start and lo <= end:
                yield from read_plain(
                    self.store.blob_path(part["blob"]),
                    object_key,
                    version["uid"],
                    part["part"],
                    part["size"],
                    max(start, lo) - lo,
                    min(end, hi) - lo,
                )
            offset += part["size"]

    def delete(self, caller: Caller, region: str, bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
        """DeleteObject: a delete marker under versioning, else the object goes.

        Args:
            caller: who asks.
            region: the request's region.
            bucket: the bucket.
            key: the key.
            version_id: a version to remove for good.

        Returns:
            ``{"version_id": ..., "delete_marker": bool}`` for the answer's headers.
        """
        doc = self.buckets.get(bucket)
        action = "s3:DeleteObjectVersion" if version_id else "s3:DeleteObject"
        self.authorize(caller, action, bucket, key, doc, region, {})
        if version_id:
            gone = self.store.version(bucket, key, version_id)
            self.store.remove_blobs(self.store.delete_version(bucket, key, version_id))
            return {"version_id": version_id, "delete_marker": bool(gone and gone.get("delete_marker"))}
        if doc.get("versioning") in ("Enabled", "Suspended"):
            marker = {
                "version_id": self.new_version_id(doc),
                "uid": new_uid(),
                "delete_marker": True,
                "last_modified": time.time(),
                "parts": [],
            }
            self.commit(bucket, key, marker)
            return {"version_id": marker["version_id"], "delete_marker": True}
        self.store.remove_blobs(self.store.delete_version(bucket, key, "null"))
        return {"version_id": None, "delete_marker": False}

    def copy(
        self, caller: Caller, region: str, bucket: str, key: str, headers: Mapping[str, str], *, secure: bool
    ) -> dict[str, Any]:
        """CopyObject: read the source as the requester, write the copy under the target's encryption.

        Args:
            caller: who asks.
            region: the request's region.
            bucket: the target bucket.
            key: the target key.
            headers: the request headers.
            secure: whether the request came over TLS.

        Returns:
            The new version's document.
        """
        from urllib.parse import unquote

        source = unquote(headers["x-amz-copy-source"])
        source, _, query = source.partition("?")
        src_bucket, _, src_key = source.lstrip("/").partition("/")
        if not src_bucket or not src_key:
            raise invalid_argument(
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                "x-amz-copy-source",
                source[:100],
            )
        src_version = query[len("versionId=") :] if query.startswith("versionId=") else None
        version, src_obj_key = self.open(caller, region, src_bucket, src_key, src_version)
        doc = self.buckets.get(bucket)
        encryption = choose_encryption(headers, doc, caller, secure)
        same = (src_bucket, src_key) == (bucket, key)
        directive = headers.get("x-amz-metadata-directive", "COPY")
        if same and directive == "COPY" and "x-amz-server-side-encryption" not in headers:
            raise invalid_argument(
                "This copy request is illegal because it is trying to copy an object to itself without "
                "changing the object's metadata, storage class, website redirect location or encryption "
                "attributes."
            )
        self.authorize(caller, "s3:PutObject", bucket, key, doc, region, sse_context(headers))
        check_acl(doc, headers.get("x-amz-acl"))
        uid = new_uid()
        object_key, enc = self.new_key(caller, doc, bucket, key, encryption)
        plain_md5 = hashlib.md5(usedforsecurity=False)

        def pieces() -> Iterator[bytes]:
            for piece in self.plaintext(version, src_obj_key, 0, version["size"] - 1):
                plain_md5.update(piece)
                yield piece

        blob, size, cipher_md5 = self.write_blob(object_key, uid, 1, pieces())
        meta = version["meta"] if directive == "COPY" else user_metadata(headers)
        etag = plain_md5.hexdigest() if encryption.algorithm == "AES256" else cipher_md5.hex()
        parts = [{"blob": blob, "part": 1, "size": size}]
        new = new_version(doc, uid, etag, meta, enc, headers.get("x-amz-acl", "private"), parts)
        return self.commit(bucket, key, new)
