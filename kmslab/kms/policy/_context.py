"""The condition keys of one request: the engine's ``kms:*`` keys plus global ``aws:*`` keys from the caller."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kmslab.kms.policy._principals import is_root, principal_arn
from kmslab.kms.seams import AuthorizationRequest

_EC_PREFIX = "kms:encryptioncontext:"


def request_context(request: AuthorizationRequest, now: datetime | None = None) -> dict[str, Any]:
    """Build the request's condition keys, keyed by lower-case name.

    Global keys derived from the caller: ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
    ``aws:PrincipalType``, ``aws:SourceIp`` (absent when a service calls on the caller's behalf),
    ``aws:SecureTransport``, ``aws:username`` (IAM users only), ``aws:userid``, ``aws:UserAgent``,
    ``aws:RequestedRegion``, ``aws:ViaAWSService``, ``aws:CalledVia``, ``aws:CurrentTime`` and
    ``aws:EpochTime`` (when ``now`` is given), and ``kms:CallerAccount``. Keys the engine passes
    in ``request.context`` win over derived ones.

    Args:
        request: the request.
        now: the current time for the date keys.

    Returns:
        The condition keys.
    """
    caller = request.caller
    ctx: dict[str, Any] = {
        "aws:principalarn": principal_arn(caller),
        "aws:principalaccount": caller.account,
        "aws:principaltype": "Account" if is_root(caller) else caller.identity_type,
        "aws:securetransport": caller.secure_transport,
        "aws:userid": caller.principal_id or caller.account,
        "aws:requestedregion": request.region,
        "aws:viaawsservice": caller.invoked_by is not None,
        "kms:calleraccount": caller.account,
    }
    if caller.user_agent:
        ctx["aws:useragent"] = caller.user_agent
    if caller.invoked_by is None and caller.identity_type != "AWSService":
        ctx["aws:sourceip"] = caller.source_ip
    else:
        ctx["aws:calledvia"] = [caller.invoked_by] if caller.invoked_by else []
    if caller.identity_type == "IAMUser" and ":user/" in caller.arn:
        ctx["aws:username"] = caller.arn.rsplit("/", 1)[1]
    if caller.source_arn:  # a service principal acting for one of the account's resources
        ctx["aws:sourcearn"] = caller.source_arn
        ctx["aws:sourceaccount"] = caller.account
    if now is not None:
        ctx["aws:currenttime"] = now.isoformat()
        ctx["aws:epochtime"] = str(int(now.timestamp()))
    for key, value in request.context.items():
        ctx[key.lower()] = value
    return ctx


def encryption_context(context: Mapping[str, Any]) -> dict[str, str]:
    """Recover the request's encryption context from its ``kms:EncryptionContext:<key>`` keys.

    Args:
        context: the request's condition keys (any case).

    Returns:
        Encryption context key -> value, keys as the engine spelled them.
    """
    out: dict[str, str] = {}
    for key, value in context.items():
        if key.lower().startswith(_EC_PREFIX):
            out[key[len(_EC_PREFIX) :]] = str(value)
    return out
