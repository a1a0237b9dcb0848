"""Chapter 12 of the lab (``workshop/12-clean-up.md``): clean up what the workshop made.

Delete the lab's parameter and secret, destroy the kit's stacks (consumers first, as ``kmslab local
destroy`` and ``cdk destroy --all`` do), see what is retained, and schedule the keys that are left
for deletion: KMS keys are never deleted at once, they wait out their window.
"""

from __future__ import annotations

from collections.abc import Sequence

from kmslab.lab._steps import Fact, LabContext, Step
from kmslab.lab.ch11_services import PARAMETER, SECRET

PENDING_DAYS = 7


def delete_data(ctx: LabContext) -> Sequence[Fact]:
    """Delete the parameter at once; the secret waits out a recovery window."""
    ssm = ctx.client("admin", service="ssm")
    sm = ctx.client("admin", service="secretsmanager")
    facts: list[Fact] = []
    wanted = [{"Key": "Name", "Values": [PARAMETER]}]
    names = [p["Name"] for p in ssm.describe_parameters(ParameterFilters=wanted)["Parameters"]]
    if PARAMETER in names:
        ssm.delete_parameter(Name=PARAMETER)
        facts.append(("DeleteParameter", f"{PARAMETER}: gone at once"))
    secrets = [s["Name"] for s in sm.list_secrets()["SecretList"]]
    if SECRET in secrets:
        out = sm.delete_secret(SecretId=SECRET, RecoveryWindowInDays=PENDING_DAYS)
        facts.append(("DeleteSecret", f"{SECRET}: recoverable until {out['DeletionDate'].isoformat()}"))
    if not facts:
        facts.append(("nothing to delete", "chapter 11 did not run"))
    return facts


def destroy_stacks(ctx: LabContext) -> Sequence[Fact]:
    """Destroy the kit's stacks, consumers first; retained resources stay."""
    from kmslab.cloud.deploy.cli import _consumers_first
    from kmslab.cloud.deploy.engine import Deployer
    from kmslab.cloud.deploy.run import Connection, environment
    from kmslab.cloud.deploy.state import StackStore
    from kmslab.cloud.deploy.types import default_registry

    ctx.state["data_key_arn"] = ctx.kms.describe_key(KeyId="alias/kmslab/data")["KeyMetadata"]["Arn"]
    creds = ctx.lab.credentials("admin")
    conn = Connection(
        endpoint_url=ctx.lab.url,
        region="us-east-1",
        account=ctx.account,
        access_key_id=creds["aws_access_key_id"],
        secret_access_key=creds["aws_secret_access_key"],
        ca_bundle=ctx.lab.ca_file,
    )
    store = StackStore(ctx.lab.data_dir / "cloudformation")
    deployer = Deployer(store, default_registry(), environment(conn))
    records = list(store.all())
    retained: list[str] = []
    order = _consumers_first(records, store)
    for record in order:
        deployer.destroy(record.name, region=record.region)
        retained += [
            f"{r.type} {r.physical_id}" for r in record.resources.values() if r.deletion_policy.startswith("Retain")
        ]
    ctx.expect(list(store.all()) == [], "no stack is left")
    ctx.state["retained"] = retained
    buckets = [r for r in retained if r.startswith("AWS::S3::Bucket")]
    return [
        ("destroyed", ", ".join(r.name for r in order)),
        ("retained", f"{len(retained)} resource(s), {len(buckets)} bucket(s)"),
        *[("", line) for line in retained[:8]],
    ]


def keys_wait(ctx: LabContext) -> Sequence[Fact]:
    """Schedule every customer managed key still enabled for deletion; each waits out its window."""
    kms = ctx.kms
    states: dict[str, int] = {}
    scheduled = 0
    for page in kms.get_paginator("list_keys").paginate():
        for entry in page["Keys"]:
            meta = kms.describe_key(KeyId=entry["KeyId"])["KeyMetadata"]
            if meta["KeyManager"] == "CUSTOMER" and meta["KeyState"] in ("Enabled", "Disabled", "PendingImport"):
                try:
                    kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=PENDING_DAYS)
                    scheduled += 1
                except kms.exceptions.KMSInvalidStateException:
                    pass  # a multi-Region primary waits for its replicas to go first
            state = kms.describe_key(KeyId=entry["KeyId"])["KeyMetadata"]["KeyState"]
            if meta["KeyManager"] == "CUSTOMER":
                states[state] = states.get(state, 0) + 1
    data = kms.describe_key(KeyId=ctx.need("data_key_arn"))["KeyMetadata"]
    ctx.expect(data["KeyState"] == "PendingDeletion", f"the data key waits for deletion, got {data['KeyState']}")
    return [
        ("ScheduleKeyDeletion", f"{scheduled} key(s), {PENDING_DAYS}-day window"),
        ("customer managed keys by state", ", ".join(f"{k} {v}" for k, v in sorted(states.items()))),
        ("the data key", f"PendingDeletion until {data['DeletionDate'].isoformat()}"),
    ]


STEPS: tuple[Step, ...] = (
    Step(
        "Delete the lab's parameter and secret",
        "A parameter is deleted at once; a secret waits out a recovery window (7 to 30 days).",
        delete_data,
    ),
    Step(
        "Destroy the kit's stacks",
        "Stacks go consumers first; resources with a Retain policy (buckets, logs) stay and keep costing.",
        destroy_stacks,
    ),
    Step(
        "Schedule the remaining keys for deletion",
        "A KMS key is never deleted at once: it waits 7 to 30 days in PendingDeletion, and costs until then.",
        keys_wait,
    ),
)
