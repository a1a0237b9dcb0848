"""``kmslab kms explain``: why may (or may not) a principal do an action on a key?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from kmslab.kms.authz.errors import ExplainError
from kmslab.kms.authz.explain import explain as explain_decision
from kmslab.kms.authz.explain import format_decision, kms_action
from kmslab.kms.authz.identities import IdentityStore, load_identities
from kmslab.kms.seams import DEFAULT_ACCOUNT


def _parse_context(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--context needs KEY=VALUE, got {pair!r}")
        if name in out:
            previous = out[name]
            out[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[name] = value
    return out


def _client(endpoint: str, region: str, store: IdentityStore) -> Any:
    import boto3  # noqa: PLC0415 - boto3 is slow to import; only this path needs it

    root = next((i for i in store.identities if i.identity_type == "Root"), None)
    creds: dict[str, str] = {}
    if root is not None:
        creds = {"aws_access_key_id": root.access_key_id, "aws_secret_access_key": root.secret_access_key}
    return boto3.client("kms", endpoint_url=endpoint, region_name=region, **creds)


def _fetch(endpoint: str, region: str, key: str, store: IdentityStore) -> tuple[str, str, list[dict[str, Any]]]:
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    client = _client(endpoint, region, store)
    try:
        arn = client.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
        policy = client.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]
        grants: list[dict[str, Any]] = []
        for page in client.get_paginator("list_grants").paginate(KeyId=arn):
            grants.extend(page.get("Grants", []))
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise ExplainError(f"{endpoint}: {err.get('Code')}: {err.get('Message')}") from None
    except BotoCoreError as exc:
        raise ExplainError(f"{endpoint}: {exc}") from None
    return arn, policy, grants


def _offline_key(key: str, account: str, region: str) -> str:
    if key.startswith("arn:"):
        return key
    if key.startswith("alias/"):
        raise click.UsageError("with --policy-file, give --key as a key ARN or key ID (aliases need --endpoint)")
    return f"arn:aws:kms:{region}:{account}:key/{key}"


@click.command("explain")
@click.option("--principal", required=True, help="Principal ARN: arn:aws:iam::ACCT:root, ...:user/NAME, ...:role/NAME.")
@click.option("--action", required=True, help="The action, e.g. kms:Decrypt (the kms: prefix is optional).")
@click.option("--key", "key", default=None, help="Key ID, key ARN or alias name. Omit for account-level actions.")
@click.option(
    "--context",
    "contexts",
    multiple=True,
    metavar="KEY=VALUE",
    help="A condition key, e.g. kms:EncryptionContext:dept=sales (repeat; repeat a key for a list).",
)
@click.option("--grant-token", "grant_tokens", multiple=True, help="A grant token sent with the request (repeat).")
@click.option(
    "--endpoint",
    default=None,
    metavar="URL",
    help="The local KMS endpoint to read the key policy and grants from (DescribeKey, GetKeyPolicy, ListGrants).",
)
@click.option(
    "--policy-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Read the key policy from this JSON file instead of an endpoint (no grants).",
)
@click.option(
    "--identities",
    "identities_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The identities file with the principals' IAM policies (as given to 'kmslab kms serve').",
)
@click.option("--region", default="us-east-1", show_default=True, help="The region of the request.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def explain(
    principal: str,
    action: str,
    key: str | None,
    contexts: tuple[str, ...],
    grant_tokens: tuple[str, ...],
    endpoint: str | None,
    policy_file: Path | None,
    identities_file: Path | None,
    region: str,
    as_json: bool,
) -> None:
    """Explain whether PRINCIPAL may perform ACTION on KEY, and which statements or grants decide it.

    A teaching tool like IAM's policy simulator: it evaluates the key policy, the principal's IAM
    policies (from --identities) and the key's grants as AWS KMS does, prints ALLOW or DENY, the
    deciding statements (Sid and source), why every other statement did not apply, and for a
    denial the AccessDeniedException message AWS would return.

    Example: kmslab kms explain --endpoint http://127.0.0.1:4599 --identities ids.yaml
    --principal arn:aws:iam::111122223333:user/bob --action kms:Decrypt --key alias/demo
    --context kms:EncryptionContext:dept=sales
    """
    try:
        action = kms_action(action)  # before anything is read or fetched
    except ExplainError as exc:
        raise click.BadParameter(str(exc), param_hint="'--action'") from None
    store = load_identities(identities_file) if identities_file else IdentityStore(DEFAULT_ACCOUNT)
    context = _parse_context(contexts)
    key_arn: str | None = None
    policy: str | None = None
    grants: list[dict[str, Any]] = []
    if key is not None:
        if endpoint:
            key_arn, policy, grants = _fetch(endpoint, region, key, store)
        elif policy_file is not None:
            key_arn = _offline_key(key, store.account, region)
            policy = policy_file.read_text(encoding="utf-8")
            try:
                json.loads(policy)
            except ValueError:
                raise click.UsageError(f"{policy_file}: not valid JSON") from None
        else:
            raise click.UsageError("give --endpoint URL (or --policy-file FILE) to read the key policy")
    decision = explain_decision(
        principal=principal,
        action=action,
        store=store,
        key_arn=key_arn,
        key_policy=policy,
        grants=grants,
        context=context,
        grant_tokens=grant_tokens,
        region=region,
    )
    click.echo(json.dumps(decision.to_dict(), indent=2) if as_json else format_decision(decision))
