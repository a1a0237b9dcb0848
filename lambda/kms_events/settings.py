"""The functions' configuration, read from the environment in one place.

Variables:
    ALERT_TOPIC_ARN: the SNS topic alerts go to (required).
    IDEMPOTENCY_TABLE: the DynamoDB table Powertools idempotency uses (required).
    ON_USE: ``notify`` (default) or ``cancel``. ``cancel`` makes key_use_alert cancel the deletion
        of a key that is still being used. Any other value is treated as ``notify``: the function
        logs a warning at every cold start and every alert says that remediation is off because the
        value was not recognised. It never fails, because an alerting function that refuses to
        start loses the very alert it exists for; the CDK stack rejects bad values at synth time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from kms_events.errors import ConfigurationError

ON_USE_NOTIFY = "notify"
ON_USE_CANCEL = "cancel"
ON_USE_CHOICES = (ON_USE_NOTIFY, ON_USE_CANCEL)


@dataclass(frozen=True)
class Settings:
    """What the environment configures.

    Args:
        alert_topic_arn: the SNS topic ARN.
        idempotency_table: the DynamoDB table name.
        on_use: the effective action on use of a key pending deletion (``notify`` or ``cancel``).
        on_use_raw: the ON_USE value as set, to report a value that was not recognised.
    """

    alert_topic_arn: str
    idempotency_table: str
    on_use: str = ON_USE_NOTIFY
    on_use_raw: str = ON_USE_NOTIFY

    def __post_init__(self) -> None:
        if not self.alert_topic_arn.startswith("arn:"):
            raise ConfigurationError(f"ALERT_TOPIC_ARN must be an SNS topic ARN, got {self.alert_topic_arn!r}")
        if not self.idempotency_table:
            raise ConfigurationError("IDEMPOTENCY_TABLE must name the idempotency DynamoDB table")
        if self.on_use not in ON_USE_CHOICES:
            raise ConfigurationError(f"on_use must be one of {ON_USE_CHOICES}, got {self.on_use!r}")

    @property
    def on_use_recognised(self) -> bool:
        """Whether ON_USE held a known value (or was unset)."""
        return self.on_use_raw == self.on_use

    @staticmethod
    def on_use_from_env(environ: Mapping[str, str] | None = None) -> str:
        """Read ON_USE as set (lower case, ``notify`` when unset or empty).

        Args:
            environ: the environment; ``os.environ`` when None.

        Returns:
            The raw value.
        """
        env = os.environ if environ is None else environ
        return env.get("ON_USE", ON_USE_NOTIFY).strip().lower() or ON_USE_NOTIFY

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from the environment.

        Args:
            environ: the environment; ``os.environ`` when None.

        Returns:
            The settings.

        Raises:
            ConfigurationError: ALERT_TOPIC_ARN or IDEMPOTENCY_TABLE is missing or invalid.
        """
        env = os.environ if environ is None else environ
        raw = cls.on_use_from_env(env)
        return cls(
            alert_topic_arn=env.get("ALERT_TOPIC_ARN", "").strip(),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", "").strip(),
            on_use=raw if raw in ON_USE_CHOICES else ON_USE_NOTIFY,
            on_use_raw=raw,
        )
