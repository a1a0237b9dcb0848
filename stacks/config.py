"""The kit's settings: one frozen, validated value object read once from CDK context.

Every setting is a plain snake_case context key (``cdk.json`` ``context`` or ``npx cdk synth -c name=value``).
Values given on the command line arrive as strings, so numbers, booleans and lists are parsed here:
``-c rotation_period_days=180``, ``-c hmac_key=true``, ``-c key_user_arns=arn:...:role/A,arn:...:role/B``
(or a JSON list). A snake_case context key that is not a setting is rejected, so a typo never passes silently.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from aws_cdk import RemovalPolicy
from constructs import Construct

__all__ = ["SIGNING_KEY_SPECS", "ConfigError", "KitConfig"]

DEFAULT_ACCOUNT = "111122223333"
DEFAULT_REGION = "us-east-1"

ROTATION_DAYS_MIN, ROTATION_DAYS_MAX = 90, 2560
DELETION_WINDOW_MIN, DELETION_WINDOW_MAX = 7, 30

#: Asymmetric key specs that support SIGN_VERIFY (RSA and NIST ECC curves; SM2 is China Regions only).
SIGNING_KEY_SPECS = (
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
)

OnUse = Literal["notify", "cancel"]
Removal = Literal["retain", "destroy"]

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,20}[a-z0-9]$")
# Principals a key policy accepts by ARN: the account root, an IAM role or an IAM user (paths allowed).
_PRINCIPAL_RE = re.compile(
    r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:(root|role/[\w+=,.@/-]{1,512}|user/[\w+=,.@/-]{1,512})$"
)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
# A context key that looks like one of ours (CDK's own keys contain ':', '@', '-' or '/').
_SETTING_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class ConfigError(ValueError):
    """A kit setting is missing, malformed or out of range; the message is one line naming the setting."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(setting: str, problem: str) -> ConfigError:
    return ConfigError(_one_line(f"invalid setting '{setting}': {problem}"))


