"""The local cloud's CloudFormation engine: deploy the synthesized kit's templates into the local services.

Layers, outside in: :mod:`.assembly` reads ``cdk.out``; :mod:`.engine` creates, updates, rolls back and
deletes stacks; :mod:`.scope` and :mod:`.intrinsics` compute template values; :mod:`.template` parses and
orders resources; :mod:`.resources` is the contract each resource type's handler meets; :mod:`.state` keeps
the deployed stacks in the data dir.
"""

from kmslab.cloud.deploy.assembly import Assembly, StackArtifact
from kmslab.cloud.deploy.engine import Deployer, Environment, StackEvent
from kmslab.cloud.deploy.errors import AssemblyError, DeployError, ResourceFailed, TemplateError
from kmslab.cloud.deploy.template import Template

__all__ = [
    "Assembly",
    "AssemblyError",
    "DeployError",
    "Deployer",
    "Environment",
    "ResourceFailed",
    "StackArtifact",
    "StackEvent",
    "Template",
    "TemplateError",
]
