"""CloudTrail behind the gateway (JSON 1.1): trails with AWS's delivery checks, status, selectors, tags,
ListPublicKeys and LookupEvents over the cloud's recorder.

Every operation is authorized as IAM does for CloudTrail: ``cloudtrail:<Operation>`` on the trail's
ARN (``*`` for the account-level ListTrails, LookupEvents and ListPublicKeys), from the caller's
identity-based policies (CloudTrail has no resource-based policy for trails). An operation the local
cloud does not serve answers ``UnsupportedOperationException`` naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from kmslab.cloud.cloudtrail.keys import DigestKeyStore
from kmslab.cloud.cloudtrail.logs_delivery import GroupLookup, moto_group_exists, parse_group_arn
from kmslab.cloud.cloudtrail.selectors import check_advanced, check_selectors
from kmslab.cloud.cloudtrail.targets import check_trail
from kmslab.cloud.cloudtrail.trails import DEFAULT_SELECTORS, Trail, TrailStore, check_name
from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.cloud.services._jsonsvc import ServiceBase, answer, parse_json
from kmslab.cloud.services.docstore import DocStore
from kmslab.iam import CloudIdentities
from kmslab.kms import KmsError, LocalKms
from kmslab.trail.lookup import lookup_events

TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
#: CreateTrail/UpdateTrail members stored as they are given
_SETTINGS = (
    "S3BucketName", "S3KeyPrefix", "IncludeGlobalServiceEvents", "IsMultiRegionTrail",
    "CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn", "KmsKeyId",
)  # fmt: skip
#: settings whose change makes UpdateTrail check the delivery again
_CHECKED = ("S3BucketName", "S3KeyPrefix", "KmsKeyId", "CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn")


class Delivery(Protocol):
    """What the service tells the delivery of log files (and what it asks of it)."""

    def restart(self, trail: Trail) -> None:
        """Logging started or the trail's settings changed: start a new digest chain."""
        ...

    def status(self, trail: Trail) -> dict[str, Any]:
        """The trail's latest delivery times and errors, GetTrailStatus members."""
        ...


class RecordSource(Protocol):
    """The cloud's recorder: its recent records."""

    def records(self) -> list[dict[str, Any]]:
        """Return the recent CloudTrail records, oldest first."""
        ...