@dataclass(frozen=True)
class KitConfig:
    """The kit's settings, validated on construction.

    Attributes:
        prefix: Lower-case name prefix for aliases, trail, log group and workshop roles.
        account: The 12-digit AWS account every stack deploys to.
        region: The primary Region every stack deploys to.
        key_admin_arns: IAM principals that administer the keys (never use them). Empty: the kit creates a
            ``<prefix>-key-admin`` role that principals of the account can assume.
        key_user_arns: IAM principals that use the data key (and the signing/HMAC keys). Empty: the kit creates a
            ``<prefix>-key-user`` role that principals of the account can assume.
        auditor_arns: IAM principals that read the trail and run the audit queries in Athena. Empty: the kit
            creates a ``<prefix>-auditor`` role that principals of the account can assume.
        rotation_period_days: Automatic rotation period of symmetric keys (90-2560).
        deletion_window_days: Waiting period before a scheduled key deletion completes (7-30).
        alert_email: Optional address subscribed to key-usage alerts (used by the alerting stack).
        on_use: What the alerting stack does when a key pending deletion is used: notify or cancel.
        signing_key: Optional asymmetric SIGN_VERIFY key spec (one of ``SIGNING_KEY_SPECS``).
        hmac_key: Whether to create an HMAC_256 GENERATE_VERIFY_MAC key.
        multi_region_replica_region: Optional second Region: a separate multi-Region key gets a replica there,
            and that Region's KMS alert events are forwarded home and covered by the Athena table.
        removal: Removal policy of keys and the trail log group: retain (default) or destroy.
        trail_cloudwatch_logs: Whether the trail also delivers to a KMS-encrypted CloudWatch Logs group.
    """

    prefix: str = "kmslab"
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    key_admin_arns: tuple[str, ...] = ()
    key_user_arns: tuple[str, ...] = ()
    auditor_arns: tuple[str, ...] = ()
    rotation_period_days: int = 365
    deletion_window_days: int = 7
    alert_email: str | None = None
    on_use: OnUse = "notify"
    signing_key: str | None = None
    hmac_key: bool = False
    multi_region_replica_region: str | None = None
    removal: Removal = "retain"
    trail_cloudwatch_logs: bool = True

    def __post_init__(self) -> None:
        """Check every setting; raise the first problem found.

        Raises:
            ConfigError: A setting is out of range or malformed.
        """
        self._check_identity()
        self._check_keys()
        self._check_options()

    def _check_identity(self) -> None:
        if not _PREFIX_RE.match(self.prefix):
            raise _fail("prefix", f"{self.prefix!r} must be 3-22 lower-case letters, digits or '-'")
        if not _ACCOUNT_RE.match(self.account):
            raise _fail("account", f"{self.account!r} is not a 12-digit AWS account id")
        if not _REGION_RE.match(self.region):
            raise _fail("region", f"{self.region!r} is not an AWS Region name")
        for name in ("key_admin_arns", "key_user_arns", "auditor_arns"):
            for arn in getattr(self, name):
                if not _PRINCIPAL_RE.match(arn):
                    raise _fail(name, f"{arn!r} is not an IAM root, role or user ARN")

    def _check_keys(self) -> None:
        if not ROTATION_DAYS_MIN <= self.rotation_period_days <= ROTATION_DAYS_MAX:
            raise _fail(
                "rotation_period_days",
                f"{self.rotation_period_days} is outside {ROTATION_DAYS_MIN}-{ROTATION_DAYS_MAX} days",
            )
        if not DELETION_WINDOW_MIN <= self.deletion_window_days <= DELETION_WINDOW_MAX:
            raise _fail(
                "deletion_window_days",
                f"{self.deletion_window_days} is outside {DELETION_WINDOW_MIN}-{DELETION_WINDOW_MAX} days",
            )
        if self.signing_key is not None and self.signing_key not in SIGNING_KEY_SPECS:
            raise _fail("signing_key", f"{self.signing_key!r} must be one of {', '.join(SIGNING_KEY_SPECS)}")
        replica = self.multi_region_replica_region
        if replica is not None:
            if not _REGION_RE.match(replica):
                raise _fail("multi_region_replica_region", f"{replica!r} is not an AWS Region name")
            if replica == self.region:
                raise _fail("multi_region_replica_region", f"{replica!r} must differ from region {self.region!r}")
        if self.removal not in ("retain", "destroy"):
            raise _fail("removal", f"{self.removal!r} must be 'retain' or 'destroy'")

    def _check_options(self) -> None:
        if self.alert_email is not None and not _EMAIL_RE.match(self.alert_email):
            raise _fail("alert_email", f"{self.alert_email!r} is not an e-mail address")
        if self.on_use not in ("notify", "cancel"):
            raise _fail("on_use", f"{self.on_use!r} must be 'notify' or 'cancel'")

    # Names derived from the prefix, shared by the stacks so no stack needs another stack's tokens.
    @property
    def trail_name(self) -> str:
        """Name of the kit's CloudTrail trail."""
        return f"{self.prefix}-trail"

    @property
    def trail_log_group_name(self) -> str:
        """Name of the CloudWatch Logs group the trail delivers to."""
        return f"/{self.prefix}/cloudtrail"

    @property
    def regions(self) -> tuple[str, ...]:
        """The Regions the kit deploys to: the home Region, then the replica Region if one is set."""
        replica = self.multi_region_replica_region
        return (self.region,) if replica is None else (self.region, replica)

    @property
    def removal_policy(self) -> RemovalPolicy:
        """Removal policy of keys and log groups: RETAIN for ``retain``, DESTROY for ``destroy``."""
        return RemovalPolicy.DESTROY if self.removal == "destroy" else RemovalPolicy.RETAIN

    @property
    def stack_prefix(self) -> str:
        """CamelCase prefix for stack names (``kmslab`` -> ``Kmslab``)."""
        return "".join(part.capitalize() for part in self.prefix.split("-"))

    @classmethod
    def from_context(cls, scope: Construct) -> KitConfig:
        """Read every setting from the CDK context of ``scope`` (normally the App).

        Args:
            scope: The construct whose context is read.

        Returns:
            The validated settings.

        Raises:
            ConfigError: A setting is unknown, has the wrong type or is out of range.
        """
        context = cast(Mapping[str, Any], scope.node.get_all_context())
        return cls.from_mapping(context, environ=os.environ)

    @classmethod
    def from_mapping(cls, context: Mapping[str, Any], *, environ: Mapping[str, str] | None = None) -> KitConfig:
        """Build the settings from a context mapping (CDK's own keys are ignored).

        Args:
            context: Context keys and values, as the CDK App holds them.
            environ: Environment used for the CDK_DEFAULT_ACCOUNT/REGION fallbacks (none by default).

        Returns:
            The validated settings.

        Raises:
            ConfigError: A setting is unknown, has the wrong type or is out of range.
        """
        env = environ or {}
        known = _SETTINGS
        for key in context:
            if _SETTING_KEY_RE.match(key) and key not in known:
                raise ConfigError(f"unknown setting '{key}' (known: {', '.join(sorted(known))})")
        values: dict[str, Any] = {}
        for key, parse in known.items():
            if key in context and context[key] is not None:
                values[key] = parse(key, context[key])
        values.setdefault("account", env.get("CDK_DEFAULT_ACCOUNT") or DEFAULT_ACCOUNT)
        values.setdefault("region", env.get("CDK_DEFAULT_REGION") or DEFAULT_REGION)
        return cls(**values)


def _str(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(key, f"{value!r} must be a non-empty string")
    return value.strip()


def _opt_str(key: str, value: Any) -> str | None:
    if isinstance(value, str) and value.strip().lower() in ("", "none", "null", "false"):
        return None
    return _str(key, value)


def _int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _fail(key, f"{value!r} must be a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise _fail(key, f"{value!r} must be a whole number")


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "0", "off"):
        return False
    raise _fail(key, f"{value!r} must be true or false")


def _str_tuple(key: str, value: Any) -> tuple[str, ...]:
    items: Any = value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _fail(key, f"is not a valid JSON list ({exc.msg})") from None
        else:
            items = [part for part in (p.strip() for p in text.split(",")) if part]
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise _fail(key, f"{value!r} must be a list of ARNs")
    return tuple(item.strip() for item in items)


_SETTINGS: dict[str, Any] = {
    "prefix": _str,
    "account": _str,
    "region": _str,
    "key_admin_arns": _str_tuple,
    "key_user_arns": _str_tuple,
    "auditor_arns": _str_tuple,
    "rotation_period_days": _int,
    "deletion_window_days": _int,
    "alert_email": _opt_str,
    "on_use": _str,
    "signing_key": _opt_str,
    "hmac_key": _bool,
    "multi_region_replica_region": _opt_str,
    "removal": _str,
    "trail_cloudwatch_logs": _bool,
}
