"""The local S3's buckets and their configuration (encryption, policy, Block Public Access, ownership, versioning)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kmslab.cloud.errors import CloudError
from kmslab.cloud.s3.errors import access_denied, invalid_argument, no_such_bucket
from kmslab.cloud.s3.policy import (
    PAB_FIELDS,
    PUBLIC_ACLS,
    BucketAuthorizer,
    is_public,
    pab_settings,
    parse_bucket_policy,
    unknown_principal,
)
from kmslab.cloud.s3.store import S3Store
from kmslab.cloud.s3.urls import valid_bucket_name
from kmslab.kms import Caller
from kmslab.kms.errors import KmsError

OWNERSHIP = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")
CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "aws-exec-read",
    "log-delivery-write",
)


class Buckets:
    """Bucket-level operations.

    Args:
        store: the persistence.
        authorizer: decides requests.
        account: the owner account.
    """

    def __init__(self, store: S3Store, authorizer: BucketAuthorizer, account: str) -> None:
        self.store = store
        self.authz = authorizer
        self.account = account

    def get(self, name: str) -> dict[str, Any]:
        """Load a bucket or fail with NoSuchBucket.

        Args:
            name: the bucket.

        Returns:
            Its document.

        Raises:
            CloudError: NoSuchBucket.
        """
        doc = self.store.bucket(name)
        if doc is None:
            raise no_such_bucket(name)
        return doc

    def check(
        self,
        caller: Caller,
        action: str,
        name: str,
        doc: Mapping[str, Any] | None,
        region: str,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Authorize a bucket-level action.

        Args:
            caller: who asks.
            action: the IAM action.
            name: the bucket.
            doc: its document.
            region: the request's region.
            context: S3 condition keys.
        """
        self.authz.check(
            caller=caller, action=action, bucket=name, key=None, doc=doc, region=region, context=context or {}
        )

    def create(
        self, caller: Caller, name: str, region: str, *, location: str | None, acl: str | None, ownership: str | None
    ) -> None:
        """CreateBucket.

        Args:
            caller: who asks.
            name: the bucket name.
            region: the request's region.
            location: the LocationConstraint from the body, if any.
            acl: the ``x-amz-acl`` header.
            ownership: the ``x-amz-object-ownership`` header.

        Raises:
            CloudError: invalid name, conflicting region, existing bucket, or refused.
        """
        if not valid_bucket_name(name):
            raise CloudError("InvalidBucketName", "The specified bucket is not valid.", 400, {"BucketName": name})
        bucket_region = location or "us-east-1"
        if location is None and region != "us-east-1":
            raise CloudError(
                "IllegalLocationConstraintException",
                "The unspecified location constraint is incompatible for the region specific endpoint this "
                "request was sent to.",
                400,
            )
        if location is not None and location != region:
            raise CloudError(
                "IllegalLocationConstraintException",
                f"The {location} location constraint is incompatible for the region specific endpoint this "
                "request was sent to.",
                400,
            )
        self.check(caller, "s3:CreateBucket", name, None, region)
        if ownership is not None and ownership not in OWNERSHIP:
            raise invalid_argument("Invalid x-amz-object-ownership header", "x-amz-object-ownership", ownership)
        owner_enforced = (ownership or "BucketOwnerEnforced") == "BucketOwnerEnforced"
        if acl is not None and acl not in ("private", "bucket-owner-full-control") and owner_enforced:
            raise CloudError(
                "InvalidBucketAclWithObjectOwnership",
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
                400,
            )
        with self.store.lock:
            existing = self.store.bucket(name)
            if existing is not None:
                if existing.get("owner") == caller.account and bucket_region == "us-east-1":
                    return  # us-east-1 answers 200 to its owner re-creating a bucket
                code = "BucketAlreadyOwnedByYou" if existing.get("owner") == caller.account else "BucketAlreadyExists"
                raise CloudError(
                    code,
                    "Your previous request to create the named bucket succeeded and you already own it."
                    if code == "BucketAlreadyOwnedByYou"
                    else "The requested bucket name is not available.",
                    409,
                    {"BucketName": name},
                )
            self.store.put_bucket(
                name,
                {
                    "region": bucket_region,
                    "created": time.time(),
                    "owner": self.account,
                    "ownership": ownership or "BucketOwnerEnforced",
                    "acl": acl or "private",
                    "versioning": None,
                    "encryption": None,
                    "policy": None,
                    "pab": None,
                },
            )

    def delete(self, caller: Caller, name: str, region: str) -> None:
        """DeleteBucket (it must be empty).

        Args:
            caller: who asks.
            name: the bucket.
            region: the request's region.
        """
        doc = self.get(name)
        self.check(caller, "s3:DeleteBucket", name, doc, region)
        with self.store.lock:
            if not self.store.bucket_is_empty(name):
                raise CloudError(
                    "BucketNotEmpty", "The bucket you tried to delete is not empty", 409, {"BucketName": name}
                )
            self.store.delete_bucket(name)

    def update(self, caller: Caller, name: str, region: str, action: str, changes: Mapping[str, Any]) -> None:
        """Change a bucket's configuration after authorizing ``action``.

        Args:
            caller: who asks.
            name: the bucket.
            region: the request's region.
            action: the IAM action.
            changes: document fields to set.
        """
        with self.store.lock:
            doc = self.get(name)
            self.check(caller, action, name, doc, region)
            doc.update(changes)
            self.store.put_bucket(name, doc)

    # -- configuration with validation ----------------------------------------------------------

    def put_policy(self, caller: Caller, name: str, region: str, text: str) -> None:
        """PutBucketPolicy: a malformed policy, or a public one under BlockPublicPolicy, is refused.

        Args:
            caller: who asks.
            name: the bucket.
            region: the request's region.
            text: the policy JSON.
        """
        try:
            policy = parse_bucket_policy(text)
        except KmsError as exc:
            raise CloudError(
                "MalformedPolicy", exc.message or "Policies must be valid JSON and the first byte must be '{'", 400
            ) from None
        for statement in policy.statements:
            for pattern in statement.resources or statement.not_resources or ():
                if not (pattern == "*" or pattern.startswith(f"arn:aws:s3:::{name}")):
                    raise CloudError("MalformedPolicy", "Policy has invalid resource", 400)
        if unknown_principal(policy, self.authz.identities, self.account) is not None:
            raise CloudError("MalformedPolicy", "Invalid principal in policy", 400)
        doc = self.get(name)
        if pab_settings(doc)["BlockPublicPolicy"] and is_public(policy):
            self.check(caller, "s3:PutBucketPolicy", name, doc, region)
            raise access_denied(
                "User is not authorized to perform: s3:PutBucketPolicy on resource because public policies "
                "are blocked by the BlockPublicPolicy block public access setting."
            )
        self.update(caller, name, region, "s3:PutBucketPolicy", {"policy": text})

    def put_pab(self, caller: Caller, name: str, region: str, settings: Mapping[str, bool]) -> None:
        """PutPublicAccessBlock.

        Args:
            caller: who asks.
            name: the bucket.
            region: the request's region.
            settings: the four settings.
        """
        self.update(
            caller,
            name,
            region,
            "s3:PutBucketPublicAccessBlock",
            {"pab": {f: bool(settings.get(f, False)) for f in PAB_FIELDS}, "pab_deleted": False},
        )

    def put_ownership(self, caller: Caller, name: str, region: str, ownership: str) -> None:
        """PutBucketOwnershipControls.

        Args:
            caller: who asks.
            name: the bucket.
            region: the request's region.
            ownership: the ObjectOwnership rule.
        """
        if ownership not in OWNERSHIP:
            raise CloudError(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema",
                400,
            )
        doc = self.get(name)
        if ownership == "BucketOwnerEnforced" and doc.get("acl", "private") not in (
            "private",
            "bucket-owner-full-control",
        ):
            raise CloudError(
                "InvalidBucketAclWithObjectOwnership",
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
                400,
            )
        self.update(caller, name, region, "s3:PutBucketOwnershipControls", {"ownership": ownership})

    def put_acl(self, caller: Caller, name: str, region: str, acl: str) -> None:
        """PutBucketAcl (canned ACLs only).

        Args:
            caller: who asks.
            name: the bucket.
            region: the request's region.
            acl: the canned ACL.
        """
        doc = self.get(name)
        check_acl(doc, acl)
        self.update(caller, name, region, "s3:PutBucketAcl", {"acl": acl})


def acls_disabled(doc: Mapping[str, Any]) -> bool:
    """Tell whether a bucket's Object Ownership (``BucketOwnerEnforced``, the default) disables ACLs.

    Args:
        doc: the bucket's document.

    Returns:
        True when ACLs are disabled.
    """
    return bool(doc.get("ownership", "BucketOwnerEnforced") == "BucketOwnerEnforced")


def check_acl(doc: Mapping[str, Any], acl: str | None) -> None:
    """Refuse an ACL the bucket's Object Ownership or Block Public Access does not allow.

    Args:
        doc: the bucket's document.
        acl: the canned ACL of the request, if any.

    Raises:
        CloudError: AccessControlListNotSupported (ACLs disabled), AccessDenied (public ACL blocked),
            or InvalidArgument (unknown ACL).
    """
    if acl is None:
        return
    if acl not in CANNED_ACLS:
        raise invalid_argument("Invalid canned ACL", "x-amz-acl", acl)
    if acls_disabled(doc) and acl != "bucket-owner-full-control":
        raise CloudError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)
    if acl in PUBLIC_ACLS and pab_settings(doc)["BlockPublicAcls"]:
        raise access_denied()
