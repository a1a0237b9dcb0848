"""SNS topics (encrypted through the local KMS), subscriptions and topic policies; SQS queues and queue policies.

``AWS::SNS::Topic``: ``Ref`` is the topic ARN (attributes ``TopicArn``, ``TopicName``).
``AWS::SQS::Queue``: ``Ref`` is the queue URL (attributes ``Arn``, ``QueueName``, ``QueueUrl``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from kmslab.cloud.deploy.resources import ProvisionContext, Provisioned
from kmslab.cloud.deploy.types._base import Handler, Reapply, physical_name, policy_text, tag_list

_TOPIC_ATTRIBUTES = {"DisplayName": "DisplayName", "KmsMasterKeyId": "KmsMasterKeyId", "FifoTopic": "FifoTopic"}
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "SqsManagedSseEnabled",
    "FifoQueue",
)


class Topic(Handler):
    """``AWS::SNS::Topic``."""

    type_name = "AWS::SNS::Topic"
    served = "enforced"
    note = "moto stores it; Publish uses its KMS key as the publisher (KMSAccessDenied when the key refuses)"
    immutable = frozenset({"TopicName", "FifoTopic"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        name = str(properties.get("TopicName") or physical_name(ctx, max_length=256))
        attributes = {api: _text(properties[cfn]) for cfn, api in _TOPIC_ATTRIBUTES.items() if cfn in properties}
        args: dict[str, Any] = {"Name": name, "Attributes": attributes}
        if properties.get("Tags"):
            args["Tags"] = tag_list(properties)
        sns = ctx.client("sns")
        arn = sns.create_topic(**args)["TopicArn"]
        for sub in properties.get("Subscription", []):
            sns.subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
        return Provisioned(arn, {"TopicArn": arn, "TopicName": name})

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        sns = ctx.client("sns")
        for cfn, api in _TOPIC_ATTRIBUTES.items():
            if old.get(cfn) != new.get(cfn):
                sns.set_topic_attributes(
                    TopicArn=physical_id, AttributeName=api, AttributeValue=_text(new.get(cfn, ""))
                )
        return Provisioned(physical_id, {"TopicArn": physical_id, "TopicName": physical_id.rsplit(":", 1)[-1]})

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        ctx.client("sns").delete_topic(TopicArn=physical_id)


class TopicPolicy(Reapply):
    """``AWS::SNS::TopicPolicy``: sets each topic's access policy."""

    type_name = "AWS::SNS::TopicPolicy"
    served = "stored only"
    note = "moto stores the policy; it is not evaluated"

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        sns = ctx.client("sns")
        for topic in properties["Topics"]:
            sns.set_topic_attributes(
                TopicArn=topic, AttributeName="Policy", AttributeValue=policy_text(properties["PolicyDocument"])
            )
        return Provisioned(f"{ctx.stack_name}-{ctx.logical_id}")

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        return None  # the topics keep their default policy; deleting a topic removes it anyway


class Subscription(Handler):
    """``AWS::SNS::Subscription``: ``Ref`` is the subscription ARN."""

    type_name = "AWS::SNS::Subscription"
    served = "enforced"
    note = "SQS, Lambda and e-mail (the local mailbox: kmslab local mail) subscriptions deliver"
    immutable = frozenset({"TopicArn", "Protocol", "Endpoint"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        attributes = {
            k: _text(properties[k]) for k in ("RawMessageDelivery", "FilterPolicy", "RedrivePolicy") if k in properties
        }
        arn = ctx.client("sns").subscribe(
            TopicArn=properties["TopicArn"],
            Protocol=properties["Protocol"],
            Endpoint=properties["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Provisioned(arn)

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        ctx.client("sns").unsubscribe(SubscriptionArn=physical_id)


class Queue(Handler):
    """``AWS::SQS::Queue``."""

    type_name = "AWS::SQS::Queue"
    served = "enforced"
    note = "moto serves the queue (send, receive, redrive); its KMS key is not used"
    immutable = frozenset({"QueueName", "FifoQueue"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        name = str(properties.get("QueueName") or physical_name(ctx, max_length=80))
        attributes = {k: _text(properties[k]) for k in _QUEUE_ATTRIBUTES if k in properties}
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = _text(properties["RedrivePolicy"])
        sqs = ctx.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return Provisioned(url, _queue_attributes(sqs, url))

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        sqs = ctx.client("sqs")
        changed = {k: _text(new.get(k, "")) for k in (*_QUEUE_ATTRIBUTES, "RedrivePolicy") if old.get(k) != new.get(k)}
        if changed:
            sqs.set_queue_attributes(QueueUrl=physical_id, Attributes=changed)
        return Provisioned(physical_id, _queue_attributes(sqs, physical_id))

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        sqs = ctx.client("sqs")
        with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
            sqs.delete_queue(QueueUrl=physical_id)


class QueuePolicy(Reapply):
    """``AWS::SQS::QueuePolicy``: sets each queue's access policy."""

    type_name = "AWS::SQS::QueuePolicy"
    served = "stored only"
    note = "moto stores the policy; it is not evaluated"

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        sqs = ctx.client("sqs")
        for url in properties["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy_text(properties["PolicyDocument"])})
        return Provisioned(f"{ctx.stack_name}-{ctx.logical_id}")

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        sqs = ctx.client("sqs")
        for url in properties.get("Queues", []):
            with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
                sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})


def _queue_attributes(sqs: Any, url: str) -> dict[str, str]:
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"Arn": arn, "QueueUrl": url, "QueueName": url.rsplit("/", 1)[-1]}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
