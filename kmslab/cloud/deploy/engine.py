"""Create, update and delete stacks as CloudFormation does, through the local services' APIs.

- **Create**: parameters and rules are checked first, then resources are created in dependency
  order, each reported ``CREATE_IN_PROGRESS`` then ``CREATE_COMPLETE`` or ``CREATE_FAILED`` with
  the service's reason. On a failure the resources created so far are deleted in reverse order
  (``ROLLBACK_IN_PROGRESS`` → ``ROLLBACK_COMPLETE``).
- **Update**: only resources whose resolved properties differ are touched; a property that cannot
  change in place replaces the resource (new one first, old one removed at the end, unless its
  ``UpdateReplacePolicy`` is ``Retain``). Resources gone from the template are deleted. A failure
  rolls back what this update changed (``UPDATE_ROLLBACK_COMPLETE``).
- **Delete**: reverse dependency order, honouring ``DeletionPolicy: Retain``; an export still
  imported by another stack blocks the delete, as on AWS.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from kmslab.cloud.deploy.dynamic import resolve_references
from kmslab.cloud.deploy.errors import DeployError, ResourceFailed, TemplateError
from kmslab.cloud.deploy.resources import NeedsReplacement, ProvisionContext, Provisioned, Registry
from kmslab.cloud.deploy.scope import StackScope
from kmslab.cloud.deploy.state import ResourceRecord, StackRecord, StackStore
from kmslab.cloud.deploy.template import Template


@dataclass(frozen=True)
class StackEvent:
    """One line of a stack's event log, as ``DescribeStackEvents`` shows it."""

    stack: str
    logical_id: str
    resource_type: str
    status: str
    reason: str = ""
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Environment:
    """Where stacks go, and how the engine reaches the services there."""

    account: str
    region: str
    client: Callable[[str, str], Any]  # (service, region) -> a boto3 client
    ssm_parameter: Callable[[str, str], str]  # (name, region) -> value
    asset: Callable[[str], Any] = field(default=lambda key: None)


