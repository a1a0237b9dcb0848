"""Metric filters: log events in, CloudWatch metric datapoints out.

AWS (PutMetricFilter, ``MetricTransformation``): ``metricValue`` is a number or a selector
(``$.field`` for JSON patterns, ``$field`` for space-delimited ones) of a matched event;
``defaultValue`` is emitted for an event the pattern does not match; a selected value that is not
a number produces no datapoint. ``dimensions`` map names to selectors of the matched event.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kmslab.cloud.logs.errors import InvalidParameterException
from kmslab.cloud.logs.patterns import FilterPattern, Match, compile_pattern

_NAME = re.compile(r"^[^:*$]{1,255}$")
_FILTER_NAME = re.compile(r"^[^:*]{1,512}$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$")


@dataclass(frozen=True)
class LogEvent:
    """One event of a log group.

    Args:
        timestamp: when it happened (timezone-aware).
        message: its text.
    """

    timestamp: datetime
    message: str


@dataclass(frozen=True)
class Datapoint:
    """One metric datapoint.

    Args:
        namespace: the metric namespace.
        metric_name: the metric name.
        timestamp: the event's time.
        value: the value.
        dimensions: dimension names and values, sorted.
        unit: the unit, or None.
    """

    namespace: str
    metric_name: str
    timestamp: datetime
    value: float
    dimensions: tuple[tuple[str, str], ...] = ()
    unit: str | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    return None


@dataclass(frozen=True)
class MetricTransformation:
    """How a metric filter turns a matched event into a datapoint.

    Args:
        metric_name: the metric name.
        metric_namespace: its namespace.
        metric_value: a number as text (``"1"``) or a selector (``$.bytes``, ``$size``).
        default_value: the value emitted for an event that does not match, or None.
        dimensions: dimension names to selectors.
        unit: the unit, or None.
    """

    metric_name: str
    metric_namespace: str
    metric_value: str
    default_value: float | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)
    unit: str | None = None

    def __post_init__(self) -> None:
        for label, value in (("metricName", self.metric_name), ("metricNamespace", self.metric_namespace)):
            if not _NAME.match(value):
                raise InvalidParameterException(f"Invalid {label}: {value!r}")
        if not self.metric_value.startswith("$") and _number(self.metric_value) is None:
            raise InvalidParameterException(f"Invalid metricValue: {self.metric_value!r}")
        if self.dimensions and self.default_value is not None:
            # AWS: "You can't specify a default value for a metric that has dimensions."
            raise InvalidParameterException("A metric transformation with dimensions cannot have a defaultValue")

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> MetricTransformation:
        """Build from the API's (or CloudFormation's) shape, in either key casing.

        Args:
            data: ``metricName``/``MetricName``, ``metricNamespace``, ``metricValue``, ``defaultValue``,
                ``dimensions``, ``unit``.

        Returns:
            The transformation.
        """

        def get(key: str) -> Any:
            return data.get(key, data.get(key[0].upper() + key[1:]))

        default = get("defaultValue")
        dimensions = get("dimensions") or {}
        if isinstance(dimensions, list):  # CloudFormation: [{"Key": ..., "Value": ...}]
            dimensions = {d["Key"]: d["Value"] for d in dimensions}
        return cls(
            metric_name=str(get("metricName")),
            metric_namespace=str(get("metricNamespace")),
            metric_value=str(get("metricValue")),
            default_value=None if default is None else float(default),
            dimensions=dict(dimensions),
            unit=get("unit"),
        )

    def datapoint(self, event: LogEvent, match: Match | None) -> Datapoint | None:
        """Return the datapoint for one event, or None when it emits none.

        Args:
            event: the log event.
            match: the pattern's match, or None when the event did not match.

        Returns:
            The datapoint, or None.
        """
        if match is None:
            if self.default_value is None:
                return None
            return Datapoint(
                self.metric_namespace, self.metric_name, event.timestamp, self.default_value, (), self.unit
            )
        value = _number(match.value_of(self.metric_value) if self.metric_value.startswith("$") else self.metric_value)
        if value is None:
            return None
        dimensions: list[tuple[str, str]] = []
        for name, selector in sorted(self.dimensions.items()):
            selected = match.value_of(selector)
            if selected is None:
                return None  # a dimension with no value: the event publishes nothing
            dimensions.append((name, str(selected)))
        return Datapoint(self.metric_namespace, self.metric_name, event.timestamp, value, tuple(dimensions), self.unit)


@dataclass(frozen=True)
class MetricFilter:
    """A metric filter on one log group.

    Args:
        name: the filter name.
        log_group: the log group name.
        pattern: the compiled filter pattern.
        transformations: its metric transformations (AWS allows one).
    """

    name: str
    log_group: str
    pattern: FilterPattern
    transformations: tuple[MetricTransformation, ...]

    def __post_init__(self) -> None:
        if not _FILTER_NAME.match(self.name):
            raise InvalidParameterException(f"Invalid filterName: {self.name!r}")
        if len(self.transformations) != 1:
            raise InvalidParameterException("metricTransformations must hold exactly one transformation")

    @classmethod
    def create(
        cls, *, name: str, log_group: str, pattern: str, transformations: Iterable[Mapping[str, Any]]
    ) -> MetricFilter:
        """Validate and build a metric filter (PutMetricFilter, or a CloudFormation ``AWS::Logs::MetricFilter``).

        Args:
            name: the filter name.
            log_group: the log group name.
            pattern: the filter pattern text.
            transformations: the metric transformations, API or CloudFormation shaped.

        Returns:
            The filter.

        Raises:
            InvalidParameterException: a malformed pattern or transformation.
        """
        return cls(
            name, log_group, compile_pattern(pattern), tuple(MetricTransformation.from_api(t) for t in transformations)
        )

    def apply(self, events: Iterable[LogEvent]) -> list[Datapoint]:
        """Turn log events into datapoints.

        Args:
            events: the events delivered to the log group.

        Returns:
            The datapoints, in event order.
        """
        points: list[Datapoint] = []
        for event in events:
            match = self.pattern.match(event.message)
            for transformation in self.transformations:
                point = transformation.datapoint(event, match)
                if point is not None:
                    points.append(point)
        return points
