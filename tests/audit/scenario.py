"""A scripted KMS scenario run on the local KMS with the CloudTrail recorder attached.

Each step is one KMS call; the scenario keeps its own log of what it did (who, what, which key,
the outcome) so the audit queries can be checked against the scenario, not against the records.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kmslab.kms import Caller, FixedClock, LocalKms
from kmslab.kms.errors import AccessDeniedException, KmsError
from kmslab.kms.seams import AllowAll, AuthorizationRequest
from kmslab.trail.recorder import TrailRecorder
from tests.personas import ACCOUNT, ALICE, BOB, REGION, S3_FOR_APP
from tests.personas import APP_ROLE as APP

ROOT = Caller.root(ACCOUNT, source_ip="192.0.2.1", user_agent="console")

CRYPTO = {"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "Sign", "Verify"}
LIFECYCLE = {
    "CreateKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "DisableKey",
    "EnableKey",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "RotateKeyOnDemand",
    "PutKeyPolicy",
    "CreateGrant",
    "RetireGrant",
    "RevokeGrant",
}


class DenyBobOnKey:
    """Authorizer: Bob may not use one key; everything else is allowed."""

    def __init__(self) -> None:
        self.key_arn: str | None = None

    def authorize(self, request: AuthorizationRequest) -> None:
        if request.caller.arn == BOB.arn and request.key_arn is not None and request.key_arn == self.key_arn:
            raise AccessDeniedException(
                f"User: {BOB.arn} is not authorized to perform: {request.action} on resource: {request.key_arn} "
                f"because no resource-based policy allows the {request.action} action"
            )
        AllowAll().authorize(request)


@dataclass(frozen=True)
class Action:
    """One call the scenario made, and what it expects CloudTrail to say about it."""

    time: str
    operation: str
    caller: Caller
    key_arn: str | None
    error_code: str | None
    error_message: str | None
    s3_object: str | None = None

    @property
    def principal(self) -> str:
        return self.caller.arn


@dataclass
class Scenario:
    """The scenario's results: the trail directory, its log, the keys, the day it ends."""

    trail_dir: Path
    today: datetime
    actions: list[Action] = field(default_factory=list)
    old_actions: list[Action] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)

    def in_window(self) -> list[Action]:
        return list(self.actions)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def run_scenario(trail_dir: Path) -> Scenario:
    """Run the scenario; return its log. All times are engine-clock times (UTC, whole seconds)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    clock = FixedClock(today - timedelta(days=45) + timedelta(hours=9))
    authorizer = DenyBobOnKey()
    kms = LocalKms(clock=clock, authorizer=authorizer, account=ACCOUNT, region=REGION)
    recorder = TrailRecorder(trail_dir, account=ACCOUNT, flush_interval=0.2, max_records_per_file=7)
    kms.add_sink(recorder)
    scenario = Scenario(trail_dir=trail_dir, today=today)
    log = scenario.old_actions

    def do(op: str, params: dict[str, Any], caller: Caller, key: str | None, s3_object: str | None = None) -> Any:
        clock.advance(timedelta(minutes=1))
        when = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            response = kms.call(op, params, caller=caller)
        except KmsError as error:
            code = "AccessDenied" if error.code == "AccessDeniedException" else error.code
            log.append(Action(when, op, caller, key, code, error.message, s3_object))
            return None
        if op == "CreateKey":
            key = response["KeyMetadata"]["Arn"]
        log.append(Action(when, op, caller, key, None, None, s3_object))
        return response

    # 45 days ago: outside the 30-day window of every query
    k0 = do("CreateKey", {"Description": "old"}, ALICE, None)["KeyMetadata"]["Arn"]
    do("Encrypt", {"KeyId": k0, "Plaintext": _b64(b"old")}, ALICE, k0)
    scenario.keys["old"] = k0

    clock.advance(timedelta(days=42))  # three days ago
    log = scenario.actions
    k1 = do("CreateKey", {"Description": "orders"}, ALICE, None)["KeyMetadata"]["Arn"]
    k2 = do("CreateKey", {"Description": "app data"}, APP, None)["KeyMetadata"]["Arn"]
    k3 = do("CreateKey", {"Description": "retiring"}, ROOT, None)["KeyMetadata"]["Arn"]
    scenario.keys.update(orders=k1, app=k2, retiring=k3)
    authorizer.key_arn = k1

    context = {"dept": "eng"}
    ct1 = do("Encrypt", {"KeyId": k1, "Plaintext": _b64(b"order 1"), "EncryptionContext": context}, ALICE, k1)
    do("Decrypt", {"CiphertextBlob": ct1["CiphertextBlob"], "EncryptionContext": context}, APP, k1)
    do("GenerateDataKey", {"KeyId": k2, "KeySpec": "AES_256"}, APP, k2)
    # failures: access denied twice, a wrong encryption context, an unknown alias
    do("Decrypt", {"CiphertextBlob": ct1["CiphertextBlob"], "EncryptionContext": context}, BOB, k1)
    do("Encrypt", {"KeyId": k1, "Plaintext": _b64(b"bob")}, BOB, k1)
    do("Decrypt", {"CiphertextBlob": ct1["CiphertextBlob"], "EncryptionContext": {"dept": "ops"}}, ALICE, k1)
    do("DescribeKey", {"KeyId": "alias/does-not-exist"}, BOB, None)
    # S3 on the app's behalf (SSE-KMS): data keys bound to the object ARN
    a_txt, b_txt = "arn:aws:s3:::orders-bucket/a.txt", "arn:aws:s3:::orders-bucket/b.txt"
    dk_a = do("GenerateDataKey", {"KeyId": k2, "KeySpec": "AES_256", "EncryptionContext": {"aws:s3:arn": a_txt}},
              S3_FOR_APP, k2, a_txt)  # fmt: skip
    do("Decrypt", {"CiphertextBlob": dk_a["CiphertextBlob"], "EncryptionContext": {"aws:s3:arn": a_txt}},
       S3_FOR_APP, k2, a_txt)  # fmt: skip
    dk_b = do("GenerateDataKey", {"KeyId": k3, "KeySpec": "AES_256", "EncryptionContext": {"aws:s3:arn": b_txt}},
              S3_FOR_APP, k3, b_txt)  # fmt: skip
    ct3 = do("Encrypt", {"KeyId": k3, "Plaintext": _b64(b"legacy")}, APP, k3)
    # key lifecycle
    do("EnableKeyRotation", {"KeyId": k1}, ALICE, k1)
    do("DisableKey", {"KeyId": k2}, APP, k2)
    do("GenerateDataKey", {"KeyId": k2, "KeySpec": "AES_256"}, APP, k2)  # refused: disabled
    do("EnableKey", {"KeyId": k2}, APP, k2)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROOT.arn}, "Action": "kms:*", "Resource": "*"}],
    }
    do("PutKeyPolicy", {"KeyId": k1, "PolicyName": "default", "Policy": json.dumps(policy)}, ALICE, k1)
    grant = do("CreateGrant", {"KeyId": k1, "GranteePrincipal": APP.arn, "Operations": ["Decrypt"]}, ALICE, k1)
    do("RevokeGrant", {"KeyId": k1, "GrantId": grant["GrantId"]}, ALICE, k1)
    do("ScheduleKeyDeletion", {"KeyId": k3, "PendingWindowInDays": 7}, ROOT, k3)
    # the retiring key is still wanted: by the app directly, and by S3 for the app
    do("Encrypt", {"KeyId": k3, "Plaintext": _b64(b"new")}, APP, k3)
    do("Decrypt", {"CiphertextBlob": ct3["CiphertextBlob"]}, APP, k3)
    do("Decrypt", {"CiphertextBlob": dk_b["CiphertextBlob"], "EncryptionContext": {"aws:s3:arn": b_txt}},
       S3_FOR_APP, k3, b_txt)  # fmt: skip
    # a last successful use of each live key
    do("Decrypt", {"CiphertextBlob": ct1["CiphertextBlob"], "EncryptionContext": context}, ALICE, k1)
    do("GenerateDataKeyWithoutPlaintext", {"KeyId": k2, "KeySpec": "AES_256"}, APP, k2)

    recorder.close()
    kms.close()
    return scenario
