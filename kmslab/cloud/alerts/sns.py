"""SNS publishing with server-side encryption through the local KMS, and local fan-out.

moto stores topics and subscriptions and delivers to SQS (and HTTP) subscribers. What it lacks is
done here, for every publisher (the Publish API, EventBridge targets, CloudWatch alarm actions):

* a topic with ``KmsMasterKeyId`` makes the publisher call ``GenerateDataKey`` on the topic's key,
  with the encryption context ``aws:sns:topicArn`` (SNS Developer Guide, "Key management": a
  publisher needs ``kms:GenerateDataKey*`` and ``kms:Decrypt``). The call is made as the publisher
  (a service principal such as ``cloudwatch.amazonaws.com`` for an alarm), invoked by
  ``sns.amazonaws.com``, so the key policy really decides; a refusal answers SNS's
  ``KMSAccessDenied`` (``KMSDisabled``, ``KMSInvalidState``, ``KMSNotFound`` for the other cases);
* Lambda subscriptions invoke the function asynchronously with SNS's event;
* e-mail subscriptions deliver to the local mailbox (``email``: the message text; ``email-json``:
  the notification document).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from kmslab.cloud.alerts.lambda_runtime import LambdaRuntime
from kmslab.cloud.alerts.mail import Mailbox
from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.cloud.services._front import MotoFront, query_params
from kmslab.kms import LocalKms
from kmslab.kms.errors import KmsError
from kmslab.kms.seams import Caller

log = logging.getLogger(__name__)

SNS_PRINCIPAL = "sns.amazonaws.com"
#: KMS error code -> SNS error code (SNS API Reference, Publish: Errors)
_KMS_ERRORS = {
    "AccessDeniedException": "KMSAccessDenied",
    "DisabledException": "KMSDisabled",
    "KMSInvalidStateException": "KMSInvalidState",
    "NotFoundException": "KMSNotFound",
    "ThrottlingException": "KMSThrottling",
}
_NS = "http://sns.amazonaws.com/doc/2010-03-31/"


def service_caller(principal: str, account: str) -> Caller:
    """Return the caller of a service principal publishing on its own (EventBridge, CloudWatch).

    Args:
        principal: e.g. ``cloudwatch.amazonaws.com``.
        account: the account.

    Returns:
        The caller.
    """
    return Caller(
        arn=principal, account=account, identity_type="AWSService", principal_id=principal, source_ip=principal
    )


class SnsPublisher:
    """Publish to topics moto stores, with KMS and the deliveries moto lacks.

    Args:
        account: the account.
        kms: the local KMS engine.
        runtime: invokes Lambda subscribers.
        mailbox: where e-mail subscriptions deliver.
    """

    def __init__(self, *, account: str, kms: LocalKms, runtime: LambdaRuntime, mailbox: Mailbox) -> None:
        self.account = account
        self.kms = kms
        self.runtime = runtime
        self.mailbox = mailbox

    def topic(self, arn: str) -> Any:
        """Return moto's topic.

        Args:
            arn: the topic ARN.

        Returns:
            The topic.

        Raises:
            CloudError: NotFound.
        """
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "sns":
            raise CloudError("InvalidParameter", "Invalid parameter: TopicArn", 400)
        from moto.sns.models import sns_backends

        topic = sns_backends[parts[4]][parts[3]].topics.get(arn)
        if topic is None:
            raise CloudError("NotFound", "Topic does not exist", 404)
        return topic

    def check_encryption(self, topic: Any, caller: Caller, region: str) -> None:
        """Make the publisher's KMS call for an encrypted topic.

        Args:
            topic: moto's topic.
            caller: the publisher.
            region: the topic's Region.

        Raises:
            CloudError: KMSAccessDenied (and the other KMS* errors) when KMS refuses.
        """
        key = str(getattr(topic, "kms_master_key_id", "") or "")
        if not key:
            return
        params = {"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": {"aws:sns:topicArn": topic.arn}}
        try:
            answer = self.kms.call(
                "GenerateDataKey", params, caller=replace(caller, invoked_by=SNS_PRINCIPAL), region=region
            )
        except KmsError as exc:
            code = _KMS_ERRORS.get(exc.code, "KMSAccessDenied" if exc.status < 500 else "KMSThrottling")
            raise CloudError(
                code,
                f"{exc.message} (Service: AWSKMS; Status Code: {exc.status}; Error Code: {exc.code})",
                400,
            ) from None
        answer.pop("Plaintext", None)  # the data key would encrypt the message at rest; nothing of it is kept

    def publish(
        self,
        topic_arn: str,
        message: str,
        *,
        caller: Caller,
        subject: str | None = None,
        attributes: Mapping[str, Mapping[str, str]] | None = None,
    ) -> str:
        """Publish one message as ``caller``.

        Args:
            topic_arn: the topic.
            message: the message.
            caller: the publisher.
            subject: the subject.
            attributes: message attributes ``{name: {"Type", "Value"}}``.

        Returns:
            The message ID.

        Raises:
            CloudError: the topic does not exist, or KMS refused.
        """
        topic = self.topic(topic_arn)
        region = topic_arn.split(":")[3]
        self.check_encryption(topic, caller, region)
        message_id = str(uuid.uuid4())
        attrs = {k: dict(v) for k, v in (attributes or {}).items()}
        subscriptions, _ = topic.sns_backend.list_subscriptions_by_topic(topic_arn=topic_arn)
        for subscription in subscriptions:
            try:
                self._deliver(subscription, message, message_id, subject, attrs)
            except Exception:  # one subscriber failing does not stop the others (SNS retries per endpoint)
                log.exception("SNS delivery to %s failed", subscription.endpoint)
        topic.sent_notifications.append((message_id, message, subject, attrs, None))
        return message_id

    def _deliver(
        self, sub: Any, message: str, message_id: str, subject: str | None, attrs: dict[str, dict[str, str]]
    ) -> None:
        matcher = getattr(sub, "_filter_policy_matcher", None)
        if matcher is not None and not matcher.matches(attrs, message):
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        notification = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": sub.topic_arn,
            "Subject": subject,
            "Message": message,
            "Timestamp": stamp,
            "SignatureVersion": "1",
            "UnsubscribeURL": f"https://sns.local/?Action=Unsubscribe&SubscriptionArn={sub.arn}",
            "MessageAttributes": attrs,
        }
        if sub.protocol == "lambda":
            event = {
                "Records": [
                    {
                        "EventSource": "aws:sns",
                        "EventVersion": "1.0",
                        "EventSubscriptionArn": sub.arn,
                        "Sns": notification,
                    }
                ]
            }
            self.runtime.invoke_for_service(
                sub.endpoint, json.dumps(event).encode(), principal=SNS_PRINCIPAL, source_arn=sub.topic_arn
            )
        elif sub.protocol == "email":
            footer = (
                "\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the "
                f"link below to unsubscribe:\n{notification['UnsubscribeURL']}\n"
            )
            self.mailbox.deliver(to=sub.endpoint, subject=subject or "AWS Notification Message", body=message + footer)
        elif sub.protocol == "email-json":
            self.mailbox.deliver(
                to=sub.endpoint, subject=subject or "AWS Notification Message", body=json.dumps(notification, indent=2)
            )
        else:  # sqs, http(s): moto's own delivery
            sub.publish(message, message_id, subject=subject, message_attributes=attrs or None)


class SnsService(MotoFront):
    """The gateway's SNS module: Publish here, everything else by moto.

    Args:
        moto: the moto-served SNS module (``MotoService``).
        publisher: the publisher.
    """

    protocol = "query"

    def __init__(self, moto: Any, publisher: SnsPublisher) -> None:
        super().__init__(moto)
        self.publisher = publisher

    def handle(self, request: Incoming, call: Call) -> Outgoing:  # noqa: D102 - MotoFront.handle
        params = query_params(request)
        action = params.get("Action", "")
        if action == "PublishBatch":
            self.moto.bridge.check_iam("sns", request, call)
            self.publisher.check_encryption(
                self.publisher.topic(params.get("TopicArn", "")),
                call.caller,
                params.get("TopicArn", "::::").split(":")[3],
            )
        if action != "Publish" or not params.get("TopicArn"):
            return self.by_moto(request, call)
        self.moto.bridge.check_iam("sns", request, call)
        if "Message" not in params:
            raise CloudError(
                "ValidationError",
                "1 validation error detected: Value null at 'message' failed to satisfy constraint: "
                "Member must not be null",
            )
        subject = params.get("Subject")
        if subject is not None and len(subject) > 100:
            raise CloudError("InvalidParameter", "Invalid parameter: Subject")
        message_id = self.publisher.publish(
            params["TopicArn"], params["Message"], caller=call.caller, subject=subject, attributes=_attributes(params)
        )
        body = (
            f'<PublishResponse xmlns="{_NS}"><PublishResult><MessageId>{message_id}</MessageId></PublishResult>'
            f"<ResponseMetadata><RequestId>{call.request_id}</RequestId></ResponseMetadata></PublishResponse>"
        ).encode()
        return Outgoing(200, [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))], body)


def _attributes(params: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    index = 1
    while f"MessageAttributes.entry.{index}.Name" in params:
        prefix = f"MessageAttributes.entry.{index}"
        kind = params.get(f"{prefix}.Value.DataType", "String")
        value = params.get(f"{prefix}.Value.StringValue", params.get(f"{prefix}.Value.BinaryValue", ""))
        out[params[f"{prefix}.Name"]] = {"Type": kind, "Value": value}
        index += 1
    return out
