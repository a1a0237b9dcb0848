"""Errors of the local KMS, shaped as AWS KMS returns them.

Every error carries the AWS error code (the JSON ``__type``), a message and the HTTP
status, so the endpoint can answer exactly as AWS KMS does and in-process callers can
catch a named class.
"""

from __future__ import annotations

from kmslab.errors import AwsServiceError
from kmslab.kms._protocol import error_body


class KmsError(AwsServiceError):
    """Root of the local KMS errors: an AWS KMS error response.

    Args:
        message: the error message, as AWS words it.
    """

    code = "KMSInternalException"
    status = 500

    def to_body(self) -> bytes:
        """Return the error response's JSON body (the one encoder of AWS error bodies).

        Returns:
            The body bytes.
        """
        return error_body(self.code, self.message)


class AccessDeniedException(KmsError):
    """The caller is not authorized to perform the operation."""

    code = "AccessDeniedException"
    status = 400


class AlreadyExistsException(KmsError):
    """AWS KMS AlreadyExistsException."""

    code = "AlreadyExistsException"
    status = 400


class DependencyTimeoutException(KmsError):
    """AWS KMS DependencyTimeoutException."""

    code = "DependencyTimeoutException"
    status = 503


class DisabledException(KmsError):
    """The key is disabled."""

    code = "DisabledException"
    status = 400


class ExpiredImportTokenException(KmsError):
    """AWS KMS ExpiredImportTokenException."""

    code = "ExpiredImportTokenException"
    status = 400


class IncorrectKeyException(KmsError):
    """The ciphertext was not encrypted under the given key."""

    code = "IncorrectKeyException"
    status = 400


class IncorrectKeyMaterialException(KmsError):
    """AWS KMS IncorrectKeyMaterialException."""

    code = "IncorrectKeyMaterialException"
    status = 400


class InvalidAliasNameException(KmsError):
    """AWS KMS InvalidAliasNameException."""

    code = "InvalidAliasNameException"
    status = 400


class InvalidArnException(KmsError):
    """AWS KMS InvalidArnException."""

    code = "InvalidArnException"
    status = 400


class InvalidCiphertextException(KmsError):
    """The ciphertext or its context is not valid."""

    code = "InvalidCiphertextException"
    status = 400


class InvalidGrantIdException(KmsError):
    """AWS KMS InvalidGrantIdException."""

    code = "InvalidGrantIdException"
    status = 400


class InvalidGrantTokenException(KmsError):
    """AWS KMS InvalidGrantTokenException."""

    code = "InvalidGrantTokenException"
    status = 400


class InvalidImportTokenException(KmsError):
    """AWS KMS InvalidImportTokenException."""

    code = "InvalidImportTokenException"
    status = 400


class InvalidKeyUsageException(KmsError):
    """AWS KMS InvalidKeyUsageException."""

    code = "InvalidKeyUsageException"
    status = 400


class InvalidMarkerException(KmsError):
    """AWS KMS InvalidMarkerException."""

    code = "InvalidMarkerException"
    status = 400


class KMSInternalException(KmsError):
    """AWS KMS KMSInternalException."""

    code = "KMSInternalException"
    status = 500


class KMSInvalidMacException(KmsError):
    """AWS KMS KMSInvalidMacException."""

    code = "KMSInvalidMacException"
    status = 400


class KMSInvalidSignatureException(KmsError):
    """AWS KMS KMSInvalidSignatureException."""

    code = "KMSInvalidSignatureException"
    status = 400


class KMSInvalidStateException(KmsError):
    """The key is not in a state that allows the operation."""

    code = "KMSInvalidStateException"
    status = 400


class LimitExceededException(KmsError):
    """AWS KMS LimitExceededException."""

    code = "LimitExceededException"
    status = 400


class MalformedPolicyDocumentException(KmsError):
    """AWS KMS MalformedPolicyDocumentException."""

    code = "MalformedPolicyDocumentException"
    status = 400


class NotFoundException(KmsError):
    """The key, alias or grant does not exist."""

    code = "NotFoundException"
    status = 400


class TagException(KmsError):
    """AWS KMS TagException."""

    code = "TagException"
    status = 400


class UnsupportedOperationException(KmsError):
    """AWS KMS UnsupportedOperationException."""

    code = "UnsupportedOperationException"
    status = 400


class ValidationException(KmsError):
    """The request does not satisfy the API's constraints."""

    code = "ValidationException"
    status = 400


# Protocol-level errors: not in the KMS model, but every AWS JSON service returns them.


class SerializationException(KmsError):
    """The request body is not valid JSON."""

    code = "SerializationException"
    status = 400


class UnknownOperationException(KmsError):
    """The X-Amz-Target names no KMS operation."""

    code = "UnknownOperationException"
    status = 400


class UnrecognizedClientException(KmsError):
    """The access key ID is not known."""

    code = "UnrecognizedClientException"
    status = 400


class InvalidSignatureException(KmsError):
    """The request signature does not match."""

    code = "InvalidSignatureException"
    status = 400


class IncompleteSignatureException(KmsError):
    """The Authorization header is malformed (a SigV4 element is missing)."""

    code = "IncompleteSignatureException"
    status = 400


class MissingAuthenticationTokenException(KmsError):
    """AWS KMS MissingAuthenticationTokenException."""

    code = "MissingAuthenticationTokenException"
    status = 400


class RequestEntityTooLargeException(KmsError):
    """AWS KMS RequestEntityTooLargeException."""

    code = "RequestEntityTooLargeException"
    status = 413


class NotAuthorizedException(KmsError):
    """The request may not touch an AWS-reserved resource (for example an ``alias/aws/`` alias)."""

    code = "NotAuthorizedException"
    status = 400


class DryRunOperationException(KmsError):
    """The request would have succeeded, but DryRun was set."""

    code = "DryRunOperationException"
    status = 412
