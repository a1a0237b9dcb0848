"""The EventBridge event patterns of the kit's alert rules: one definition for AWS and for the offline lab.

The alerting stack deploys these patterns as EventBridge rules; the offline lab subscribes with the very
same patterns to the local KMS's event bus (:class:`kmslab.trail.EventBus`), so both see the same events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: How KMS ends the message of a request refused because its key is pending deletion.
PENDING_DELETION_SUFFIX = "is pending deletion."

#: KMS requests refused because the key is pending deletion (matched on the message, not the error code).
KEY_USE_PENDING_DELETION: Mapping[str, Any] = {
    "source": ["aws.kms"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventSource": ["kms.amazonaws.com"],
        "errorMessage": [{"suffix": PENDING_DELETION_SUFFIX}],
    },
}

#: A key scheduled for deletion, or disabled.
KEY_DELETION_SCHEDULED: Mapping[str, Any] = {
    "source": ["aws.kms"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventSource": ["kms.amazonaws.com"],
        "eventName": ["ScheduleKeyDeletion", "DisableKey"],
    },
}
