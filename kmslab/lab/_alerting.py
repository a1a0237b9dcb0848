"""Run the kit's ``key_use_alert`` Lambda handler offline: moto for SNS, SQS and DynamoDB, our KMS for KMS.

moto runs as a real HTTP server (``ThreadedMotoServer`` on a free port), so every AWS call the handler
makes goes over HTTP: KMS calls to the local KMS endpoint (signed as a lab identity), SNS and DynamoDB
calls to moto. Nothing is patched inside botocore, so the lab's own KMS clients are untouched.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from kmslab.lab._steps import LAB_REGION, LabError

#: moto accepts any credentials; these are AWS's documented example keys
_MOTO_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
_MOTO_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # noqa: S105 - AWS's documented example key
#: resource names; each world adds a random suffix (moto's servers in one process share their state)
TOPIC_NAME = "kmslab-lab-alerts"
QUEUE_NAME = "kmslab-lab-alert-inbox"
TABLE_NAME = "kmslab-lab-idempotency"


class AlertingUnavailableError(LabError):
    """The alerting Lambda handlers or moto cannot be loaded."""


def lambda_root() -> Path:
    """Return the Lambda asset root (``lambda/`` next to the ``kmslab`` package in a source checkout).

    Returns:
        The directory.

    Raises:
        AlertingUnavailableError: there is no ``lambda/key_use_alert`` there.
    """
    import kmslab

    root = Path(kmslab.__file__).resolve().parents[1] / "lambda"
    if not (root / "key_use_alert" / "app.py").is_file():
        raise AlertingUnavailableError(
            f"the alerting handlers are not at {root}: run the lab from a kmslab source checkout"
        )
    return root


@dataclass
class LabLambdaContext:
    """The parts of the Lambda context the handler (Powertools) reads."""

    function_name: str = "kmslab-lab-key-use-alert"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:111122223333:function:kmslab-lab-key-use-alert"
    aws_request_id: str = "00000000-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        """Return the time the invocation has left (30 s)."""
        return 30_000


@dataclass
class AlertingWorld:
    """moto's SNS topic with an SQS subscriber, and the idempotency table, behind a local moto server.

    Args:
        url: the moto server URL.
        topic_arn: the alert topic.
        queue_url: the SQS queue subscribed to the topic.
        table: the idempotency table.
    """

    url: str
    topic_arn: str
    queue_url: str
    table: str
    _server: Any = field(repr=False)
    _quiet: _Quiet = field(repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def start(cls) -> AlertingWorld:
        """Start moto on a free port and create the topic, the subscribed queue and the table.

        Returns:
            The running world; call :meth:`stop`.

        Raises:
            AlertingUnavailableError: moto's server is not installed.
        """
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:  # moto[server] is a development dependency
            raise AlertingUnavailableError(f"moto's server is needed for the alert chapter: {exc}") from exc
        quiet = _Quiet()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        clients = {name: _moto_client(name, url) for name in ("sns", "sqs", "dynamodb")}
        suffix = secrets.token_hex(4)
        table = f"{TABLE_NAME}-{suffix}"
        try:
            topic_arn = clients["sns"].create_topic(Name=f"{TOPIC_NAME}-{suffix}")["TopicArn"]
            queue_url = clients["sqs"].create_queue(QueueName=f"{QUEUE_NAME}-{suffix}")["QueueUrl"]
            queue_arn = clients["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            clients["sns"].subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
            clients["dynamodb"].create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        except BaseException:
            server.stop()
            quiet.restore()
            raise
        return cls(url, topic_arn, queue_url, table, server, quiet, clients)

    def client(self, service: str) -> Any:
        """Return a boto3 client for moto (``sns``, ``sqs`` or ``dynamodb``)."""
        return self._clients[service]

    def receive(self) -> list[dict[str, Any]]:
        """Return the SNS notifications the subscribed queue received since the last call.

        Returns:
            The notifications (``Subject``, ``Message``, ``MessageAttributes``...).
        """
        sqs = self._clients["sqs"]
        out: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return out
            for message in batch:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def stop(self) -> None:
        """Delete what :meth:`start` created and stop moto."""
        with contextlib.suppress(Exception):  # best effort: the server goes away next anyway
            self._clients["sns"].delete_topic(TopicArn=self.topic_arn)
            self._clients["sqs"].delete_queue(QueueUrl=self.queue_url)
            self._clients["dynamodb"].delete_table(TableName=self.table)
        for client in self._clients.values():
            client.close()
        self._server.stop()
        self._quiet.restore()


class _Quiet:
    """Silence the request log lines moto's web server writes to stderr while the lab runs."""

    def __init__(self) -> None:
        self._logger = logging.getLogger("werkzeug")
        self._level = self._logger.level
        self._logger.setLevel(logging.ERROR)

    def restore(self) -> None:
        self._logger.setLevel(self._level)


def _moto_client(service: str, url: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=_MOTO_ACCESS_KEY, aws_secret_access_key=_MOTO_SECRET_KEY, region_name=LAB_REGION
    )
    return session.client(service, endpoint_url=url)


def load_key_use_alert() -> ModuleType:
    """Import the ``key_use_alert`` handler module from the Lambda asset root.

    Returns:
        ``key_use_alert.app``.

    Raises:
        AlertingUnavailableError: the handler cannot be imported.
    """
    root = str(lambda_root())
    if root not in sys.path:
        sys.path.append(root)
    try:
        import key_use_alert.app as app
    except ImportError as exc:
        raise AlertingUnavailableError(f"cannot import the key_use_alert handler: {exc}") from exc
    return app


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def invoke_key_use_alert(event: Mapping[str, Any], world: AlertingWorld, kms: Any) -> tuple[dict[str, Any], list[str]]:
    """Invoke the ``key_use_alert`` handler once, as Lambda would, with the stack's environment.

    Args:
        event: the EventBridge event.
        world: moto's topic and table.
        kms: the KMS client the handler uses (a lab identity's client for the local KMS).

    Returns:
        The handler's answer and the messages of its structured log lines.
    """
    app = load_key_use_alert()
    from kms_events import clients, idempotency

    handler = app.logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    env = {
        "ALERT_TOPIC_ARN": world.topic_arn,
        "IDEMPOTENCY_TABLE": world.table,
        "ON_USE": "notify",
        "AWS_REGION": LAB_REGION,
    }
    try:
        with _environment(env):
            clients.reset()
            idempotency.reset()
            clients.override("kms", kms)
            clients.override("sns", world.client("sns"))
            clients.override("dynamodb", world.client("dynamodb"))
            answer: dict[str, Any] = app.lambda_handler(dict(event), LabLambdaContext())
    finally:
        clients.reset()
        idempotency.reset()
        handler.setStream(previous)
    logs = [json.loads(line).get("message", "") for line in buffer.getvalue().splitlines() if line.strip()]
    return answer, [str(message) for message in logs]
