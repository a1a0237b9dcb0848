"""Bucket configurations the local S3 keeps but does not act on: server access logging, lifecycle, tags.

They are validated as XML, authorized with their own IAM actions, stored with the bucket and given
back as sent, so CloudFormation and the SDKs can set and read them. No access log is delivered and no
lifecycle rule expires anything (``kmslab local deploy --types`` says so).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Outgoing
from kmslab.cloud.s3._wire import MAX_CONFIG_BYTES, NS, ok, xml

if TYPE_CHECKING:
    from kmslab.cloud.s3.bucket_ops import BucketRequest

#: subresource -> (document key, put action, get action, root element, error when absent or None)
_KINDS: dict[str, tuple[str, str, str, str, tuple[str, str] | None]] = {
    "logging": ("logging", "s3:PutBucketLogging", "s3:GetBucketLogging", "BucketLoggingStatus", None),
    "lifecycle": (
        "lifecycle",
        "s3:PutLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
        "LifecycleConfiguration",
        ("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"),
    ),
    "tagging": (
        "tagging",
        "s3:PutBucketTagging",
        "s3:GetBucketTagging",
        "Tagging",
        ("NoSuchTagSet", "The TagSet does not exist"),
    ),
}


def _put(kind: str) -> Callable[[BucketRequest], Outgoing]:
    key, put_action, _get, root, _missing = _KINDS[kind]

    def handler(r: BucketRequest) -> Outgoing:
        body = r.request.body(MAX_CONFIG_BYTES)
        element = xml(body)  # the text is stored as sent, so parse the bytes kept here
        if element.tag.rsplit("}", 1)[-1] != root:
            raise CloudError("MalformedXML", "The XML you provided was not well-formed or did not validate.", 400)
        text = body.decode("utf-8")
        value = None if kind == "logging" and "LoggingEnabled" not in text else text
        r.update(put_action, {f"config:{key}": value})
        return ok(status=204 if kind == "tagging" else 200)

    return handler


def _get(kind: str) -> Callable[[BucketRequest], Outgoing]:
    key, _put_action, get_action, root, missing = _KINDS[kind]

    def handler(r: BucketRequest) -> Outgoing:
        doc = r.allowed(get_action)
        stored = doc.get(f"config:{key}")
        if stored:
            return ok(str(stored))
        if missing is None:
            return ok(f'<{root} xmlns="{NS}"/>')
        raise CloudError(missing[0], missing[1], 404)

    return handler


def clear(action: str, changes: dict[str, object]) -> Callable[[BucketRequest], Outgoing]:
    """A Delete<Configuration> handler: authorize ``action``, apply ``changes`` to the bucket, answer 204.

    Args:
        action: the IAM action S3 checks (several deletes are authorized by their Put action).
        changes: the bucket document's fields to set.

    Returns:
        The handler.
    """

    def handler(r: BucketRequest) -> Outgoing:
        r.update(action, changes)
        return ok(status=204)

    return handler


def _delete(kind: str) -> Callable[[BucketRequest], Outgoing]:
    # DeleteBucketLifecycle and DeleteBucketTagging are authorized by the Put action (S3 API reference).
    key, put_action, _get, _root, _missing = _KINDS[kind]
    return clear(put_action, {f"config:{key}": None})


#: (method, subresource) -> operation name, for the router
ROUTES: dict[tuple[str, str, str], str] = {
    ("PUT", "bucket", "logging"): "PutBucketLogging",
    ("GET", "bucket", "logging"): "GetBucketLogging",
    ("PUT", "bucket", "lifecycle"): "PutBucketLifecycleConfiguration",
    ("GET", "bucket", "lifecycle"): "GetBucketLifecycleConfiguration",
    ("DELETE", "bucket", "lifecycle"): "DeleteBucketLifecycle",
    ("PUT", "bucket", "tagging"): "PutBucketTagging",
    ("GET", "bucket", "tagging"): "GetBucketTagging",
    ("DELETE", "bucket", "tagging"): "DeleteBucketTagging",
}

HANDLERS: dict[str, Callable[[BucketRequest], Outgoing]] = {
    "PutBucketLogging": _put("logging"),
    "GetBucketLogging": _get("logging"),
    "PutBucketLifecycleConfiguration": _put("lifecycle"),
    "GetBucketLifecycleConfiguration": _get("lifecycle"),
    "DeleteBucketLifecycle": _delete("lifecycle"),
    "PutBucketTagging": _put("tagging"),
    "GetBucketTagging": _get("tagging"),
    "DeleteBucketTagging": _delete("tagging"),
}
