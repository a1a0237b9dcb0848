"""Shared plumbing of the JSON-protocol services the cloud implements itself (KMS, SSM, Secrets Manager, Athena)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.cloud.services.docstore import DocStore
from kmslab.cloud.services.managed_keys import ManagedKeys
from kmslab.iam import CloudIdentities, authorize_resource
from kmslab.kms import Caller, KmsError, LocalKms

#: the content type of every JSON 1.1 answer
CONTENT_TYPE = "application/x-amz-json-1.1"


def parse_json(request: Incoming, prefix: str) -> tuple[str, dict[str, Any]]:
    """Read a JSON request: its operation (from ``X-Amz-Target``) and body.

    Args:
        request: the request.
        prefix: the target prefix, e.g. ``AmazonSSM.``.

    Returns:
        (operation, parameters).

    Raises:
        CloudError: not a well-formed request of this service.
    """
    target = request.headers.get("x-amz-target", "")
    if request.method != "POST" or not target.startswith(prefix):
        raise CloudError("UnknownOperationException", f"Unknown operation {target[:100]!r}")
    try:
        params = json.loads(request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise CloudError("SerializationException", "The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise CloudError("SerializationException", "The request body must be a JSON object.")
    return target[len(prefix) :], params


def answer(payload: dict[str, Any], call: Call) -> Outgoing:
    """A JSON 1.1 success answer.

    Args:
        payload: the response.
        call: the call (request ID).

    Returns:
        The answer.
    """
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = [
        ("Content-Type", CONTENT_TYPE),
        ("x-amzn-RequestId", call.request_id),
        ("Content-Length", str(len(body))),
    ]
    return Outgoing(200, headers, body)


def require_str(params: dict[str, Any], name: str, *, max_len: int = 2048) -> str:
    """A required string parameter.

    Args:
        params: the request.
        name: the member.
        max_len: its longest length.

    Returns:
        The value.

    Raises:
        CloudError: ValidationException.
    """
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise CloudError(
            "ValidationException",
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must not be null",
        )
    if len(value) > max_len:
        raise CloudError(
            "ValidationException",
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must have "
            f"length less than or equal to {max_len}",
        )
    return value


#: answers one operation: (parameters, call) -> the JSON answer
Handler = Callable[[dict[str, Any], Call], Any]


class ServiceBase:
    """IAM checks and KMS calls made as the requester through a service.

    Args:
        kms: the local KMS engine.
        identities: the callers' IAM policies.
        account: the account.
        principal: the service principal, e.g. ``ssm.amazonaws.com``.
        prefix: the IAM action prefix, e.g. ``ssm``.
    """

    def __init__(self, kms: LocalKms, identities: CloudIdentities, account: str, principal: str, prefix: str) -> None:
        self.kms = kms
        self.identities = identities
        self.account = account
        self.principal = principal
        self.prefix = prefix

    def served(self, handlers: dict[str, Handler], operation: str) -> Handler:
        """The handler of an operation this service serves.

        Args:
            handlers: operation name -> handler.
            operation: the requested operation.

        Returns:
            Its handler.

        Raises:
            CloudError: NotImplemented (501) naming an operation the local cloud does not emulate.
        """
        handler = handlers.get(operation)
        if handler is None:
            raise CloudError(
                "NotImplemented", f"{self.prefix} {operation[:60]} is not emulated by the local cloud.", 501
            )
        return handler

    def authorize(self, caller: Caller, operation: str, resource: str, region: str) -> None:
        """Check the caller's IAM policies for ``<prefix>:<operation>`` on a resource.

        Args:
            caller: who asks.
            operation: the API operation.
            resource: the resource ARN.
            region: the request's region.

        Raises:
            CloudError: AccessDeniedException.
        """
        action = f"{self.prefix}:{operation}"
        decision = authorize_resource(
            caller=caller,
            action=action,
            resource=resource,
            resource_account=self.account,
            region=region,
            identity_policies=self.identities.policies_for(caller),
            resource_policy=None,
            context={},
        )
        if not decision.allowed:
            why = (
                "with an explicit deny in an identity-based policy"
                if decision.explicit_deny
                else f"because no identity-based policy allows the {action} action"
            )
            raise CloudError(
                "AccessDeniedException",
                f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} {why}",
            )

    def kms_call(
        self,
        operation: str,
        params: dict[str, Any],
        caller: Caller,
        region: str,
        on_error: Callable[[KmsError], CloudError],
    ) -> dict[str, Any]:
        """Call the local KMS as the requester, through this service.

        Args:
            operation: the KMS operation.
            params: its parameters (JSON wire shape).
            caller: the requester.
            region: the region.
            on_error: turns a KMS refusal into this service's error.

        Returns:
            KMS's answer.

        Raises:
            CloudError: the service's error for a KMS refusal.
        """
        try:
            return self.kms.call(operation, params, caller=replace(caller, invoked_by=self.principal), region=region)
        except KmsError as exc:
            raise on_error(exc) from None


class StoredKeyService(ServiceBase):
    """A JSON service whose resources persist in the document store, their secrets encrypted by the local KMS.

    Subclasses name their target prefix, service principal and IAM action prefix, and list their
    operations in :meth:`handlers`; :meth:`handle` dispatches on ``X-Amz-Target``.

    Args:
        store: where the service's resources persist.
        managed: the AWS managed keys (the default key of each Region).
        kms: the local KMS engine.
        identities: the callers' IAM policies.
        account: the account.
    """

    protocol = "json"
    #: ``X-Amz-Target`` prefix, e.g. ``AmazonSSM.``
    target_prefix: ClassVar[str]
    #: the service principal, e.g. ``ssm.amazonaws.com``
    service_principal: ClassVar[str]
    #: the IAM action prefix, e.g. ``ssm``
    action_prefix: ClassVar[str]

    def __init__(
        self, store: DocStore, managed: ManagedKeys, *, kms: LocalKms, identities: CloudIdentities, account: str
    ) -> None:
        super().__init__(kms, identities, account, self.service_principal, self.action_prefix)
        self.store = store
        self.managed = managed
        self._handlers = self.handlers()

    def handlers(self) -> dict[str, Handler]:
        """The operations this service serves.

        Returns:
            Operation name -> handler.
        """
        raise NotImplementedError

    def handle(self, request: Incoming, call: Call) -> Outgoing:
        """Answer one request of this service.

        Args:
            request: the request.
            call: who sends it.

        Returns:
            The answer.

        Raises:
            CloudError: the service's error.
        """
        operation, params = parse_json(request, self.target_prefix)
        return answer(self.served(self._handlers, operation)(params, call), call)
