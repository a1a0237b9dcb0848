"""cdk-nag, applied in one place: the AwsSolutions and NIST 800-53 rev 5 packs (cdk-nag 3.x, majors pinned).

cdk-nag 3 packs are CDK policy-validation plugins: ``Validations.of(app).add_plugins(...)``. An error finding
fails ``cdk synth``; the report is written to ``cdk.out/validation-report.json``. Acknowledgements (v3's
suppressions) are recorded on a construct with ``Validations.of(construct).acknowledge(...)``; the kit only
acknowledges through :func:`acknowledge`, one rule on one resource with a reason.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from typing import Any

import aws_cdk as cdk
import cdk_nag
from constructs import IConstruct

__all__ = ["NAG_MAJOR", "PACKS", "acknowledge", "apply_nag", "finding_resource", "pack_of"]

#: The cdk-nag major version this module is written for (v3: Validations plugins, not Aspects).
NAG_MAJOR = 3
#: Pack names (as they prefix rule ids) the kit applies.
PACKS = ("AwsSolutions", "NIST.800.53.R5")

_RULE_RE = re.compile(r"^(AwsSolutions|NIST\.800\.53\.R5)-[A-Za-z0-9]+(\[[^\]]+\])?$")

if int(version("cdk-nag").split(".")[0]) != NAG_MAJOR:  # pragma: no cover
    raise ImportError(f"stacks/nag.py is written for cdk-nag {NAG_MAJOR}.x, found {version('cdk-nag')}")


def pack_of(rule: str) -> str:
    """The pack a rule id belongs to.

    Args:
        rule: A rule id such as ``AwsSolutions-S1`` or ``AwsSolutions-IAM5[Resource::*]``.

    Returns:
        The pack name (``AwsSolutions`` or ``NIST.800.53.R5``).

    Raises:
        ValueError: The rule id does not belong to a pack the kit applies.
    """
    match = _RULE_RE.match(rule)
    if match is None:
        raise ValueError(f"not a rule of {' or '.join(PACKS)}: {rule!r}")
    return match.group(1)


def acknowledge(resource: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge (suppress) one rule on one resource, with the reason it does not apply.

    Args:
        resource: The resource: a ``Cfn*`` resource, or an L2 construct, whose one CloudFormation resource
            (``node.default_child``) is acknowledged.
        rule: One rule id; findings with a detail need it, e.g. ``AwsSolutions-IAM5[Resource::...]``.
        reason: Why the finding is acceptable (at least a sentence).

    Raises:
        ValueError: The rule id is not one rule of an applied pack, the reason is too short, or the
            construct is a stack or app, or an L2 without one default CloudFormation resource.
    """
    if len(reason.split()) < 5:
        raise ValueError(f"acknowledging {rule} needs a real reason, got {reason!r}")
    if isinstance(resource, cdk.Stack | cdk.Stage):
        raise ValueError(f"acknowledge {rule} on a resource, not on {resource.node.path}")
    if not isinstance(resource, cdk.CfnResource):
        child = resource.node.default_child
        if not isinstance(child, cdk.CfnResource):
            raise ValueError(f"acknowledge {rule}: {resource.node.path} has no single CloudFormation resource")
        resource = child
    cdk.Validations.of(resource).acknowledge(cdk.Acknowledgment(id=f"{pack_of(rule)}::{rule}", reason=reason))


def finding_resource(stack: cdk.Stack, value: str) -> str:
    """Render a (token-bearing) string the way cdk-nag prints it in a finding's detail, e.g. ``IAM5[Resource::...]``.

    cdk-nag flattens CloudFormation references: ``Ref`` becomes ``<Id>``, ``Fn::GetAtt`` ``<Id.Attr>``,
    ``Fn::ImportValue`` the export name, ``Fn::Join`` the joined parts.

    Args:
        stack: The stack that resolves the tokens.
        value: The resource string (an ARN pattern with tokens).

    Returns:
        The flat string to put after ``Resource::`` in the acknowledged rule id.
    """

    def visit(node: Any) -> str:
        if isinstance(node, str):
            return node.replace("${", "<").replace("}", ">")
        if "Fn::Join" in node:
            separator, items = node["Fn::Join"]
            return str(separator).join(visit(item) for item in items)
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{visit(resource)}.{visit(attribute)}>"
        if "Fn::ImportValue" in node:
            return visit(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{visit(node['Ref'])}>"
        raise ValueError(f"cannot flatten {node!r} the way cdk-nag does")

    return visit(stack.resolve(value))


def apply_nag(app: cdk.App) -> None:
    """Run the AwsSolutions pack and the NIST 800-53 rev 5 pack over every stack of ``app`` at synth time.

    Args:
        app: The CDK app (plugins can only be added to an App or Stage).
    """
    cdk.Validations.of(app).add_plugins(
        cdk_nag.AwsSolutionsChecks(app, verbose=True),
        cdk_nag.NIST80053R5Checks(app, verbose=True),
    )
