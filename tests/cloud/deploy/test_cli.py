"""``kmslab local deploy|outputs|resources|destroy`` as a learner runs them against ``kmslab local up -d``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.assembly import synthesize_kit

STACKS = "KmslabKeys,KmslabStorage"


def _kmslab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kmslab", "local", *args], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize_kit(tmp_path_factory.mktemp("app") / "cdk.out", {"account": "111122223333"})


def test_deploy_outputs_resources_destroy(app: Path, tmp_path: Path) -> None:
    data = str(tmp_path / "cloud")
    where = ("--data-dir", data, "--port", "0")
    up = _kmslab("up", "-d", *where)
    assert up.returncode == 0, up.stderr
    try:
        first = _kmslab("deploy", "--app", str(app), "--stacks", STACKS, *where)
        assert first.returncode == 0, first.stderr
        lines = first.stdout.splitlines()
        assert any(
            "KmslabKeys | " in line and "| CREATE_COMPLETE " in line and "AWS::KMS::Key" in line for line in lines
        )
        assert any(line.startswith(" ✅  KmslabStorage (us-east-1): CREATE_COMPLETE in ") for line in lines)
        assert "synthesizing" not in first.stdout  # the assembly is newer than the sources

        again = _kmslab("deploy", "--app", str(app), "--stacks", STACKS, *where)
        assert again.returncode == 0, again.stderr
        touched = [
            line for line in again.stdout.splitlines() if "UPDATE_IN_PROGRESS" in line and "::Stack " not in line
        ]
        assert touched == []  # nothing differs, so no resource is updated
        assert "KmslabStorage (us-east-1): UPDATE_COMPLETE" in again.stdout

        outputs = json.loads(_kmslab("outputs", "--json", "--data-dir", data).stdout)
        key_arn = next(v for k, v in outputs["KmslabKeys"].items() if "DataKey" in k)
        resources = json.loads(_kmslab("resources", "--json", "--data-dir", data).stdout)
        buckets = [r["physical_id"] for r in resources if r["type"] == "AWS::S3::Bucket"]
        assert len(buckets) == 2

        gone = _kmslab("destroy", *where)
        assert gone.returncode == 0, gone.stderr
        assert f"retained: AWS::KMS::Key {key_arn.rsplit('/', 1)[-1]} (KmslabKeys/" in gone.stdout
        assert all(f"retained: AWS::S3::Bucket {b} " in gone.stdout for b in buckets)
        assert json.loads(_kmslab("outputs", "--json", "--data-dir", data).stdout) == {}
        # what the stacks retained is still there, as on AWS
        state = json.loads((tmp_path / "cloud" / "local.json").read_text())
        ids = json.loads((tmp_path / "cloud" / "identities.json").read_text())
        admin = next(i for i in ids["identities"] if i["arn"].endswith("/admin"))
        kms = boto3.client(
            "kms",
            endpoint_url=state["url"],
            region_name="us-east-1",
            verify=state["ca"],
            aws_access_key_id=admin["access_key_id"],
            aws_secret_access_key=admin["secret_access_key"],
        )
        assert kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "Enabled"
    finally:
        _kmslab("down", *where)


def test_deploy_without_a_cloud_or_with_an_unknown_stack_is_one_line(app: Path, tmp_path: Path) -> None:
    where = ("--data-dir", str(tmp_path / "none"), "--port", "0")
    done = _kmslab("deploy", "--app", str(app), *where)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no local cloud runs on" in done.stderr
    unknown = _kmslab("deploy", "--app", str(app), "--stacks", "Nope", *where)
    assert unknown.returncode == 2 and "No stack found matching 'Nope'" in unknown.stderr


def test_types_lists_how_each_kit_type_is_served(app: Path) -> None:
    done = _kmslab("deploy", "--app", str(app), "--types")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()[1:]}
    assert rows["AWS::KMS::Key"] == "enforced" and rows["AWS::S3::Bucket"] == "enforced"
    assert set(rows.values()) <= {"enforced", "stored", "not"}  # "stored only", "not served" split on spaces


def test_deploy_finds_the_kit_from_a_scratch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guide runs every command in a scratch folder: deploy still finds the kit's CDK app and its cdk.out."""
    from kmslab.cloud.deploy import cli

    kit = Path(__file__).resolve().parents[3]
    monkeypatch.chdir(tmp_path)
    assert cli._ROOT() == kit
    (tmp_path / "cdk.json").write_text("{}")
    assert cli._ROOT() == tmp_path  # a CDK project of the learner's own wins


def test_destroy_takes_dependents_first_by_exports_and_by_stack_dependencies(tmp_path: Path) -> None:
    from kmslab.cloud.deploy.cli import _consumers_first
    from kmslab.cloud.deploy.state import StackRecord, StackStore

    def stack(name: str, *, exports: tuple[str, ...] = (), imports: tuple[str, ...] = (), after: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
        return StackRecord(
            name=name,
            region="eu-west-1" if name == "Replica" else "us-east-1",
            account="111122223333",
            stack_id=f"id-{name}",
            status="CREATE_COMPLETE",
            template={},
            outputs={e: {"value": "v", "export": e} for e in exports},
            imports=list(imports),
            dependencies=list(after),
        )

    keys = stack("Keys", exports=("KeyArn",))
    storage = stack("Storage", imports=("KeyArn",), after=("Keys",))
    replica = stack("Replica", after=("Keys",))  # a cross-Region reference: no export, only the dependency
    alerting = stack("Alerting", after=("Replica", "Storage"))
    order = [r.name for r in _consumers_first([keys, replica, storage, alerting], StackStore(tmp_path))]
    assert order.index("Alerting") < order.index("Replica") < order.index("Keys")
    assert order.index("Storage") < order.index("Keys")
    legacy = StackRecord.from_json({k: v for k, v in keys.to_json().items() if k != "dependencies"})
    assert legacy.dependencies == []  # records saved before dependencies were kept still load
