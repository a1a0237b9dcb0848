"""Chapter 11 of the lab (``workshop/11-other-services.md``): Parameter Store and Secrets Manager under the data key.

The admin stores a SecureString parameter and a secret under ``alias/kmslab/data``; the services call
KMS on her behalf (``invokedBy``), with their own encryption context, as CloudTrail shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kmslab.lab._steps import Fact, LabContext, Step, show_context, show_refusal

PARAMETER = "/kmslab/lab/db-password"
SECRET = "kmslab/lab/api-token"  # noqa: S105 - a name, not a secret
PASSWORD = "correct-horse-battery-staple"  # noqa: S105 - the lab's made-up value
TOKEN = '{"token": "lab-7f3a9c"}'  # noqa: S105 - the lab's made-up value


def _data_key(ctx: LabContext) -> str:
    return str(ctx.kms.describe_key(KeyId="alias/kmslab/data")["KeyMetadata"]["Arn"])


def _invoked_by(ctx: LabContext, service: str) -> list[dict[str, Any]]:
    records = ctx.recorder.records() if ctx.recorder is not None else []
    return [r for r in records if (r.get("userIdentity") or {}).get("invokedBy") == service]


def parameter(ctx: LabContext) -> Sequence[Fact]:
    """The admin stores a SecureString under the data key and reads it back."""
    ssm = ctx.client("admin", service="ssm")
    ssm.put_parameter(Name=PARAMETER, Value=PASSWORD, Type="SecureString", KeyId="alias/kmslab/data", Overwrite=True)
    plain = ssm.get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]
    sealed = ssm.get_parameter(Name=PARAMETER, WithDecryption=False)["Parameter"]
    ctx.expect(plain["Value"] == PASSWORD, "WithDecryption returns the value")
    ctx.expect(sealed["Value"] != PASSWORD, "without decryption SSM returns only ciphertext")
    calls = [
        r
        for r in _invoked_by(ctx, "ssm.amazonaws.com")
        if _data_key(ctx) in [res.get("ARN") for res in r.get("resources") or []]
    ]
    contexts = [(r.get("requestParameters") or {}).get("encryptionContext") or {} for r in calls]
    ctx.expect(
        any("PARAMETER_ARN" in c for c in contexts), f"SSM called KMS on the data key with PARAMETER_ARN: {contexts}"
    )
    return [
        ("PutParameter SecureString", f"{PARAMETER} under alias/kmslab/data"),
        ("GetParameter --with-decryption", "the password"),
        ("GetParameter (no decryption)", f"{len(sealed['Value'])} characters of ciphertext"),
        ("KMS calls by ssm.amazonaws.com", f"{len(calls)}, context {show_context(contexts[-1])}"),
    ]


def secret(ctx: LabContext) -> Sequence[Fact]:
    """The admin stores a secret under the data key; Bob cannot read it."""
    sm = ctx.client("admin", service="secretsmanager")
    made = sm.create_secret(Name=SECRET, SecretString=TOKEN, KmsKeyId="alias/kmslab/data")
    value = sm.get_secret_value(SecretId=SECRET)["SecretString"]
    ctx.expect(value == TOKEN, "GetSecretValue returns the secret")
    described = sm.describe_secret(SecretId=SECRET)
    refused = ctx.expect_error(
        lambda: ctx.client("bob", service="secretsmanager").get_secret_value(SecretId=SECRET), "AccessDeniedException"
    )
    calls = [
        r
        for r in _invoked_by(ctx, "secretsmanager.amazonaws.com")
        if _data_key(ctx) in [res.get("ARN") for res in r.get("resources") or []]
    ]
    contexts = [(r.get("requestParameters") or {}).get("encryptionContext") or {} for r in calls]
    ctx.expect(any("SecretARN" in c for c in contexts), f"Secrets Manager used the data key with SecretARN: {contexts}")
    return [
        ("CreateSecret", f"{made['ARN']} under {described.get('KmsKeyId') or 'alias/kmslab/data'}"),
        ("GetSecretValue (admin)", "the token"),
        ("GetSecretValue (Bob)", show_refusal(refused)),
        ("KMS calls by secretsmanager.amazonaws.com", f"{len(calls)}, context {show_context(contexts[-1])}"),
    ]


STEPS: tuple[Step, ...] = (
    Step(
        "Store a SecureString parameter under the data key",
        "Parameter Store encrypts a SecureString with the KMS key you name, calling KMS on your behalf "
        "with the parameter's ARN as encryption context.",
        parameter,
    ),
    Step(
        "Store a secret in Secrets Manager under the data key",
        "Secrets Manager encrypts each secret version under its KMS key (context SecretARN); without "
        "permission on the secret Bob reads nothing.",
        secret,
    ),
)
