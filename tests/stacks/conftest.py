"""Session fixtures: the kit synthesized once per config, its templates, and its cdk-nag report.

Other stack tests use ``kit`` and ``templates`` (default config) or ``full_kit`` / ``full_templates`` (every
option on). ``templates`` maps the ``Kit`` attribute name of each stack (``keys``, ``storage``, ``trail``, ...)
to its ``Template``, so stacks added to ``build_kit`` are picked up automatically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The jsii runtime prints a banner on stderr for end-of-life Node versions unless told which one is fine.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.pop("CDK_DEFAULT_ACCOUNT", None)
os.environ.pop("CDK_DEFAULT_REGION", None)

import aws_cdk as cdk  # noqa: E402
import pytest  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from stacks.config import KitConfig  # noqa: E402
from stacks.kit import Kit, build_kit  # noqa: E402
from stacks.nag import apply_nag  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "111122223333"
REGION = "us-east-1"
REPLICA_REGION = "eu-west-1"

DEFAULT_CONTEXT: dict[str, Any] = {"account": ACCOUNT, "region": REGION}
FULL_CONTEXT: dict[str, Any] = {
    **DEFAULT_CONTEXT,
    "signing_key": "ECC_NIST_P256",
    "hmac_key": True,
    "multi_region_replica_region": REPLICA_REGION,
    "alert_email": "security@example.com",
    # Not "options" but non-defaults, so the one extra synthesis also covers them.
    "removal": "destroy",
    "rotation_period_days": "180",
    "deletion_window_days": 30,
    "key_admin_arns": f"arn:aws:iam::{ACCOUNT}:role/SecurityAdmin",
    "key_user_arns": [f"arn:aws:iam::{ACCOUNT}:role/AppRunner", f"arn:aws:iam::{ACCOUNT}:role/Deployer"],
    "auditor_arns": f"arn:aws:iam::{ACCOUNT}:role/Auditor,arn:aws:iam::{ACCOUNT}:user/path/Reviewer",
}
NO_LOGS_CONTEXT: dict[str, Any] = {**DEFAULT_CONTEXT, "trail_cloudwatch_logs": "false"}


def cdk_json_context() -> dict[str, Any]:
    """The feature flags from cdk.json, so tests synthesize exactly what ``npx cdk synth`` does."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass(frozen=True)
class Synthesized:
    """One synthesized kit: the app, its stacks, their templates and the cdk-nag validation report."""

    app: cdk.App
    kit: Kit
    templates: Mapping[str, Template]
    report: Mapping[str, Any]
    outdir: Path


def synthesize(context: Mapping[str, Any], outdir: Path) -> Synthesized:
    """Build and synthesize the kit (with cdk-nag) once for ``context``.

    Args:
        context: Kit settings on top of cdk.json's feature flags.
        outdir: Cloud assembly directory.

    Returns:
        The synthesized kit.
    """
    app = cdk.App(
        outdir=str(outdir),
        context={
            **cdk_json_context(),
            **context,
            # Report nag findings in validation-report.json instead of raising, so tests can assert on them.
            "@aws-cdk/core:failSynthOnValidationErrors": False,
        },
    )
    kit = build_kit(app, KitConfig.from_context(app))
    apply_nag(app)
    app.synth()
    templates = {name: Template.from_stack(stack) for name, stack in kit.stacks().items()}
    report = json.loads((outdir / "validation-report.json").read_text())
    return Synthesized(app=app, kit=kit, templates=templates, report=report, outdir=outdir)


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(DEFAULT_CONTEXT, tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def full_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(FULL_CONTEXT, tmp_path_factory.mktemp("cdk-full"))


@pytest.fixture(scope="session")
def no_logs_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(NO_LOGS_CONTEXT, tmp_path_factory.mktemp("cdk-no-logs"))


@pytest.fixture(scope="session")
def kit(default_synth: Synthesized) -> Kit:
    return default_synth.kit


@pytest.fixture(scope="session")
def templates(default_synth: Synthesized) -> Mapping[str, Template]:
    return default_synth.templates


@pytest.fixture(scope="session")
def full_kit(full_synth: Synthesized) -> Kit:
    return full_synth.kit


@pytest.fixture(scope="session")
def full_templates(full_synth: Synthesized) -> Mapping[str, Template]:
    return full_synth.templates


@pytest.fixture(scope="session", params=["default", "full", "no_logs"])
def any_synth(request: pytest.FixtureRequest) -> Synthesized:
    """Each synthesized config in turn (for checks that hold for every config)."""
    synth: Synthesized = request.getfixturevalue(f"{request.param}_synth")
    return synth


def resource(template: Template, construct: cdk.CfnResource) -> dict[str, Any]:
    """The template entry of an L1 construct, found by its logical id (never a hard-coded hash).

    Args:
        template: The stack's template.
        construct: The L1 resource (``l2.node.default_child`` or a ``Cfn*``).

    Returns:
        The resource's JSON (Type, Properties, DeletionPolicy, ...).
    """
    logical_id = cdk.Stack.of(construct).get_logical_id(construct)
    found: dict[str, Any] = template.to_json()["Resources"][logical_id]
    return found


def cfn(construct: Any) -> cdk.CfnResource:
    """The L1 resource behind an L2 construct (or the construct itself if it is one)."""
    if isinstance(construct, cdk.CfnResource):
        return construct
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnResource)
    return child


def ref(construct: Any, attribute: str | None = None) -> Any:
    """``{"Ref": id}`` or ``{"Fn::GetAtt": [id, attribute]}`` of a construct, as it appears in its own stack."""
    res = cfn(construct)
    logical_id = cdk.Stack.of(res).get_logical_id(res)
    return {"Fn::GetAtt": [logical_id, attribute]} if attribute else {"Ref": logical_id}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/stacks is an ``infra`` test."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.infra)