class CloudTrailService(ServiceBase):
    """The local CloudTrail.

    Args:
        docs: where trails persist.
        kms: the local KMS (key policies for the checks).
        identities: the callers' IAM policies and the roles.
        account: the account.
        buckets: returns the local S3's document of a bucket, or None when it does not exist.
        keys: the digest signing keys (ListPublicKeys).
        records: the recorder LookupEvents reads.
        delivery: the log file delivery, if any.
        on_keys: called after the digest keys may have changed (to persist them).
        group_exists: tells whether a CloudWatch Logs group exists (CreateTrail's check).
    """

    protocol = "json"

    def __init__(
        self,
        docs: DocStore,
        *,
        kms: LocalKms,
        identities: CloudIdentities,
        account: str,
        buckets: Callable[[str], Mapping[str, Any] | None],
        keys: DigestKeyStore,
        records: RecordSource | None = None,
        delivery: Delivery | None = None,
        on_keys: Callable[[], None] = lambda: None,
        group_exists: GroupLookup = moto_group_exists,
    ) -> None:
        super().__init__(kms, identities, account, "cloudtrail.amazonaws.com", "cloudtrail")
        self.trails = TrailStore(docs, account)
        self.buckets = buckets
        self.keys = keys
        self.records = records
        self.delivery: Delivery | None = delivery
        self.on_keys = on_keys
        self.group_exists = group_exists

    def handle(self, request: Incoming, call: Call) -> Outgoing:
        """Answer one CloudTrail request.

        Args:
            request: the request.
            call: who sends it.

        Returns:
            The answer.

        Raises:
            CloudError: CloudTrail's error.
        """
        operation, params = parse_json(request, TARGET_PREFIX)
        handler = {
            "CreateTrail": self._create,
            "UpdateTrail": self._update,
            "GetTrail": self._get,
            "DescribeTrails": self._describe,
            "ListTrails": self._list,
            "GetTrailStatus": self._status,
            "StartLogging": self._start,
            "StopLogging": self._stop,
            "DeleteTrail": self._delete,
            "PutEventSelectors": self._put_selectors,
            "GetEventSelectors": self._get_selectors,
            "AddTags": self._add_tags,
            "RemoveTags": self._remove_tags,
            "ListTags": self._list_tags,
            "ListPublicKeys": self._public_keys,
            "LookupEvents": self._lookup,
        }.get(operation)
        if handler is None:
            raise CloudError(
                "UnsupportedOperationException", f"cloudtrail {operation[:60]} is not served by the local cloud."
            )
        return answer(handler(params, call), call)

    # -- trails ------------------------------------------------------------------------------

    def _check(self, doc: dict[str, Any]) -> None:
        """Run CreateTrail's checks; store the key as its ARN, as CloudTrail does."""
        bucket = self.buckets(str(doc["S3BucketName"]))
        key_arn = check_trail(doc, bucket=bucket, kms=self.kms, identities=self.identities)
        group = parse_group_arn(str(doc.get("CloudWatchLogsLogGroupArn") or ""))
        if group is not None and not self.group_exists(group[1], group[0], group[2]):
            # "You must use a log group that exists in your account." (CreateTrail, CloudWatchLogsLogGroupArn)
            raise CloudError(
                "InvalidCloudWatchLogsLogGroupArnException", f"The log group {group[2]} does not exist in the account."
            )
        doc["KmsKeyId"] = key_arn

    def _create(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        name = check_name(params.get("Name"))
        arn = self.trails.arn(call.region, name)
        self.authorize(call.caller, "CreateTrail", arn, call.region)
        if not isinstance(params.get("S3BucketName"), str) or not params["S3BucketName"]:
            raise CloudError("InvalidS3BucketNameException", "S3 bucket name is required.")
        _refuse_unserved(params)
        with self.trails.lock:
            if self.trails.exists(call.region, name):
                raise CloudError(
                    "TrailAlreadyExistsException", f"Trail {name} already exists for customer: {self.account}"
                )
            doc: dict[str, Any] = {
                "Name": name,
                "HomeRegion": call.region,
                "TrailARN": arn,
                "IncludeGlobalServiceEvents": True,
                "IsMultiRegionTrail": False,
                "IsOrganizationTrail": False,
                "LogFileValidationEnabled": bool(params.get("EnableLogFileValidation", False)),
                "logging": False,
                "tags": _tags(params.get("TagsList")),
            }
            doc.update({k: params[k] for k in _SETTINGS if params.get(k) not in (None, "")})
            self._check(doc)
            return self.trails.put(doc).created()

    def _update(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        _refuse_unserved(params)
        with self.trails.lock:
            trail = self.trails.home(params.get("Name"), call.region)
            self.authorize(call.caller, "UpdateTrail", trail.arn, call.region)
            doc = dict(trail.doc)
            for key in _SETTINGS:
                if key in params:
                    doc[key] = params[key] if params[key] != "" else None
            if "EnableLogFileValidation" in params:
                doc["LogFileValidationEnabled"] = bool(params["EnableLogFileValidation"])
            if any(key in params for key in _CHECKED) or not doc.get("S3BucketName"):
                self._check(doc)
            updated = self.trails.put(doc)
        if self.delivery is not None and updated.logging:
            self.delivery.restart(updated)
        return updated.created()

    def _get(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        trail = self.trails.find(params.get("Name"), call.region)
        self.authorize(call.caller, "GetTrail", trail.arn, call.region)
        return {"Trail": trail.to_api()}

    def _describe(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        names = params.get("trailNameList") or []
        shadows = params.get("includeShadowTrails", True)
        if names:
            found = []
            for ref in names:
                try:
                    found.append(self.trails.find(ref, call.region))
                except CloudError:
                    continue  # DescribeTrails leaves out names it does not find
        else:
            found = [t for t in self.trails.visible(call.region) if shadows or t.home_region == call.region]
        allowed = []
        for trail in found:
            self.authorize(call.caller, "DescribeTrails", trail.arn, call.region)
            allowed.append(trail.to_api())
        return {"trailList": allowed}

    def _list(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        self.authorize(call.caller, "ListTrails", "*", call.region)
        visible = self.trails.visible(call.region)
        return {"Trails": [{"TrailARN": t.arn, "Name": t.name, "HomeRegion": t.home_region} for t in visible]}

    def _status(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        trail = self.trails.find(params.get("Name"), call.region)
        self.authorize(call.caller, "GetTrailStatus", trail.arn, call.region)
        out: dict[str, Any] = {"IsLogging": trail.logging}
        for member, field in (("StartLoggingTime", "started"), ("StopLoggingTime", "stopped")):
            if trail.doc.get(field) is not None:
                out[member] = trail.doc[field]
        out["TimeLoggingStarted"] = _iso(trail.doc.get("started"))
        out["TimeLoggingStopped"] = _iso(trail.doc.get("stopped"))
        if self.delivery is not None:
            out.update(self.delivery.status(trail))
        return {k: v for k, v in out.items() if v is not None}

    def _set_logging(self, params: dict[str, Any], call: Call, operation: str, logging: bool) -> dict[str, Any]:
        with self.trails.lock:
            trail = self.trails.home(params.get("Name"), call.region)
            self.authorize(call.caller, operation, trail.arn, call.region)
            doc = dict(trail.doc)
            if doc.get("logging") != logging:
                doc["logging"] = logging
                doc["started" if logging else "stopped"] = time.time()
                trail = self.trails.put(doc)
                if self.delivery is not None:
                    self.delivery.restart(trail)  # a stop or a start ends the digest chain
        return {}

    def _start(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        return self._set_logging(params, call, "StartLogging", True)

    def _stop(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        return self._set_logging(params, call, "StopLogging", False)

    def _delete(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        with self.trails.lock:
            trail = self.trails.home(params.get("Name"), call.region)
            self.authorize(call.caller, "DeleteTrail", trail.arn, call.region)
            self.trails.delete(trail)
        return {}

    # -- event selectors ---------------------------------------------------------------------

    def _put_selectors(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        basic, advanced = params.get("EventSelectors"), params.get("AdvancedEventSelectors")
        if (basic is None) == (advanced is None):
            raise CloudError(
                "InvalidParameterCombinationException",
                "Specify either EventSelectors or AdvancedEventSelectors, but not both.",
            )
        with self.trails.lock:
            trail = self.trails.home(params.get("TrailName"), call.region)
            self.authorize(call.caller, "PutEventSelectors", trail.arn, call.region)
            doc = dict(trail.doc)
            doc["selectors"] = check_selectors(basic) if basic is not None else None
            doc["advanced"] = check_advanced(advanced) if advanced is not None else None
            trail = self.trails.put(doc)
        return self._selectors_of(trail)

    def _get_selectors(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        trail = self.trails.find(params.get("TrailName"), call.region)
        self.authorize(call.caller, "GetEventSelectors", trail.arn, call.region)
        return self._selectors_of(trail)

    @staticmethod
    def _selectors_of(trail: Trail) -> dict[str, Any]:
        out: dict[str, Any] = {"TrailARN": trail.arn}
        if trail.doc.get("advanced") is not None:
            out["AdvancedEventSelectors"] = trail.doc["advanced"]
        else:
            out["EventSelectors"] = trail.doc.get("selectors") or DEFAULT_SELECTORS
        return out

    # -- tags --------------------------------------------------------------------------------

    def _tagged(self, params: dict[str, Any], call: Call, operation: str) -> tuple[Trail, dict[str, str]]:
        trail = self.trails.find(params.get("ResourceId"), call.region)
        self.authorize(call.caller, operation, trail.arn, call.region)
        return trail, dict(trail.doc.get("tags") or {})

    def _add_tags(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        with self.trails.lock:
            trail, tags = self._tagged(params, call, "AddTags")
            tags.update(_tags(params.get("TagsList")))
            if len(tags) > 50:
                raise CloudError("TagsLimitExceededException", "The number of tags per trail has exceeded 50.")
            self.trails.put({**trail.doc, "tags": tags})
        return {}

    def _remove_tags(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        with self.trails.lock:
            trail, tags = self._tagged(params, call, "RemoveTags")
            for key in _tags(params.get("TagsList")):
                tags.pop(key, None)
            self.trails.put({**trail.doc, "tags": tags})
        return {}

    def _list_tags(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        refs = params.get("ResourceIdList")
        if not isinstance(refs, list) or not refs:
            raise CloudError("InvalidTrailNameException", "ResourceIdList must name at least one trail ARN.")
        out = []
        for ref in refs:
            trail = self.trails.find(ref, call.region)
            self.authorize(call.caller, "ListTags", trail.arn, call.region)
            tags = trail.doc.get("tags") or {}
            out.append({"ResourceId": trail.arn, "TagsList": [{"Key": k, "Value": v} for k, v in tags.items()]})
        return {"ResourceTagList": out}

    # -- keys and events ---------------------------------------------------------------------

    def _public_keys(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        self.authorize(call.caller, "ListPublicKeys", "*", call.region)
        start, end = _moment(params.get("StartTime")), _moment(params.get("EndTime"))
        try:
            keys = self.keys.list_public_keys(call.region, start=start, end=end)
        except Exception as exc:  # InvalidTimeRangeException, from the core
            raise CloudError(getattr(exc, "code", "InvalidTimeRangeException"), str(exc)) from None
        self.on_keys()
        now = datetime.now(UTC)
        listed = []
        for key in keys:
            entry = key.to_api(now)
            listed.append(
                {
                    # a blob is base64 on the JSON wire: boto3 hands its caller the DER key, and the AWS
                    # CLI (v1 leaves blobs as their base64 text) decodes it in validate-logs
                    "Value": entry["Value"].decode(),
                    "ValidityStartTime": entry["ValidityStartTime"].timestamp(),
                    "ValidityEndTime": entry["ValidityEndTime"].timestamp(),
                    "Fingerprint": entry["Fingerprint"],
                }
            )
        return {"PublicKeyList": listed}

    def _lookup(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        self.authorize(call.caller, "LookupEvents", "*", call.region)
        records = self.records.records() if self.records is not None else []
        # event history holds management events only; data events are in trails' log files
        shown = [r for r in records if r.get("awsRegion") == call.region and r.get("managementEvent") is not False]
        try:
            return lookup_events(shown, params)
        except KmsError as exc:  # the lookup's errors (InvalidTimeRangeException...)
            raise CloudError(exc.code, exc.message) from None


def _refuse_unserved(params: Mapping[str, Any]) -> None:
    """Refuse, naming it, a setting the local CloudTrail does not act on."""
    for member in ("SnsTopicName", "IsOrganizationTrail"):
        if params.get(member):
            raise CloudError("UnsupportedOperationException", f"cloudtrail {member} is not served by the local cloud.")


def _tags(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list) or not all(isinstance(t, dict) and isinstance(t.get("Key"), str) for t in raw):
        raise CloudError("InvalidTagParameterException", "TagsList must be a list of {Key, Value}.")
    return {str(t["Key"]): str(t.get("Value", "")) for t in raw}


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError):
        raise CloudError("InvalidTimeRangeException", "Occurs if the timestamp values are not valid.") from None


def _iso(epoch: Any) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(float(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