class Deployer:
    """Deploys templates into the local cloud, keeping their records in a :class:`StackStore`."""

    def __init__(
        self,
        store: StackStore,
        registry: Registry,
        env: Environment,
        on_event: Callable[[StackEvent], None] = lambda event: None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._env = env
        self._emit = on_event

    def deploy(
        self,
        name: str,
        template: Template,
        parameters: Mapping[str, str] | None = None,
        region: str | None = None,
        dependencies: Sequence[str] = (),
    ) -> StackRecord:
        """Create the stack, or update it in place when it exists.

        Args:
            name: The stack name.
            template: The parsed template.
            parameters: Parameter values overriding the template's defaults.
            region: The Region to deploy in; the environment's by default.
            dependencies: The stacks it depends on (the assembly's), kept for destroying in reverse.

        Returns:
            The stack's record after a successful create or update.

        Raises:
            DeployError: Validation failed, or a resource failed (the stack was rolled back).
        """
        region = region or self._env.region
        old = self._store.get(region, name)
        record = StackRecord(
            name=name,
            region=region,
            account=self._env.account,
            stack_id=old.stack_id if old else _stack_id(self._env.account, region, name),
            status="CREATE_IN_PROGRESS" if old is None else "UPDATE_IN_PROGRESS",
            template={},
            parameters={},
            resources=dict(old.resources) if old else {},
            dependencies=list(dependencies),
        )
        scope = StackScope(record, template, self._store, self._env, parameters or {})
        scope.check_rules()
        record.parameters = scope.parameter_values()
        record.template = dict(template.body)
        self._event(record, name, "AWS::CloudFormation::Stack", record.status, "User Initiated")
        if old is None:
            self._create(record, template, scope)
        else:
            self._update(record, old, template, scope)
        return record

    def destroy(self, name: str, region: str | None = None) -> StackRecord:
        """Delete a stack and its resources (retained ones stay).

        Args:
            name: The stack name.
            region: Its Region; the environment's by default.

        Returns:
            The record as it was before deletion, with the final statuses.

        Raises:
            DeployError: The stack does not exist, an export is still imported, or a resource failed to delete.
        """
        region = region or self._env.region
        record = self._store.get(region, name)
        if record is None:
            raise DeployError(f"Stack with id {name} does not exist")
        self._check_exports_unused(record)
        record.status = "DELETE_IN_PROGRESS"
        self._event(record, name, "AWS::CloudFormation::Stack", record.status, "User Initiated")
        for lid in reversed(self._deletion_order(record)):
            self._delete_resource(record, record.resources[lid], reason_on_fail="DELETE_FAILED")
        record.status = "DELETE_COMPLETE"
        self._event(record, name, "AWS::CloudFormation::Stack", record.status)
        self._store.drop(region, name)
        return record

    # -- create / update -------------------------------------------------------------------------

    def _create(self, record: StackRecord, template: Template, scope: StackScope) -> None:
        created: list[str] = []
        try:
            for lid in template.creation_order():
                if scope.included(lid):
                    self._create_resource(record, template, scope, lid)
                    created.append(lid)
            record.outputs = scope.outputs()
        except DeployError as exc:
            self._rollback_create(record, created, exc)
            raise
        record.status = "CREATE_COMPLETE"
        self._store.put(record)
        self._event(record, record.name, "AWS::CloudFormation::Stack", record.status)

    def _update(self, record: StackRecord, old: StackRecord, template: Template, scope: StackScope) -> None:
        done: list[tuple[str, ResourceRecord | None]] = []  # (logical id, record before this update)
        replaced: list[ResourceRecord] = []
        try:
            for lid in template.creation_order():
                if not scope.included(lid):
                    continue
                before = old.resources.get(lid)
                if before is None or before.type != template.resources[lid].type:
                    if before is not None:
                        replaced.append(before)
                    self._create_resource(record, template, scope, lid)
                    done.append((lid, None))
                    continue
                properties = self._properties(scope, record, lid, template.resources[lid])
                if properties == before.properties:
                    continue
                done.append((lid, before))
                if self._update_resource(record, template, scope, lid, before, properties):
                    replaced.append(before)
            record.outputs = scope.outputs()
        except DeployError as exc:
            self._rollback_update(record, old, done, exc)
            raise
        record.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
        self._store.put(record)
        gone = [r for lid, r in old.resources.items() if lid not in template.resources or not scope.included(lid)]
        for resource in replaced:
            if template.resources[resource.logical_id].update_replace_policy == "Retain":
                self._event(record, resource.logical_id, resource.type, "DELETE_SKIPPED")
            else:
                self._delete_resource(record, resource, reason_on_fail="DELETE_FAILED", force=True, keep_record=True)
        for resource in reversed(gone):
            self._delete_resource(record, resource, reason_on_fail="DELETE_FAILED", keep_record=True)
            record.resources.pop(resource.logical_id, None)
        record.status = "UPDATE_COMPLETE"
        self._store.put(record)
        self._event(record, record.name, "AWS::CloudFormation::Stack", record.status)

    def _create_resource(self, record: StackRecord, template: Template, scope: StackScope, lid: str) -> None:
        resource = template.resources[lid]
        handler = self._registry.get(resource.type)
        self._event(record, lid, resource.type, "CREATE_IN_PROGRESS")
        if handler is None:
            self._fail(record, lid, resource.type, "CREATE_FAILED", "is not a resource type the local cloud serves")
        try:
            properties = self._properties(scope, record, lid, resource)
        except TemplateError as exc:
            self._fail(record, lid, resource.type, "CREATE_FAILED", str(exc))
        try:
            made = handler.create(properties, self._context(record, lid))
        except TemplateError:
            raise
        except Exception as exc:  # noqa: BLE001 - any service error is the resource's failure reason
            self._fail(record, lid, resource.type, "CREATE_FAILED", _reason(exc))
        record.resources[lid] = _record(resource.logical_id, resource.type, made, properties, resource)
        self._store.put(record)
        self._event(record, lid, resource.type, "CREATE_COMPLETE")

    def _update_resource(
        self,
        record: StackRecord,
        template: Template,
        scope: StackScope,
        lid: str,
        before: ResourceRecord,
        properties: dict[str, Any],
    ) -> bool:
        """Update one resource in place, or replace it; True when it was replaced."""
        resource = template.resources[lid]
        handler = self._registry.get(resource.type)
        assert handler is not None  # it was created by this handler
        self._event(record, lid, resource.type, "UPDATE_IN_PROGRESS")
        ctx = self._context(record, lid)
        try:
            made = handler.update(before.physical_id, before.properties, properties, ctx)
            replaced = False
        except NeedsReplacement:
            self._event(
                record,
                lid,
                resource.type,
                "UPDATE_IN_PROGRESS",
                "Requested update requires the creation of a new physical resource; hence creating one.",
            )
            try:
                made = handler.create(properties, ctx)
            except Exception as exc:  # noqa: BLE001
                self._fail(record, lid, resource.type, "UPDATE_FAILED", _reason(exc))
            replaced = True
        except Exception as exc:  # noqa: BLE001
            self._fail(record, lid, resource.type, "UPDATE_FAILED", _reason(exc))
        record.resources[lid] = _record(lid, resource.type, made, properties, resource)
        self._store.put(record)
        self._event(record, lid, resource.type, "UPDATE_COMPLETE")
        return replaced

    # -- rollback and delete ----------------------------------------------------------------------

    def _rollback_create(self, record: StackRecord, created: list[str], cause: DeployError) -> None:
        record.status = "ROLLBACK_IN_PROGRESS"
        self._event(record, record.name, "AWS::CloudFormation::Stack", record.status, str(cause))
        for lid in reversed(created):
            self._delete_resource(record, record.resources[lid], reason_on_fail="DELETE_FAILED", force=True)
        record.status = "ROLLBACK_COMPLETE"
        self._event(record, record.name, "AWS::CloudFormation::Stack", record.status)
        self._store.drop(record.region, record.name)

    def _rollback_update(
        self, record: StackRecord, old: StackRecord, done: list[tuple[str, ResourceRecord | None]], cause: DeployError
    ) -> None:
        record.status = "UPDATE_ROLLBACK_IN_PROGRESS"
        self._event(record, record.name, "AWS::CloudFormation::Stack", record.status, str(cause))
        for lid, before in reversed(done):
            current = record.resources.get(lid)
            handler = self._registry.get(current.type) if current else None
            if current is None or handler is None:
                continue
            if before is None or current.physical_id != before.physical_id:
                self._delete_resource(record, current, reason_on_fail="DELETE_FAILED", force=True)
            else:
                try:
                    handler.update(
                        current.physical_id, current.properties, before.properties, self._context(record, lid)
                    )
                except Exception as exc:  # noqa: BLE001 - report and go on restoring the rest
                    self._event(record, lid, current.type, "UPDATE_FAILED", _reason(exc))
        old.status = "UPDATE_ROLLBACK_COMPLETE"
        self._store.put(old)
        self._event(record, record.name, "AWS::CloudFormation::Stack", old.status)

    def _delete_resource(
        self,
        record: StackRecord,
        resource: ResourceRecord,
        *,
        reason_on_fail: str,
        force: bool = False,
        keep_record: bool = False,
    ) -> None:
        if resource.deletion_policy in ("Retain", "RetainExceptOnCreate") and not force:
            self._event(record, resource.logical_id, resource.type, "DELETE_SKIPPED")
            return
        handler = self._registry.get(resource.type)
        self._event(record, resource.logical_id, resource.type, "DELETE_IN_PROGRESS")
        if handler is not None:
            try:
                handler.delete(resource.physical_id, resource.properties, self._context(record, resource.logical_id))
            except Exception as exc:  # noqa: BLE001
                self._fail(record, resource.logical_id, resource.type, reason_on_fail, _reason(exc))
        self._event(record, resource.logical_id, resource.type, "DELETE_COMPLETE")
        if not keep_record:
            record.resources.pop(resource.logical_id, None)
            if record.status != "ROLLBACK_IN_PROGRESS":
                self._store.put(record)

    def _deletion_order(self, record: StackRecord) -> list[str]:
        """Creation order of the stack's current resources (deleted in reverse)."""
        try:
            order = Template.parse(record.template).creation_order()
        except TemplateError:
            return list(record.resources)
        return [lid for lid in order if lid in record.resources] + [lid for lid in record.resources if lid not in order]

    def _check_exports_unused(self, record: StackRecord) -> None:
        exports = {o["export"] for o in record.outputs.values() if o.get("export")}
        if not exports:
            return
        for export in sorted(exports):
            users = [name for name in self._store.importers(record.region, export) if name != record.name]
            if users:
                raise DeployError(f"Export {export} cannot be deleted as it is in use by {', '.join(users)}")

    # -- helpers ------------------------------------------------------------------------------------

    def _properties(self, scope: StackScope, record: StackRecord, lid: str, resource: Any) -> dict[str, Any]:
        """A resource's properties with every intrinsic function and dynamic reference resolved."""
        resolved = scope.evaluator.resolve(dict(resource.properties))
        return dict(resolve_references(resolved, lambda name: self._env.ssm_parameter(name, record.region)))

    def _context(self, record: StackRecord, lid: str) -> ProvisionContext:
        region = record.region
        return ProvisionContext(
            account=record.account,
            region=region,
            stack_name=record.name,
            logical_id=lid,
            client=lambda service: self._env.client(service, region),
            client_in=self._env.client,
            asset=self._env.asset,
        )

    def _event(self, record: StackRecord, lid: str, rtype: str, status: str, reason: str = "") -> None:
        self._emit(StackEvent(stack=record.name, logical_id=lid, resource_type=rtype, status=status, reason=reason))

    def _fail(self, record: StackRecord, lid: str, rtype: str, status: str, reason: str) -> NoReturn:
        self._event(record, lid, rtype, status, reason)
        raise ResourceFailed(lid, rtype, reason)


def _record(lid: str, rtype: str, made: Provisioned, properties: dict[str, Any], resource: Any) -> ResourceRecord:
    return ResourceRecord(
        logical_id=lid,
        type=rtype,
        physical_id=made.physical_id,
        properties=properties,
        attributes=dict(made.attributes),
        deletion_policy=resource.deletion_policy,
        path=resource.path,
    )


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Message') or error.get('Code')} (Service: {error.get('Code')})"
    return " ".join(str(exc).split()) or type(exc).__name__


def _stack_id(account: str, region: str, name: str) -> str:
    return f"arn:aws:cloudformation:{region}:{account}:stack/{name}/{uuid.uuid4()}"
