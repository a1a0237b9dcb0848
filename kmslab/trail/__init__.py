"""CloudTrail for the local KMS: records, log files, EventBridge events and LookupEvents.

Attach a :class:`TrailRecorder` to :class:`kmslab.kms.LocalKms` with ``kms.add_sink(recorder)``;
every answered request becomes a CloudTrail record in a real CloudTrail log file layout. A record is
synced to the trail directory's journal before its call is answered, so a kill -9 loses none.
"""

from __future__ import annotations

from kmslab.trail.errors import (
    InvalidLookupAttributesException,
    InvalidMaxResultsException,
    InvalidNextTokenException,
    InvalidTimeRangeException,
    LookupEventsError,
    TrailError,
    TrailJournalUnavailable,
)
from kmslab.trail.events import EventBus, to_eventbridge_event
from kmslab.trail.journal import JournalInUse
from kmslab.trail.lookup import TARGET_PREFIX, lookup_events, lookup_service
from kmslab.trail.record import to_cloudtrail_record
from kmslab.trail.recorder import TrailRecorder

__all__ = [
    "TARGET_PREFIX",
    "EventBus",
    "InvalidLookupAttributesException",
    "InvalidMaxResultsException",
    "InvalidNextTokenException",
    "InvalidTimeRangeException",
    "JournalInUse",
    "LookupEventsError",
    "TrailError",
    "TrailJournalUnavailable",
    "TrailRecorder",
    "lookup_events",
    "lookup_service",
    "to_cloudtrail_record",
    "to_eventbridge_event",
]
