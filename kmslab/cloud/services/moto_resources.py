"""The resource ARN a request to a moto-served service acts on, for the IAM check of its caller.

IAM matches an identity policy's ``Resource`` against the ARN of the resource the action names (IAM User Guide,
"Actions, resources, and condition keys"): ``dynamodb:PutItem`` on ``table/<TableName>``, ``sns:Publish`` on the
``TopicArn``, ``sqs:SendMessage`` on the queue, ``logs:PutLogEvents`` on the log stream. Knowing it lets a
least-privilege policy (``Resource`` = one table, as the kit's Lambda roles have) allow the call. Requests whose
resource is not known here are checked as before, against ``Resource: "*"`` only.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

_DYNAMODB_TABLE_OPS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "DescribeTable",
        "DescribeTimeToLive",
        "UpdateTimeToLive",
        "DeleteTable",
        "UpdateTable",
    }
)


def request_resource(
    service: str, operation: str, body: bytes, *, region: str, account: str, protocol: str
) -> str | None:
    """The ARN the operation acts on, when it names exactly one resource this module knows.

    Args:
        service: The signing name (``dynamodb``, ``sns``, ``sqs``, ``logs``...).
        operation: The operation name.
        body: The request body.
        region: The request's Region.
        account: The account moto answers as.
        protocol: The service's wire protocol (``json`` or ``query``).

    Returns:
        The resource ARN, or None.
    """
    params = _params(body, protocol)
    if params is None:
        return None
    if service == "dynamodb" and operation in _DYNAMODB_TABLE_OPS and isinstance(params.get("TableName"), str):
        return f"arn:aws:dynamodb:{region}:{account}:table/{params['TableName']}"
    if service == "sns" and operation == "Publish" and isinstance(params.get("TopicArn"), str):
        return str(params["TopicArn"])
    if service == "sqs" and operation in ("SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage"):
        url = params.get("QueueUrl")
        if isinstance(url, str) and url:
            name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
            return f"arn:aws:sqs:{region}:{account}:{name}"
    if service == "logs" and operation in ("PutLogEvents", "CreateLogStream"):
        group, stream = params.get("logGroupName"), params.get("logStreamName")
        if isinstance(group, str) and isinstance(stream, str):
            return f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}"
    return None


def _params(body: bytes, protocol: str) -> dict[str, Any] | None:
    try:
        if protocol == "json":
            parsed = json.loads(body or b"{}")
            return parsed if isinstance(parsed, dict) else None
        if protocol == "query":
            return dict(parse_qsl(body.decode("utf-8")))
    except (ValueError, UnicodeDecodeError):
        return None
    return None
