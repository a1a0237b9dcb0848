"""What ``cdk bootstrap`` and AWS's public parameters give a real account, made in the local cloud.

- The CDK's bootstrap version parameter (``/cdk-bootstrap/hnb659fds/version``), with the version of the
  bootstrap template that ships with the pinned CDK CLI (``node_modules/aws-cdk``), so the templates'
  ``CheckBootstrapVersion`` rule is evaluated for real.
- The Powertools for AWS Lambda layer: AWS publishes its ARN in the public SSM parameter
  ``/aws/service/powertools/python/<arch>/<runtime>/<version>``. Locally, the layer is built from the
  pinned ``aws-lambda-powertools`` package, published with ``PublishLayerVersion``, and its ARN is put
  in the same parameter, so the templates' SSM-typed parameter resolves as on AWS.
"""

from __future__ import annotations

import io
import re
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from kmslab.cloud.deploy.errors import DeployError

BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
_POWERTOOLS_PARAMETER = re.compile(
    r"^/aws/service/powertools/python/(?P<arch>[^/]+)/(?P<runtime>[^/]+)/(?P<version>[^/]+)$"
)


def bootstrap_version(root: Path) -> str:
    """The bootstrap version the pinned CDK CLI's bootstrap template creates.

    Args:
        root: The project root (where ``node_modules`` is).

    Returns:
        The version, e.g. ``"33"``.

    Raises:
        DeployError: The CDK CLI is not installed.
    """
    template = root / "node_modules/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml"
    try:
        text = template.read_text()
    except OSError as exc:
        raise DeployError(f"{template}: the pinned CDK CLI is not installed; run 'make install'") from exc
    match = re.search(r"CdkBootstrapVersion:\s*\n(?:.*\n){0,8}?\s*Value:\s*'?(\d+)'?", text)
    if match is None:
        raise DeployError(f"{template}: no CdkBootstrapVersion value found")
    return match.group(1)


def bootstrap(ssm: Any, *, version: str) -> str | None:
    """Record the CDK bootstrap version in the local SSM Parameter Store, when it is missing.

    Args:
        ssm: An SSM client of the local cloud (in the stack's Region).
        version: The bootstrap version to record.

    Returns:
        A line saying what was made, or None when the parameter was there.
    """
    if _exists(ssm, BOOTSTRAP_PARAMETER):
        return None
    ssm.put_parameter(Name=BOOTSTRAP_PARAMETER, Value=version, Type="String")
    return f"{BOOTSTRAP_PARAMETER} = {version} (the pinned CDK CLI's bootstrap version)"


def public_parameter(lambda_client: Any, name: str) -> str:
    """The value of one of AWS's public parameters that the local cloud serves.

    ``/aws/service/...`` names are reserved: nobody can put them (``AccessDeniedException``), so the
    local cloud answers them itself. Today that is the Powertools layer: the layer is published from
    the installed package the first time it is asked for, and found again afterwards.

    Args:
        lambda_client: A Lambda client of the local cloud (in the stack's Region).
        name: The parameter name.

    Returns:
        The parameter's value (the layer version ARN).

    Raises:
        KeyError: The local cloud does not serve that parameter.
        DeployError: It names a Powertools release other than the pinned one.
    """
    powertools = _POWERTOOLS_PARAMETER.match(name)
    if powertools is None:
        raise KeyError(name)
    return _publish_powertools(lambda_client, **powertools.groupdict())


def _exists(ssm: Any, name: str) -> bool:
    try:
        ssm.get_parameter(Name=name)
    except ssm.exceptions.ParameterNotFound:
        return False
    return True


def _publish_powertools(lambda_client: Any, *, arch: str, runtime: str, version: str) -> str:
    installed = metadata.version("aws-lambda-powertools")
    if installed != version:
        raise DeployError(
            f"the templates ask for Powertools {version} but {installed} is installed; "
            "keep requirements-dev.txt and the alerting stack's pin equal"
        )
    layer_name = f"AWSLambdaPowertoolsPythonV3-{runtime.replace('.', '')}-{arch}"
    description = f"Powertools for AWS Lambda (Python) {version}, built locally from the pinned package"
    for existing in lambda_client.list_layer_versions(LayerName=layer_name).get("LayerVersions", []):
        if existing.get("Description") == description:
            return str(existing["LayerVersionArn"])
    layer = lambda_client.publish_layer_version(
        LayerName=layer_name,
        Description=description,
        Content={"ZipFile": _powertools_zip()},
        CompatibleRuntimes=[runtime],
        CompatibleArchitectures=[arch],
    )
    return str(layer["LayerVersionArn"])


def _powertools_zip() -> bytes:
    """The installed ``aws_lambda_powertools`` package laid out as a Lambda layer (``python/...``)."""
    import aws_lambda_powertools  # noqa: PLC0415 - a dev dependency, only needed here

    package = Path(aws_lambda_powertools.__file__).parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, f"python/aws_lambda_powertools/{path.relative_to(package).as_posix()}")
    return buffer.getvalue()
