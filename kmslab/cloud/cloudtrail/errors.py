"""Errors of the local CloudTrail core, shaped as AWS CloudTrail returns them."""

from __future__ import annotations

from kmslab.errors import AwsServiceError


class CloudTrailError(AwsServiceError):
    """Root of the errors of :mod:`kmslab.cloud.cloudtrail`: an AWS JSON error response.

    Args:
        message: the error message.
    """

    code = "CloudTrailException"
    status = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        #: why, in the engine's words (the policy decision); not part of the AWS response.
        self.reason = ""


class InsufficientS3BucketPolicyException(CloudTrailError):
    """The bucket policy does not let CloudTrail deliver to the bucket (CreateTrail/UpdateTrail)."""

    code = "InsufficientS3BucketPolicyException"


class InsufficientEncryptionPolicyException(CloudTrailError):
    """The KMS key policy does not let CloudTrail encrypt the trail's files (CreateTrail/UpdateTrail)."""

    code = "InsufficientEncryptionPolicyException"


class InvalidTimeRangeException(CloudTrailError):
    """ListPublicKeys (or a lookup) got an end time before its start time."""

    code = "InvalidTimeRangeException"


class InvalidDigestError(CloudTrailError):
    """A digest file cannot be built from the given inputs (bad times, names or hashes)."""

    code = "InvalidParameterException"


class InvalidCloudWatchLogsRoleArnException(CloudTrailError):
    """CloudTrail cannot assume the CloudWatch Logs role, or the role cannot write to the log group."""

    code = "InvalidCloudWatchLogsRoleArnException"


class InvalidCloudWatchLogsLogGroupArnException(CloudTrailError):
    """The CloudWatch Logs log group ARN is malformed."""

    code = "InvalidCloudWatchLogsLogGroupArnException"
