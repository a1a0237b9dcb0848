"""Dynamic references ``{{resolve:ssm:...}}`` are resolved from SSM at deploy time, or refused by name."""

from __future__ import annotations

import pytest

from kmslab.cloud.deploy.dynamic import resolve_references
from kmslab.cloud.deploy.errors import TemplateError


def _ssm(name: str) -> str:
    values = {"/cdk/exports/A/x": "arn:aws:kms:us-east-1:111122223333:key/k"}
    if name not in values:
        raise KeyError(name)
    return values[name]


def test_references_anywhere_in_the_properties_are_replaced() -> None:
    props = {"ReaderProps": {"imports": {"/cdk/exports/A/x": "{{resolve:ssm:/cdk/exports/A/x}}"}}, "N": 3}
    out = resolve_references(props, _ssm)
    assert out == {"ReaderProps": {"imports": {"/cdk/exports/A/x": "arn:aws:kms:us-east-1:111122223333:key/k"}}, "N": 3}
    assert resolve_references(["pre-{{resolve:ssm:/cdk/exports/A/x}}-post"], _ssm) == [
        "pre-arn:aws:kms:us-east-1:111122223333:key/k-post"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{resolve:ssm:/missing}}", "Unable to fetch parameters [/missing]"),
        ("{{resolve:ssm:/cdk/exports/A/x:2}}", "versioned dynamic reference"),
        ("{{resolve:secretsmanager:MySecret:SecretString:password}}", "resolve:secretsmanager"),
        ("{{resolve:ssm-secure:/p:1}}", "resolve:ssm-secure"),
    ],
)
def test_what_cannot_be_resolved_is_a_template_error(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("[", r"\[")):
        resolve_references({"Value": text}, _ssm)
