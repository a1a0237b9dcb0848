"""STS behind the gateway: GetCallerIdentity and AssumeRole over the cloud's identities.

AssumeRole needs the role's trust policy to allow the caller (by name, or by account plus an IAM
policy of the caller that allows ``sts:AssumeRole`` on the role), as on AWS. The temporary
credentials it issues sign requests to every service with their session token.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kmslab.cloud.errors import CloudError, xml_text
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.cloud.services._front import query_params
from kmslab.iam import CloudIdentities, authorize_resource
from kmslab.iam.evaluate import ANONYMOUS_ARN
from kmslab.iam.store import MIN_SESSION_SECONDS, valid_session_name

_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


class StsService:
    """Answer STS query-protocol requests.

    Args:
        identities: the identities, roles and sessions.
    """

    protocol = "query"

    def __init__(self, identities: CloudIdentities) -> None:
        self.identities = identities

    def handle(self, request: Incoming, call: Call) -> Outgoing:
        """Answer one STS request.

        Args:
            request: the request.
            call: who sends it.

        Returns:
            The answer.

        Raises:
            CloudError: the STS error.
        """
        params = query_params(request)
        action = params.get("Action", "")
        if action == "GetCallerIdentity":
            caller = call.caller
            result = (
                f"<Arn>{xml_text(caller.arn)}</Arn><UserId>{xml_text(caller.principal_id or caller.account)}</UserId>"
                f"<Account>{caller.account}</Account>"
            )
            return _answer(action, result, call.request_id)
        if action == "AssumeRole":
            return _answer(action, self._assume_role(params, call), call.request_id)
        if not action:
            raise CloudError("MissingAction", "The request must contain the parameter Action.")
        raise CloudError(
            "InvalidAction", f"The action {action[:60]} is not valid for this web service (not emulated locally)."
        )

    def _assume_role(self, params: dict[str, str], call: Call) -> str:
        caller = call.caller
        role_arn = params.get("RoleArn", "")
        name = params.get("RoleSessionName", "")
        if not role_arn or not name:
            missing = "RoleArn" if not role_arn else "RoleSessionName"
            raise CloudError(
                "ValidationError",
                f"1 validation error detected: Value null at '{missing}' failed to satisfy constraint: Member "
                "must not be null",
            )
        if not valid_session_name(name):
            raise CloudError(
                "ValidationError",
                "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
            )
        try:
            duration = int(params.get("DurationSeconds", "3600"))
        except ValueError:
            raise CloudError("ValidationError", "DurationSeconds must be a number.") from None
        role = self.identities.role(role_arn)
        denied = CloudError(
            "AccessDenied",
            f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            403,
        )
        if role is None or caller.arn == ANONYMOUS_ARN:
            raise denied
        if not MIN_SESSION_SECONDS <= duration <= role.max_session_seconds:
            raise CloudError(
                "ValidationError",
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role ("
                f"{role.max_session_seconds}).",
            )
        decision = authorize_resource(
            caller=caller,
            action="sts:AssumeRole",
            resource=role.arn,
            resource_account=role.arn.split(":")[4],
            region=call.region,
            identity_policies=self.identities.policies_for(caller),
            resource_policy=role.trust_policy,
            context={},
            resource_policy_required=True,
        )
        if not decision.allowed:
            raise denied
        session = self.identities.start_session(
            role, session_name=name, duration=duration, now=datetime.now(UTC), source_identity=caller.arn
        )
        expiration = session.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            "<Credentials>"
            f"<AccessKeyId>{session.access_key_id}</AccessKeyId>"
            f"<SecretAccessKey>{xml_text(session.secret_access_key)}</SecretAccessKey>"
            f"<SessionToken>{xml_text(session.session_token)}</SessionToken>"
            f"<Expiration>{expiration}</Expiration></Credentials>"
            f"<AssumedRoleUser><AssumedRoleId>{role.role_id}:{xml_text(name)}</AssumedRoleId>"
            f"<Arn>{xml_text(session.arn)}</Arn></AssumedRoleUser>"
        )


def _answer(action: str, result: str, request_id: str) -> Outgoing:
    body = (
        f'<{action}Response xmlns="{_NS}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    ).encode()
    return Outgoing(200, [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))], body)
