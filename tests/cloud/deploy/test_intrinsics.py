"""CloudFormation's intrinsic functions, evaluated as the CloudFormation User Guide describes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kmslab.cloud.deploy.errors import TemplateError
from kmslab.cloud.deploy.intrinsics import Evaluator


class FakeScope:
    def __init__(self) -> None:
        self.params: dict[str, Any] = {"AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333", "Env": "dev"}
        self.conditions = {"IsDev": True, "IsProd": False}
        self.refs = {"Bucket": "my-bucket"}
        self.attrs = {("Key", "Arn"): "arn:aws:kms:eu-west-1:111122223333:key/k1"}

    def parameter(self, name: str) -> Any:
        return self.params[name]

    def condition(self, name: str) -> bool:
        return self.conditions[name]

    def resource_ref(self, logical_id: str) -> str:
        return self.refs[logical_id]

    def resource_attribute(self, logical_id: str, attribute: str) -> Any:
        return self.attrs[(logical_id, attribute)]

    def import_value(self, name: str) -> str:
        return {"Keys:DataKeyArn": "arn:exported"}[name]

    def stack_output(self, stack: str, output: str, region: str | None) -> str:
        return f"{stack}/{output}@{region}"

    def mapping(self) -> Mapping[str, Any]:
        return {"Sizes": {"dev": {"Days": 7}}}

    def availability_zones(self, region: str) -> list[str]:
        return [f"{region}a", f"{region}b"]


@pytest.fixture
def ev() -> Evaluator:
    return Evaluator(FakeScope())


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"Ref": "Env"}, "dev"),
        ({"Ref": "Bucket"}, "my-bucket"),
        ({"Fn::GetAtt": ["Key", "Arn"]}, "arn:aws:kms:eu-west-1:111122223333:key/k1"),
        ({"Fn::GetAtt": "Key.Arn"}, "arn:aws:kms:eu-west-1:111122223333:key/k1"),
        ({"Fn::Join": ["/", ["a", {"Ref": "Env"}, "c"]]}, "a/dev/c"),
        (
            {"Fn::Sub": "arn:${AWS::Region}:${Bucket}/${Key.Arn}"},
            "arn:eu-west-1:my-bucket/arn:aws:kms:eu-west-1:111122223333:key/k1",
        ),
        ({"Fn::Sub": ["${Name}-${Env}", {"Name": {"Ref": "Bucket"}}]}, "my-bucket-dev"),
        ({"Fn::Sub": "${!Literal}"}, "${Literal}"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "b"),
        ({"Fn::If": ["IsDev", "small", "large"]}, "small"),
        ({"Fn::If": ["IsProd", "large", {"Ref": "AWS::NoValue"}]}, None),
        ({"Fn::Equals": [{"Ref": "Env"}, "dev"]}, True),
        ({"Fn::And": [{"Condition": "IsDev"}, {"Fn::Not": [{"Condition": "IsProd"}]}]}, True),
        ({"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "b"]}]}, False),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Days"]}, 7),
        ({"Fn::FindInMap": ["Sizes", "prod", "Days", {"DefaultValue": 30}]}, 30),
        ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b"]),
        ({"Fn::Select": [0, {"Fn::GetAZs": {"Ref": "AWS::Region"}}]}, "eu-west-1a"),
        ({"Fn::ImportValue": "Keys:DataKeyArn"}, "arn:exported"),
        (
            {"Fn::GetStackOutput": {"StackName": "Keys", "OutputName": "Arn", "Region": "us-east-1"}},
            "Keys/Arn@us-east-1",
        ),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Fn::Length": [1, 2, 3]}, 3),
        ({"Fn::ToJsonString": {"a": {"Ref": "Env"}}}, '{"a":"dev"}'),
        ({"Fn::Not": [{"Fn::Contains": [["1", "2"], {"Ref": "Env"}]}]}, True),
    ],
)
def test_functions(ev: Evaluator, expr: Any, expected: Any) -> None:
    assert ev.resolve(expr) == expected


def test_no_value_removes_the_property_and_the_list_item(ev: Evaluator) -> None:
    value = {
        "Keep": "x",
        "Drop": {"Fn::If": ["IsProd", "y", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Ref": "AWS::NoValue"}, "b"],
    }
    assert ev.resolve(value) == {"Keep": "x", "List": ["a", "b"]}


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ({"Fn::Fly": []}, "Fn::Fly is not a function"),
        ({"Fn::Join": ["/"]}, "Fn::Join needs"),
        ({"Fn::Select": [5, ["a"]]}, "cannot select index 5"),
        ({"Fn::FindInMap": ["Sizes", "prod", "Days"]}, "found no Sizes/prod/Days"),
        ({"Fn::Join": ["/", [{"a": 1}]]}, "expected a string"),
    ],
)
def test_malformed_functions_are_template_errors(ev: Evaluator, expr: Any, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        ev.resolve(expr)


def test_a_condition_must_be_boolean(ev: Evaluator) -> None:
    assert ev.truth("true") is True
    with pytest.raises(TemplateError, match="must be a boolean"):
        ev.truth("maybe")
