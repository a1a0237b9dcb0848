"""Shared code of the kmslab alerting Lambda functions (bundled into each function's asset).

The package reads KMS "AWS API Call via CloudTrail" events from EventBridge, gathers
facts about the key, and publishes one alert to SNS. It depends only on boto3 and
Powertools (both in the Lambda runtime or the Powertools layer), never on ``kmslab``.
"""

from __future__ import annotations

from kms_events.errors import ConfigurationError, IgnoredEventError, KmsEventsError

__all__ = ["ConfigurationError", "IgnoredEventError", "KmsEventsError"]
