"""A Lambda execution environment's set-up: its execution role's credentials, its variables, its key.

The execution role is assumed as Lambda assumes it (Lambda Developer Guide, "Lambda execution
role"): the role's trust policy must let ``lambda.amazonaws.com`` call ``sts:AssumeRole``; the
temporary credentials go into the environment as ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``
and ``AWS_SESSION_TOKEN``, next to Lambda's reserved variables (``AWS_LAMBDA_FUNCTION_NAME``...).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kmslab.cloud.errors import CloudError
from kmslab.iam import CloudIdentities, evaluate_policy
from kmslab.kms.seams import Caller

log = logging.getLogger(__name__)

SERVICE = "lambda.amazonaws.com"
_SESSION_SECONDS = 3600
#: host variables a worker keeps (everything else of the cloud's environment stays out)
_KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT", "TMPDIR")
IDLE_WORKERS_ENV = "KMSLAB_LAMBDA_IDLE_WORKERS"
_DEFAULT_IDLE_WORKERS = 2


def check_trust(identities: CloudIdentities, account: str, function: Any) -> Any:
    """Return the function's role once its trust policy lets Lambda assume it.

    Args:
        identities: the cloud's identities.
        account: the cloud's account.
        function: moto's function.

    Returns:
        The role.

    Raises:
        CloudError: the role does not exist or its trust policy does not let Lambda assume it.
    """
    role = identities.role(str(function.role))
    if role is not None:
        service = Caller(arn=SERVICE, account=account, identity_type="AWSService", principal_id=SERVICE)
        decided = evaluate_policy(
            role.trust_policy, source="trust policy", caller=service, action="sts:AssumeRole",
            resource=role.arn, context={},
        )  # fmt: skip
        if decided.allows and not decided.denies:
            return role
    raise CloudError(
        "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.", 400
    )


def assume_execution_role(identities: CloudIdentities, account: str, function: Any) -> tuple[dict[str, str], float]:
    """Assume the function's execution role, as Lambda does for a new execution environment.

    Args:
        identities: the cloud's identities.
        account: the cloud's account.
        function: moto's function.

    Returns:
        ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``, and when they
        expire (``time.time()`` seconds).

    Raises:
        CloudError: the role does not exist or its trust policy does not let Lambda assume it.
    """
    role = check_trust(identities, account, function)
    session = identities.start_session(
        role,
        session_name=str(function.function_name)[:64],
        duration=min(_SESSION_SECONDS, role.max_session_seconds),
        now=datetime.now(UTC),
        source_identity=SERVICE,
    )
    variables = {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
    }
    return variables, session.expiration.timestamp()


def worker_environment(
    function: Any,
    *,
    stream: str,
    log_group: str,
    paths: list[Path],
    credentials: dict[str, str],
    endpoint: str,
    ca_file: str | None,
) -> dict[str, str]:
    """Return an execution environment's process environment.

    Args:
        function: moto's function.
        stream: the environment's log stream.
        log_group: the function's log group.
        paths: the code folder, then the layers' folders.
        credentials: the execution role's temporary credentials.
        endpoint: the cloud's URL.
        ca_file: the cloud's CA certificate file, when it serves HTTPS.

    Returns:
        The function's variables, Lambda's reserved ones and the credentials; nothing else of the host's
        but a few locale and path variables.
    """
    region = str(function.region)
    env = {k: v for k, v in os.environ.items() if k in _KEEP}
    env.update({str(k): str(v) for k, v in (function.environment_vars or {}).items()})
    env.update(credentials)
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_LAMBDA_FUNCTION_NAME": str(function.function_name),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
            "_HANDLER": str(function.handler),
            "LAMBDA_TASK_ROOT": str(paths[0]),
            # no profile of the host may leak in: the role's credentials are the only ones
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "PYTHONDONTWRITEBYTECODE": "1",
            "KMSLAB_LAMBDA_PATH": os.pathsep.join(str(p) for p in paths),
        }
    )
    if ca_file:
        env["AWS_CA_BUNDLE"] = ca_file
    return env


def idle_workers() -> int:
    """Return ``KMSLAB_LAMBDA_IDLE_WORKERS`` (idle environments per function), 2 when unset or not a number."""
    raw = os.environ.get(IDLE_WORKERS_ENV, "")
    try:
        return max(0, int(raw)) if raw.strip() else _DEFAULT_IDLE_WORKERS
    except ValueError:
        log.warning("%s=%r is not a number: keeping %d idle workers", IDLE_WORKERS_ENV, raw, _DEFAULT_IDLE_WORKERS)
        return _DEFAULT_IDLE_WORKERS


def config_key(function: Any) -> str:
    """Return what an execution environment depends on: the function's code and configuration.

    Args:
        function: moto's function.

    Returns:
        A digest; an environment serves only invocations of the same digest.
    """
    code = (
        str(getattr(function, "code_sha_256", "") or "")
        or hashlib.sha256(bytes(getattr(function, "code_bytes", b"") or b"")).hexdigest()
    )
    facts = [
        str(function.function_arn), code, str(function.handler), str(function.run_time), str(function.role),
        str(function.timeout), str(function.memory_size), str(getattr(function, "last_modified", "")),
        json.dumps(function.environment_vars or {}, sort_keys=True, default=str),
        json.dumps([layer.get("Arn") for layer in getattr(function, "layers", []) or []]),
    ]  # fmt: skip
    return hashlib.sha256("\x00".join(facts).encode()).hexdigest()
