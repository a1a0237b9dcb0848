"""Pure pieces: SNS subjects, the Alert value object, settings from the environment, key facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kms_events.errors import ConfigurationError
from kms_events.facts import KeyFacts
from kms_events.publish import SUBJECT_MAX, Alert, make_subject, subject_naming
from kms_events.settings import Settings

pytestmark = pytest.mark.unit

ATTRS = {"key_id": "k", "operation": "Decrypt", "principal": "p", "region": "us-east-1", "event_type": "t"}


def test_subject_is_one_printable_line_under_100_characters():
    subject = make_subject("KMS key\nused: alias/é" + "x" * 200)
    assert len(subject) == SUBJECT_MAX and subject.endswith("...")
    assert "\n" not in subject and subject.isascii()
    assert "alias/?" in subject


def test_subject_naming_shortens_the_name_and_keeps_the_operation():
    subject = subject_naming("KMS key deletion CANCELLED after use: ", "alias/" + "n" * 120, " (GenerateDataKey)")
    assert len(subject) <= SUBJECT_MAX
    assert subject.endswith("... (GenerateDataKey)")
    assert subject_naming("A: ", "alias/x", " (Decrypt)") == "A: alias/x (Decrypt)"


def test_alert_refuses_a_bad_subject_or_missing_attributes():
    with pytest.raises(ValueError, match="subject"):
        Alert(subject="two\nlines", body="b", attributes=ATTRS)
    with pytest.raises(ValueError, match="missing or empty"):
        Alert(subject="s", body="b", attributes={**ATTRS, "principal": ""})
    alert = Alert(subject="s", body="b", attributes=ATTRS)
    assert alert.message_attributes()["operation"] == {"DataType": "String", "StringValue": "Decrypt"}


def test_settings_read_the_environment():
    env = {"ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:t", "IDEMPOTENCY_TABLE": "tbl", "ON_USE": " Cancel "}
    settings = Settings.from_env(env)
    assert (settings.on_use, settings.on_use_recognised) == ("cancel", True)
    assert Settings.from_env({**env, "ON_USE": ""}).on_use == "notify"
    odd = Settings.from_env({**env, "ON_USE": "delete-it"})
    assert (odd.on_use, odd.on_use_raw, odd.on_use_recognised) == ("notify", "delete-it", False)
    with pytest.raises(ConfigurationError, match="ALERT_TOPIC_ARN"):
        Settings.from_env({"IDEMPOTENCY_TABLE": "tbl"})
    with pytest.raises(ConfigurationError, match="IDEMPOTENCY_TABLE"):
        Settings.from_env({"ALERT_TOPIC_ARN": env["ALERT_TOPIC_ARN"]})


def test_days_left_round_down_and_never_go_negative():
    deletion = datetime(2026, 1, 11, 18, 0, tzinfo=UTC)
    facts = KeyFacts(key_id="k", key_arn="a", deletion_date=deletion)
    assert facts.days_left(deletion - timedelta(days=6, hours=23)) == 6
    assert facts.days_left(deletion + timedelta(hours=1)) == 0
    assert KeyFacts(key_id="k", key_arn="a").days_left(deletion) is None
    with pytest.raises(ValueError, match="timezone-aware"):
        KeyFacts(key_id="k", key_arn="a", deletion_date=datetime(2026, 1, 1))
