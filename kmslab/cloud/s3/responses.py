"""The local S3 on the wire: REST-XML requests in, answers out (the service module behind the gateway)."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import formatdate
from pathlib import Path
from typing import Any

from kmslab.cloud.errors import CloudError, xml_text
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.cloud.s3._wire import MAX_CONFIG_BYTES, NS, ok, text, xml
from kmslab.cloud.s3.acl import access_control_policy
from kmslab.cloud.s3.bodies import BytesBody, UploadBody
from kmslab.cloud.s3.bucket_ops import HANDLERS, NO_BUCKET, BucketRequest
from kmslab.cloud.s3.errors import malformed_xml, not_implemented
from kmslab.cloud.s3.listing import iso, list_v1, list_v2, list_versions
from kmslab.cloud.s3.models import Buckets
from kmslab.cloud.s3.multipart import Multipart
from kmslab.cloud.s3.objects import Objects
from kmslab.cloud.s3.policy import BucketAuthorizer
from kmslab.cloud.s3.sse import SseKeys
from kmslab.cloud.s3.store import S3Store
from kmslab.cloud.s3.urls import route
from kmslab.cloud.services.managed_keys import ManagedKeys
from kmslab.iam import CloudIdentities
from kmslab.kms import Caller, LocalKms


def _sse_headers(enc: dict[str, Any]) -> list[tuple[str, str]]:
    headers = [("x-amz-server-side-encryption", enc["algorithm"])]
    if enc["algorithm"] == "aws:kms":
        headers.append(("x-amz-server-side-encryption-aws-kms-key-id", enc["key_arn"]))
        if enc.get("bucket_key"):
            headers.append(("x-amz-server-side-encryption-bucket-key-enabled", "true"))
    return headers


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].partition("-")
    try:
        if not first:
            length = int(last)
            if length <= 0:
                raise ValueError
            return max(0, size - length), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        raise CloudError("InvalidRange", "The requested range is not satisfiable", 416, {"ActualObjectSize": str(size)})
    return start, min(end, size - 1)


class S3Service:
    """The local S3.

    Args:
        root: its data directory.
        kms: the local KMS engine (SSE-KMS).
        identities: the callers' IAM policies.
        account: the account that owns every bucket.
        region: the default region.
        managed: the AWS managed keys.
    """

    protocol = "rest-xml"

    def __init__(
        self, root: Path, *, kms: LocalKms, identities: CloudIdentities, account: str, region: str, managed: ManagedKeys
    ) -> None:
        self.store = S3Store(root)
        self.keys = SseKeys(kms, self.store, account, managed)
        self.buckets = Buckets(self.store, BucketAuthorizer(identities, account), account)
        self.objects = Objects(self.store, self.buckets, self.keys)
        self.multipart = Multipart(self.objects)
        self.region = region

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def put_bytes(
        self,
        caller: Caller,
        region: str,
        bucket: str,
        key: str,
        data: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        context: Mapping[str, Any] | None = None,
        encryption_context: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Write an object as another local service does (e.g. CloudTrail delivering a log file).

        The write goes through the same checks as a PutObject request: the bucket policy (with the
        given condition keys, e.g. ``aws:SourceArn``/``aws:SourceAccount``), Block Public Access, the
        encryption headers or the bucket default, and SSE-KMS as ``caller``.

        Args:
            caller: who writes (a service principal: ``identity_type="AWSService"``).
            region: the region.
            bucket: the bucket.
            key: the key.
            data: the object's bytes.
            headers: request headers to apply (lower-case), e.g. ``x-amz-server-side-encryption``.
            context: more condition keys for the bucket policy.
            encryption_context: with SSE-KMS, more encryption context for the object's data key
                (CloudTrail adds ``aws:cloudtrail:arn``), kept with the object and sent on every read.

        Returns:
            The new version's document (``etag``, ``version_id``, ``enc``...).

        Raises:
            CloudError: S3's error (AccessDenied, KMS.*...).
        """
        return self.objects.put(
            caller,
            region,
            bucket,
            key,
            dict(headers or {}),
            BytesBody(data),
            secure=True,
            extra_context=context,
            encryption_context=encryption_context,
        )

    def get_bytes(self, caller: Caller, region: str, bucket: str, key: str) -> bytes:
        """Read a whole object as another local service does (e.g. Athena reading a table's files).

        Args:
            caller: who reads.
            region: the region.
            bucket: the bucket.
            key: the key.

        Returns:
            The plaintext.

        Raises:
            CloudError: S3's error (NoSuchKey, AccessDenied, KMS.*...).
        """
        version, object_key = self.objects.open(caller, region, bucket, key, None)
        if not version["size"]:
            return b""
        return b"".join(self.objects.plaintext(version, object_key, 0, version["size"] - 1))

    def stats(self) -> dict[str, Any]:
        """S3's KMS call counter and Bucket Key cache figures.

        Returns:
            The figures.
        """
        return self.keys.stats()

    def handle(self, request: Incoming, call: Call) -> Outgoing:  # noqa: C901 - one dispatch table
        """Answer one S3 request.

        Args:
            request: the request.
            call: who sends it.

        Returns:
            The answer.
        """
        r = route(request.method, request.raw_path, request.query, request.host)
        op, bucket, key, params = r.operation, r.bucket, r.key, r.params
        caller, region, h = call.caller, call.region, request.headers
        if op == "PutObject" and "x-amz-copy-source" in h:
            version = self.objects.copy(caller, region, bucket, key, h, secure=request.secure)
            body = (
                f"<CopyObjectResult><LastModified>{iso(version['last_modified'])}</LastModified><ETag>&quot;"
                f"{version['etag']}&quot;</ETag></CopyObjectResult>"
            )
            return ok(body, headers=self._version_headers(version, bucket))
        if op == "UploadPart" and "x-amz-copy-source" in h:
            raise not_implemented("UploadPartCopy")
        if op == "PutObject":
            version = self.objects.put(
                caller,
                region,
                bucket,
                key,
                h,
                UploadBody(request, call.payload_hash),
                secure=request.secure,
                sigv4=call.sigv4,
            )
            return ok(headers=[("ETag", f'"{version["etag"]}"'), *self._version_headers(version, bucket)])
        if op in ("GetObject", "HeadObject"):
            return self._get(request, call, bucket, key, params, head=op == "HeadObject")
        if op == "GetObjectAcl":
            owner, canned = self.objects.get_acl(caller, region, bucket, key, params.get("versionId"))
            return ok(access_control_policy(owner, canned))
        if op == "PutObjectAcl":
            self.objects.put_acl(caller, region, bucket, key, params.get("versionId"), h.get("x-amz-acl"))
            return ok()
        if op == "DeleteObject":
            result = self.objects.delete(caller, region, bucket, key, params.get("versionId"))
            headers = [("x-amz-version-id", result["version_id"])] if result["version_id"] else []
            if result["delete_marker"]:
                headers.append(("x-amz-delete-marker", "true"))
            return ok(status=204, headers=headers)
        if op == "ListObjectsV2" or op == "ListObjects" or op == "ListObjectVersions":
            doc = self.buckets.get(bucket)
            ctx = {f"s3:{k}": params[k] for k in ("prefix", "delimiter", "max-keys") if k in params}
            action = "s3:ListBucketVersions" if op == "ListObjectVersions" else "s3:ListBucket"
            self.buckets.check(caller, action, bucket, doc, region, ctx)
            lister = {"ListObjectsV2": list_v2, "ListObjects": list_v1, "ListObjectVersions": list_versions}[op]
            return ok(lister(self.store, bucket, params))
        if op == "CreateMultipartUpload":
            upload_id, enc = self.multipart.create(caller, region, bucket, key, h, secure=request.secure)
            body = (
                f'<InitiateMultipartUploadResult xmlns="{NS}"><Bucket>{xml_text(bucket)}</Bucket><Key>'
                f"{xml_text(key)}</Key><UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>"
            )
            return ok(body, headers=_sse_headers(enc))
        if op == "UploadPart":
            etag, enc = self.multipart.upload_part(
                caller,
                region,
                bucket,
                key,
                params["uploadId"],
                params.get("partNumber", ""),
                UploadBody(request, call.payload_hash),
            )
            return ok(headers=[("ETag", f'"{etag}"'), *_sse_headers(enc)])
        if op == "CompleteMultipartUpload":
            root = xml(request.body(MAX_CONFIG_BYTES))
            chosen: list[tuple[int, str]] = []
            for part in root.findall("Part"):
                number_text, etag_text = text(part, "PartNumber"), text(part, "ETag")
                if number_text is None or etag_text is None or not number_text.isdigit():
                    raise malformed_xml()
                chosen.append((int(number_text), etag_text))
            version = self.multipart.complete(caller, region, bucket, key, params["uploadId"], chosen)
            body = (
                f'<CompleteMultipartUploadResult xmlns="{NS}"><Bucket>{xml_text(bucket)}</Bucket><Key>'
                f"{xml_text(key)}</Key>"
                f"<ETag>&quot;{version['etag']}&quot;</ETag></CompleteMultipartUploadResult>"
            )
            return ok(body, headers=self._version_headers(version, bucket))
        if op == "AbortMultipartUpload":
            self.multipart.abort(caller, region, bucket, key, params["uploadId"])
            return ok(status=204)
        if op == "ListParts":
            parts = self.multipart.list_parts(caller, region, bucket, key, params["uploadId"])
            items = "".join(
                f"<Part><PartNumber>{n}</PartNumber><LastModified>{iso(p['last_modified'])}</LastModified><ETag>&quot;{p['etag']}&quot;</ETag><Size>{p['size']}</Size></Part>"
                for n, p in parts
            )
            return ok(
                f'<ListPartsResult xmlns="{NS}"><Bucket>{xml_text(bucket)}</Bucket><Key>{xml_text(key)}</Key>'
                f"<UploadId>{params['uploadId']}</UploadId><IsTruncated>false</IsTruncated>{items}"
                "</ListPartsResult>"
            )
        return self._bucket_op(op, request, call, bucket)

    def _version_headers(self, version: dict[str, Any], bucket: str) -> list[tuple[str, str]]:
        headers = _sse_headers(version["enc"])
        doc = self.store.bucket(bucket) or {}
        if doc.get("versioning") in ("Enabled", "Suspended"):
            headers.append(("x-amz-version-id", version["version_id"]))
        return headers

    def _get(
        self, request: Incoming, call: Call, bucket: str, key: str, params: dict[str, str], *, head: bool
    ) -> Outgoing:
        version, object_key = self.objects.open(
            call.caller, call.region, bucket, key, params.get("versionId"), sigv4=call.sigv4, decrypt=not head
        )
        size = version["size"]
        wanted = _range(request.headers.get("range"), size) if size else None
        start, end = wanted if wanted is not None else (0, size - 1)
        headers = [
            ("Last-Modified", formatdate(version["last_modified"], usegmt=True)),
            ("ETag", f'"{version["etag"]}"'),
            ("Accept-Ranges", "bytes"),
            ("Content-Length", str(end - start + 1 if size else 0)),
            *[(k.title() if not k.startswith("x-amz-") else k, v) for k, v in version["meta"].items()],
            *self._version_headers(version, bucket),
        ]
        status = 200
        if wanted is not None:
            status = 206
            headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        if head or not size:
            return Outgoing(status, headers, b"")
        return Outgoing(status, headers, self.objects.plaintext(version, object_key, start, end))

    def _bucket_op(self, op: str, request: Incoming, call: Call, bucket: str) -> Outgoing:
        handler = HANDLERS.get(op)
        if handler is None:
            raise not_implemented(op)
        doc = None if op in NO_BUCKET else self.buckets.get(bucket)
        return handler(BucketRequest(self, request, call, bucket, doc))

    def delete_objects(self, request: Incoming, call: Call, bucket: str) -> Outgoing:
        root = xml(request.body(MAX_CONFIG_BYTES))
        quiet = (text(root, "Quiet") or "false").lower() == "true"
        out = []
        for obj in root.findall("Object"):
            key = text(obj, "Key")
            if key is None:
                raise malformed_xml()
            version_id = text(obj, "VersionId")
            try:
                result = self.objects.delete(call.caller, call.region, bucket, key, version_id)
            except CloudError as exc:
                out.append(
                    f"<Error><Key>{xml_text(key)}</Key><Code>{exc.code}</Code><Message>{xml_text(exc.message)}</Message></Error>"
                )
                continue
            if not quiet:
                extra = (
                    f"<DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>{result['version_id']}</DeleteMarkerVersionId>"
                    if result["delete_marker"] and not version_id
                    else ""
                )
                vid = f"<VersionId>{version_id}</VersionId>" if version_id else ""
                out.append(f"<Deleted><Key>{xml_text(key)}</Key>{vid}{extra}</Deleted>")
        return ok(f'<DeleteResult xmlns="{NS}">{"".join(out)}</DeleteResult>')
