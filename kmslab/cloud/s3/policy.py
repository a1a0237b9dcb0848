"""Who may do what to a bucket: IAM policies, the bucket policy, Block Public Access and ACLs.

Bucket policies are evaluated by the same policy engine as key policies
(:func:`kmslab.iam.authorize_resource`), with S3's condition keys: ``s3:x-amz-server-side-encryption``
and ``s3:x-amz-server-side-encryption-aws-kms-key-id`` (the request's headers, as sent: absent
when the request names no encryption), ``s3:x-amz-acl``, ``s3:prefix``, ``s3:delimiter``,
``s3:max-keys``, plus the global ``aws:SecureTransport`` (true over HTTPS), ``aws:SourceArn`` and
``aws:SourceAccount`` (set when a service writes on a resource's behalf).

Block Public Access (S3 User Guide, "Blocking public access to your Amazon S3 storage"):
``BlockPublicPolicy`` refuses a public bucket policy; ``RestrictPublicBuckets`` lets only the
bucket owner's principals and AWS services through a public policy; ``BlockPublicAcls`` refuses
requests that set a public ACL; ``IgnorePublicAcls`` ignores public ACLs. A policy is public when
an Allow statement names ``*`` without a condition that pins the caller (source ARN/account/IP,
principal account or organization, VPC). New buckets have every setting on and Object Ownership
``BucketOwnerEnforced`` (ACLs disabled), as on AWS since April 2023.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmslab.cloud.s3.errors import access_denied
from kmslab.iam import CloudIdentities, Policy, authorize_resource, parse_policy
from kmslab.iam.evaluate import ANONYMOUS_ARN
from kmslab.kms.seams import Caller

PAB_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
_PINNING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourceip",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:principalaccount",
        "aws:principalorgid",
        "aws:principalarn",
        "aws:userid",
        "aws:username",
    }
)


def parse_bucket_policy(text: str) -> Policy:
    """Parse a bucket policy (every statement must name a principal).

    Args:
        text: the policy JSON.

    Returns:
        The policy.

    Raises:
        MalformedPolicyDocumentException: it is not a valid resource policy.
    """
    return parse_policy(text, kind="key")


def is_public(policy: Policy) -> bool:
    """Tell whether a bucket policy grants public access (S3's definition, simplified as described above).

    Args:
        policy: the policy.

    Returns:
        True when some Allow statement names everyone without pinning the caller.
    """
    for statement in policy.statements:
        if statement.effect != "Allow" or statement.principal is None or not statement.principal.anyone:
            continue
        keys = {key.lower() for block in statement.condition.values() for key in block}
        if not keys & _PINNING_KEYS:
            return True
    return False


class BucketAuthorizer:
    """Decide S3 requests.

    Args:
        identities: the callers' IAM policies.
        account: the bucket owner's account.
    """

    def __init__(self, identities: CloudIdentities, account: str) -> None:
        self.identities = identities
        self.account = account

    def check(
        self,
        *,
        caller: Caller,
        action: str,
        bucket: str,
        key: str | None,
        doc: Mapping[str, Any] | None,
        region: str,
        context: Mapping[str, Any],
        object_acl: str | None = None,
    ) -> None:
        """Allow the request by returning, or refuse it with S3's AccessDenied.

        Args:
            caller: who asks (anonymous for unsigned requests).
            action: ``s3:<Action>``.
            bucket: the bucket.
            key: the object key, for object actions.
            doc: the bucket's document (policy, public access block, ownership, ACL); None before it exists.
            region: the request's region.
            context: S3 condition keys of the request.
            object_acl: the object's canned ACL, for reads.

        Raises:
            CloudError: AccessDenied (403).
        """
        resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
        policy_text = doc.get("policy") if doc else None
        policy = parse_bucket_policy(policy_text) if policy_text else None
        pab = pab_settings(doc)
        anonymous = caller.arn == ANONYMOUS_ARN
        if policy is not None and pab["RestrictPublicBuckets"] and is_public(policy):
            outsider = anonymous or (caller.identity_type != "AWSService" and caller.account != self.account)
            if outsider:
                raise access_denied()
        decision = authorize_resource(
            caller=caller,
            action=action,
            resource=resource,
            resource_account=self.account,
            region=region,
            identity_policies=() if anonymous else self.identities.policies_for(caller),
            resource_policy=policy,
            context=context,
        )
        if decision.allowed:
            return
        if not decision.explicit_deny and self._acl_allows(doc, pab, action, object_acl, caller):
            return
        raise access_denied()

    @staticmethod
    def _acl_allows(
        doc: Mapping[str, Any] | None, pab: Mapping[str, bool], action: str, object_acl: str | None, caller: Caller
    ) -> bool:
        if (
            doc is None
            or doc.get("ownership", "BucketOwnerEnforced") == "BucketOwnerEnforced"
            or pab["IgnorePublicAcls"]
        ):
            return False
        acl = object_acl if action == "s3:GetObject" else doc.get("acl", "private")
        if acl in ("public-read", "public-read-write") and action in ("s3:GetObject", "s3:ListBucket"):
            return True
        if acl == "authenticated-read" and caller.arn != ANONYMOUS_ARN and action in ("s3:GetObject", "s3:ListBucket"):
            return True
        return acl == "public-read-write" and action == "s3:PutObject"


def pab_settings(doc: Mapping[str, Any] | None) -> dict[str, bool]:
    """The bucket's Block Public Access settings (all on when never set).

    Args:
        doc: the bucket's document.

    Returns:
        Setting -> value.
    """
    raw = (doc or {}).get("pab")
    if raw is None:
        return (
            dict.fromkeys(PAB_FIELDS, False)
            if doc is not None and doc.get("pab_deleted")
            else dict.fromkeys(PAB_FIELDS, True)
        )
    return {name: bool(raw.get(name, False)) for name in PAB_FIELDS}


def unknown_principal(policy: Any, identities: CloudIdentities, account: str) -> str | None:
    """The first IAM role or user ARN of ``account`` that a policy names and that does not exist.

    S3 resolves a bucket policy's principals when the policy is put, and refuses one that names a principal
    that does not exist with ``MalformedPolicy`` "Invalid principal in policy" (S3 User Guide, troubleshooting
    "Invalid principal in policy"). Principals of other accounts cannot be resolved locally and are accepted.

    Args:
        policy: the parsed bucket policy.
        identities: the cloud's principals (the identities file's and those created through IAM).
        account: the cloud's account.

    Returns:
        The ARN, or None when every principal of the account exists.
    """
    own = f"arn:aws:iam::{account}:"
    for statement in policy.statements:
        for principals in (statement.principal, statement.not_principal):
            for arn in principals.aws if principals is not None else ():
                if not arn.startswith(own):
                    continue
                kind = arn[len(own) :].split("/", 1)[0]
                if kind == "role" and identities.role(arn) is None:
                    return str(arn)
                if kind == "user" and identities.by_arn(arn) is None:
                    return str(arn)
    return None
