"""S3's errors, with the codes, statuses and messages S3 uses (XML on the wire)."""

from __future__ import annotations

from kmslab.cloud.errors import CloudError
from kmslab.kms import KmsError

SIGV4_REQUIRED = "Requests specifying Server Side Encryption with AWS KMS managed keys require AWS Signature Version 4."


def no_such_bucket(bucket: str) -> CloudError:
    """NoSuchBucket (404)."""
    return CloudError("NoSuchBucket", "The specified bucket does not exist", 404, {"BucketName": bucket})


def no_such_key(key: str) -> CloudError:
    """NoSuchKey (404)."""
    return CloudError("NoSuchKey", "The specified key does not exist.", 404, {"Key": key})


def access_denied(message: str = "Access Denied") -> CloudError:
    """AccessDenied (403)."""
    return CloudError("AccessDenied", message, 403)


def invalid_argument(message: str, name: str = "", value: str = "") -> CloudError:
    """InvalidArgument (400)."""
    extra = {"ArgumentName": name, "ArgumentValue": value} if name else {}
    return CloudError("InvalidArgument", message, 400, extra)


def malformed_xml() -> CloudError:
    """MalformedXML (400)."""
    return CloudError(
        "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema", 400
    )


def not_implemented(what: str) -> CloudError:
    """NotImplemented (501), naming what is not emulated."""
    return CloudError("NotImplemented", f"{what} is not emulated by the local S3.", 501)


def from_kms(error: KmsError) -> CloudError:
    """Turn a KMS failure during an S3 request into S3's error for it.

    S3 passes KMS's refusal through: an AccessDeniedException becomes ``AccessDenied`` (403) with
    KMS's message; other KMS errors keep their name under a ``KMS.`` prefix, e.g.
    ``KMS.DisabledException`` for a disabled key and ``KMS.KMSInvalidStateException`` for a key
    pending deletion (400), with KMS's message.

    Args:
        error: the KMS error.

    Returns:
        The S3 error.
    """
    if error.code == "AccessDeniedException":
        return CloudError("AccessDenied", error.message or "Access Denied", 403)
    status = 400 if error.status < 500 else 503
    return CloudError(f"KMS.{error.code}", error.message, status)
