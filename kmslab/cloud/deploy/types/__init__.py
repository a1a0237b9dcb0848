"""Resource handlers for every type the kit's templates use, one module per service family."""

from __future__ import annotations

from kmslab.cloud.deploy.resources import Registry
from kmslab.cloud.deploy.types import audit, compute, custom, iam, kms, messaging, observability, s3


def default_registry() -> Registry:
    """Every handler the local cloud has.

    Returns:
        A registry with one handler per served resource type.
    """
    return Registry(
        [
            kms.KmsKey(),
            kms.KmsReplicaKey(),
            kms.KmsAlias(),
            s3.Bucket(),
            s3.BucketPolicy(),
            iam.Role(),
            iam.ManagedPolicy(),
            iam.InlinePolicy(),
            messaging.Topic(),
            messaging.TopicPolicy(),
            messaging.Subscription(),
            messaging.Queue(),
            messaging.QueuePolicy(),
            compute.Function(),
            compute.Permission(),
            compute.EventInvokeConfig(),
            compute.Rule(),
            compute.Table(),
            observability.LogGroup(),
            observability.MetricFilter(),
            observability.Alarm(),
            observability.CdkMetadata(),
            audit.Trail(),
            audit.GlueDatabase(),
            audit.GlueTable(),
            audit.WorkGroup(),
            audit.NamedQuery(),
            audit.SsmParameter(),
            custom.CrossRegionExportWriter(),
            custom.CrossRegionExportReader(),
        ]
    )
