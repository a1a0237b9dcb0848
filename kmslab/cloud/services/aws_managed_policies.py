"""AWS managed policies (``arn:aws:iam::aws:policy/...``) exist in every account, as on AWS.

moto only knows them when ``MOTO_IAM_LOAD_MANAGED_POLICIES`` is set, and then builds all ~1,600 of them
for every account at start-up. The local cloud instead installs one into moto's IAM backend the first time
a request names it (``AttachRolePolicy``, ``GetPolicy``...), from moto's own copy of AWS's documents, so
the CDK's custom resource providers (``service-role/AWSLambdaBasicExecutionRole``) deploy as on AWS.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from typing import Any
from urllib.parse import parse_qs

_PREFIX = "arn:aws:iam::aws:policy"
_lock = threading.Lock()


@cache
def _documents() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    parsed: dict[str, Any] = json.loads(aws_managed_policies_data)
    return parsed


def ensure_named(account: str, body: bytes) -> None:
    """Install the AWS managed policy an IAM query request names, when moto does not have it yet.

    Args:
        account: The account whose IAM backend serves the request.
        body: The form-encoded IAM request.
    """
    if b"iam%3A%3Aaws%3Apolicy" not in body and b"iam::aws:policy" not in body:
        return
    params = parse_qs(body.decode("utf-8", "replace"))
    for arn in params.get("PolicyArn", []):
        if arn.startswith(_PREFIX + "/"):
            _install(account, arn)


def _install(account: str, arn: str) -> None:
    name = arn.rsplit("/", 1)[-1]
    data = _documents().get(name)
    if data is None or f"{_PREFIX}{data.get('Path', '/')}{name}" != arn:
        return  # not an AWS managed policy: moto answers NoSuchEntity, as AWS does
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[account]["global"]
    with _lock:
        if arn not in backend.managed_policies:
            policy = AWSManagedPolicy.from_data(name, account, backend.region_name, data)
            backend.managed_policies[policy.arn] = policy
