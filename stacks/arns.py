"""ARNs of kit resources derived from configured names, for policies that must not wait for the resource.

A key policy must allow CloudTrail before the trail exists, and the trail lives in another stack: building its
ARN from the configured name with ``Stack.format_arn`` keeps the stacks free of cross-stack cycles.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack

__all__ = ["log_group_arn", "log_stream_arn", "trail_arn"]


def trail_arn(stack: Stack, trail_name: str) -> str:
    """ARN of a trail in ``stack``'s account and Region.

    Args:
        stack: Supplies partition, Region and account.
        trail_name: The trail's name.

    Returns:
        ``arn:<partition>:cloudtrail:<region>:<account>:trail/<name>``.
    """
    return stack.format_arn(service="cloudtrail", resource="trail", resource_name=trail_name)


def log_group_arn(stack: Stack, log_group_name: str) -> str:
    """ARN of a CloudWatch Logs group as it appears in the ``aws:logs:arn`` encryption context (no ``:*``).

    Args:
        stack: Supplies partition, Region and account.
        log_group_name: The log group's name.

    Returns:
        ``arn:<partition>:logs:<region>:<account>:log-group:<name>``.
    """
    return stack.format_arn(
        service="logs", resource="log-group", resource_name=log_group_name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )


def log_stream_arn(stack: Stack, log_group_name: str, stream_pattern: str) -> str:
    """ARN (pattern) of log streams in a CloudWatch Logs group.

    Args:
        stack: Supplies partition, Region and account.
        log_group_name: The log group's name.
        stream_pattern: Stream name or pattern.

    Returns:
        ``arn:<partition>:logs:<region>:<account>:log-group:<name>:log-stream:<pattern>``.
    """
    return f"{log_group_arn(stack, log_group_name)}:log-stream:{stream_pattern}"
