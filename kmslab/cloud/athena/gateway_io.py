"""What a query touches outside Athena, as the caller: the Glue catalog, S3 reads and the result writes.

Athena reads a table's objects and writes its results with the *caller's* permissions (Athena User
Guide, "Setting user and Amazon S3 bucket permissions"): here every S3 call goes through the local
S3's own checks (bucket policy, IAM, Block Public Access) as the caller with ``invokedBy
athena.amazonaws.com``, and an SSE-KMS object is decrypted by KMS as that caller, so the key
policy decides and CloudTrail records the call. The catalog is moto's Glue backend, read in-process
(as :mod:`kmslab.cloud.services.moto_iam` reads moto's IAM), after the caller's ``glue:GetTable``
is checked on the catalog, database and table, as Athena needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kmslab.cloud.athena.errors import QueryFailed
from kmslab.cloud.errors import CloudError
from kmslab.iam import CloudIdentities, authorize_resource
from kmslab.kms import Caller

if TYPE_CHECKING:
    from kmslab.cloud.s3 import S3Service

ATHENA_PRINCIPAL = "athena.amazonaws.com"
#: S3 errors that mean "this caller may not": the query fails with Athena's permission wording
_REFUSED = ("AccessDenied", "AllAccessDisabled", "InvalidObjectState")


def via_athena(caller: Caller) -> Caller:
    """The caller as Athena acts for it (``invokedBy athena.amazonaws.com``).

    Args:
        caller: who called Athena.

    Returns:
        The same principal, invoked by Athena.
    """
    return replace(caller, invoked_by=ATHENA_PRINCIPAL)


def _refused(error: CloudError) -> bool:
    return error.code in _REFUSED or error.code.startswith("KMS.") or error.code == "AccessDeniedException"


class CallerS3:
    """The local S3 as one caller, through Athena: the query's ObjectSource and ResultWriter.

    Args:
        s3: the local S3.
        caller: who started the query.
        region: the request's Region.
    """

    def __init__(self, s3: S3Service, caller: Caller, region: str) -> None:
        self.s3 = s3
        self.caller = via_athena(caller)
        self.region = region

    def list_objects(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        """``s3:ListBucket`` as the caller, then the current objects under ``prefix``.

        Raises:
            PermissionError: S3 refused.
            QueryFailed: no such bucket.
        """
        try:
            doc = self.s3.buckets.get(bucket)
            self.s3.buckets.check(self.caller, "s3:ListBucket", bucket, doc, self.region, {"s3:prefix": prefix})
        except CloudError as exc:
            if _refused(exc):
                raise PermissionError(exc.message) from None
            raise QueryFailed(f"{exc.message} (Service: Amazon S3; Error Code: {exc.code})") from None
        return [
            (key, int(version["size"]))
            for key, version in self.s3.store.list_latest(bucket, prefix, "")
            if not version.get("delete_marker")
        ]

    def get_object(self, bucket: str, key: str) -> bytes:
        """``s3:GetObject`` as the caller (KMS ``Decrypt`` as the caller for SSE-KMS).

        Raises:
            PermissionError: S3 or KMS refused.
            QueryFailed: the object vanished or cannot be read.
        """
        try:
            return self.s3.get_bytes(self.caller, self.region, bucket, key)
        except CloudError as exc:
            if _refused(exc):
                raise PermissionError(exc.message) from None
            raise QueryFailed(f"HIVE_CANNOT_OPEN_SPLIT: s3://{bucket}/{key}: {exc.message}", category=1) from None

    def put(self, bucket: str, key: str, body: bytes, content_type: str, encryption: Mapping[str, Any] | None) -> None:
        """Write a result file as the caller, encrypted as the ResultConfiguration says.

        Raises:
            PermissionError: S3 or KMS refused.
            QueryFailed: no such bucket, or an encryption option the local Athena cannot apply.
        """
        headers = {"content-type": content_type, **_encryption_headers(encryption)}
        try:
            self.s3.put_bytes(self.caller, self.region, bucket, key, body, headers=headers)
        except CloudError as exc:
            if _refused(exc):
                raise PermissionError(exc.message) from None
            if exc.code == "NoSuchBucket":
                raise QueryFailed(f"Unable to verify/create output bucket {bucket}") from None
            raise QueryFailed(f"{exc.message} (Service: Amazon S3; Error Code: {exc.code})") from None

    def check_read(self, bucket: str, key: str) -> None:
        """Check the caller may read a result file (``s3:GetObject``, and KMS ``Decrypt`` when SSE-KMS).

        Raises:
            CloudError: AccessDeniedException, or InvalidRequestException when the file is gone.
        """
        try:
            self.s3.objects.open(self.caller, self.region, bucket, key, None)
        except CloudError as exc:
            if _refused(exc):
                raise CloudError(
                    "AccessDeniedException",
                    f"Access denied when reading the query results s3://{bucket}/{key} "
                    f"(Service: Amazon S3; Error Code: {exc.code}): {exc.message}",
                ) from None
            raise CloudError("InvalidRequestException", f"Unable to read the query results: {exc.message}") from None


def _encryption_headers(encryption: Mapping[str, Any] | None) -> dict[str, str]:
    if not encryption:
        return {}
    option = encryption.get("EncryptionOption")
    if option == "SSE_S3":
        return {"x-amz-server-side-encryption": "AES256"}
    if option == "SSE_KMS":
        headers = {"x-amz-server-side-encryption": "aws:kms"}
        if encryption.get("KmsKey"):
            headers["x-amz-server-side-encryption-aws-kms-key-id"] = str(encryption["KmsKey"])
        return headers
    raise QueryFailed(f"NOT_SUPPORTED: the local Athena does not write {option} results (SSE_S3 and SSE_KMS only)")


class GlueCatalog:
    """Tables of moto's Glue backend, read in-process, after the caller's ``glue:GetTable`` check.

    Args:
        identities: the callers' IAM policies.
        account: the account.
        caller: who started the query.
        region: the Region.
    """

    def __init__(self, identities: CloudIdentities, account: str, caller: Caller, region: str) -> None:
        self.identities = identities
        self.account = account
        self.caller = caller
        self.region = region

    def _check(self, database: str, table: str) -> None:
        base = f"arn:aws:glue:{self.region}:{self.account}"
        for resource in (f"{base}:catalog", f"{base}:database/{database}", f"{base}:table/{database}/{table}"):
            decision = authorize_resource(
                caller=self.caller,
                action="glue:GetTable",
                resource=resource,
                resource_account=self.account,
                region=self.region,
                identity_policies=self.identities.policies_for(self.caller),
                resource_policy=None,
                context={},
            )
            if not decision.allowed:
                raise QueryFailed(
                    "Insufficient permissions to execute the query. "
                    f"User: {self.caller.arn} is not authorized to perform: glue:GetTable on resource: {resource} "
                    "(Service: AWSGlue; Status Code: 400; Error Code: AccessDeniedException)"
                )

    def __call__(self, database: str, table: str) -> Mapping[str, Any] | None:
        """Return the table's TableInput-shaped description, or None when the catalog lacks it.

        Raises:
            QueryFailed: the caller may not read the table's definition.
        """
        self._check(database, table)
        from moto.glue.exceptions import EntityNotFoundException
        from moto.glue.models import glue_backends

        try:
            found = glue_backends[self.account][self.region].get_table(database, table)
        except EntityNotFoundException:
            return None
        described: dict[str, Any] = found.as_dict()
        return described
