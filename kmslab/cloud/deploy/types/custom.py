"""The CDK's own custom resources that the kit uses: cross-Region references (``cross_region_references``).

A stack in one Region cannot import another Region's exports, so the CDK writes each referenced value to
an SSM parameter ``/cdk/exports/<consumer>/<name>`` in the consumer's Region
(``Custom::CrossRegionExportWriter``, in the producing stack), and the consumer reads it through a dynamic
reference (``Custom::CrossRegionExportReader``). The CDK runs both in a Node.js Lambda provider; the local cloud does
what that provider does, through SSM. One part is not served: the provider also tags each parameter
``aws-cdk:strong-ref:<consumer>`` so that the writer refuses to change or delete an export in use, and the
local SSM does not serve parameter tags, so here the writer only refuses to overwrite an existing export
at create; destroy the consumer (the replica stack) first, as ``cdk destroy`` orders it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmslab.cloud.deploy.resources import ProvisionContext, Provisioned
from kmslab.cloud.deploy.types._base import Handler


class CrossRegionExportWriter(Handler):
    """``Custom::CrossRegionExportWriter``: the producer's exports, as SSM parameters in the consumer's Region."""

    type_name = "Custom::CrossRegionExportWriter"
    served = "enforced"
    note = "the CDK provider's work done natively: SSM parameters in the consumer's Region (no in-use tags)"

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        props = properties["WriterProps"]
        ssm = ctx.client_in("ssm", str(props["region"]))
        exports = {str(k): str(v) for k, v in props.get("exports", {}).items()}
        existing = _existing(ssm, list(exports))
        if existing:
            raise ValueError(f"Exports cannot be updated: {', '.join(sorted(existing))} already exist(s)")
        for name, value in exports.items():
            ssm.put_parameter(Name=name, Value=value, Type="String")
        return Provisioned(f"{ctx.stack_name}-{ctx.logical_id}")

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        before = {str(k): str(v) for k, v in old["WriterProps"].get("exports", {}).items()}
        after = {str(k): str(v) for k, v in new["WriterProps"].get("exports", {}).items()}
        ssm = ctx.client_in("ssm", str(new["WriterProps"]["region"]))
        removed = [n for n in before if n not in after]
        for name, value in after.items():
            if before.get(name) != value:
                ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        if removed:
            ssm.delete_parameters(Names=removed)
        return Provisioned(physical_id)

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        props = properties["WriterProps"]
        ssm = ctx.client_in("ssm", str(props["region"]))
        names = _existing(ssm, list(props.get("exports", {})))
        if names:
            ssm.delete_parameters(Names=names)


class CrossRegionExportReader(Handler):
    """``Custom::CrossRegionExportReader``: the consumer's imports, one ``Fn::GetAtt`` attribute each."""

    type_name = "Custom::CrossRegionExportReader"
    served = "enforced"
    note = "the CDK provider's work done natively: values read through {{resolve:ssm:...}} references"

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        return Provisioned(f"{ctx.stack_name}-{ctx.logical_id}", _imports(properties))

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        return Provisioned(physical_id, _imports(new))

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        return None


def _imports(properties: Mapping[str, Any]) -> dict[str, str]:
    """Export name -> value (the engine resolved each ``{{resolve:ssm:...}}`` reference)."""
    return {str(k): str(v) for k, v in properties["ReaderProps"].get("imports", {}).items()}


def _existing(ssm: Any, names: list[str]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(names), 10):
        found += [p["Name"] for p in ssm.get_parameters(Names=names[start : start + 10])["Parameters"]]
    return found
