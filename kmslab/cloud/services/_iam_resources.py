"""The resource a moto-served request acts on, for the IAM check of the moto bridge.

IAM evaluates an identity policy's ``Resource`` against the ARN of what the request names. For the
requests whose resource is plain in the request (a DynamoDB table by ``TableName``, an SNS topic by
``TopicArn``) that ARN is given here, so a resource-scoped Allow (``dynamodb:PutItem`` on one table,
as the kit's alert functions have) counts as on AWS; for others, ``None`` keeps the bridge's
conservative rule (only an Allow on ``*`` counts).
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from kmslab.cloud.gateway.request import Incoming

_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_TOPIC = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


def resource_arn(service: str, request: Incoming, *, account: str, region: str) -> str | None:
    """The ARN of the one resource a request names, when it is plain in the request.

    Args:
        service: the signing name.
        request: the request.
        account: the account.
        region: the request's Region.

    Returns:
        The ARN, or None when the request names no single resource this module knows.
    """
    if service == "dynamodb":
        try:
            params = json.loads(request.body() or b"{}")
        except ValueError:
            return None
        table = params.get("TableName") if isinstance(params, dict) else None
        if isinstance(table, str) and _TABLE.match(table):
            return f"arn:aws:dynamodb:{region}:{account}:table/{table}"
        return None
    if service == "sns":
        params = dict(parse_qsl(request.query))
        if request.method == "POST":
            try:
                params.update(parse_qsl(request.body().decode("utf-8")))
            except UnicodeDecodeError:
                return None
        topic = params.get("TopicArn", "")
        return topic if _TOPIC.match(topic) and topic.split(":")[4] == account else None
    return None
