"""Sample EventBridge events (real CloudTrail shapes) and the one helper that loads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).parent
SAMPLE_KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SAMPLE_KEY_ID = SAMPLE_KEY_ARN.rsplit("/", 1)[-1]
SAMPLE_ACCOUNT = "111122223333"


def event_names() -> list[str]:
    """Return the sample file names (without ``.json``)."""
    return sorted(p.stem for p in EVENTS_DIR.glob("*.json"))


def load_event(name: str, *, key_arn: str | None = None, event_id: str | None = None) -> dict[str, Any]:
    """Load a sample event, optionally pointed at a real key.

    Args:
        name: the file name without ``.json`` (``decrypt_user_pending_deletion``).
        key_arn: replaces the sample key everywhere (ARN, key ID, account, region) when given.
        event_id: replaces the EventBridge event ID when given.

    Returns:
        A fresh copy of the event.
    """
    text = (EVENTS_DIR / f"{name}.json").read_text()
    if key_arn is not None:
        _, _, _, region, account, resource = key_arn.split(":", 5)
        text = text.replace(SAMPLE_KEY_ARN, key_arn).replace(SAMPLE_KEY_ID, resource.split("/", 1)[1])
        text = text.replace(SAMPLE_ACCOUNT, account).replace('"us-east-1"', f'"{region}"')
    event: dict[str, Any] = json.loads(text)
    if event_id is not None:
        event["id"] = event_id
    return event
