"""Who may use a key: identities, SigV4, the KMS authorizer and the explain tool.

* :func:`load_identities` / :class:`IdentityStore`: the identities file.
* :class:`SigV4Resolver`: the endpoint's ``identity_resolver`` (verifies AWS Signature V4).
* :class:`KmsAuthorizer`: the engine's ``authorizer`` (key policy + IAM policies + grants).
* :func:`explain`: a structured decision for teaching (``kmslab kms explain``).
"""

from __future__ import annotations

from kmslab.kms.authz.authorizer import KmsAuthorizer
from kmslab.kms.authz.decision import RETIRE_GRANT_ID_KEY, Decision, decide
from kmslab.kms.authz.errors import AuthzError, ExplainError, IdentityFileError
from kmslab.kms.authz.explain import explain
from kmslab.kms.authz.identities import (
    Identity,
    IdentityStore,
    NamedPolicy,
    caller_for_arn,
    load_identities,
    parse_identities,
    parse_named_policy,
    read_identities_data,
)
from kmslab.kms.authz.sigv4 import SigV4Resolver

__all__ = [
    "RETIRE_GRANT_ID_KEY",
    "AuthzError",
    "Decision",
    "ExplainError",
    "Identity",
    "IdentityFileError",
    "IdentityStore",
    "KmsAuthorizer",
    "NamedPolicy",
    "SigV4Resolver",
    "caller_for_arn",
    "decide",
    "explain",
    "load_identities",
    "parse_identities",
    "parse_named_policy",
    "read_identities_data",
]
