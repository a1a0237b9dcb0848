"""Identities, SigV4 and policy evaluation for every local service.

A façade: the cloud (``kmslab.cloud``) imports IAM from here only. Today the identities file,
the policy language and the KMS authorizer live in :mod:`kmslab.kms.authz` and
:mod:`kmslab.kms.policy`; this package re-exports what the other services need and adds what
is new for them: SigV4 for any service (header and presigned forms, session tokens), roles with
trust policies, STS sessions, resource policies of other services (bucket policies) and the
default workshop identities.
"""

from __future__ import annotations

from kmslab.iam.errors import IamError
from kmslab.iam.evaluate import AccessDecision, authorize_resource
from kmslab.iam.sigv4 import SignedRequest, parse_signature, verify_signature
from kmslab.iam.store import CloudIdentities, Role, Session, load_cloud_identities
from kmslab.kms.authz import Identity, IdentityStore, KmsAuthorizer, NamedPolicy
from kmslab.kms.policy import Policy, evaluate_policy, parse_policy, principal_arn
from kmslab.kms.seams import DEFAULT_ACCOUNT, DEFAULT_REGION, Caller

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_REGION",
    "AccessDecision",
    "Caller",
    "CloudIdentities",
    "IamError",
    "Identity",
    "IdentityStore",
    "KmsAuthorizer",
    "NamedPolicy",
    "Policy",
    "Role",
    "Session",
    "SignedRequest",
    "authorize_resource",
    "evaluate_policy",
    "load_cloud_identities",
    "parse_policy",
    "parse_signature",
    "principal_arn",
    "verify_signature",
]
