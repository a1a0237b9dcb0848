"""Trails as CloudTrail keeps them: validated names, ARNs, the durable store and the API shapes.

A trail lives in its home Region and is named uniquely there; a multi-Region trail is also seen
(as a "shadow trail") from every other Region by DescribeTrails and ListTrails, but only its home
Region may change it (CloudTrail User Guide, "Working with CloudTrail trails"). Trails persist in
the cloud's :class:`~kmslab.cloud.services.docstore.DocStore` under ``<home region>|<name>``.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kmslab.cloud.errors import CloudError
from kmslab.cloud.services.docstore import DocStore

KIND = "cloudtrail-trail"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]$")
_ARN = re.compile(r"^arn:aws[\w-]*:cloudtrail:([\w-]+):(\d{12}):trail/(.+)$")

#: GetEventSelectors' answer for a trail that never had selectors set: every management event
DEFAULT_SELECTORS: list[dict[str, Any]] = [
    {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [], "ExcludeManagementEventSources": []}
]


def not_found(name: str, account: str) -> CloudError:
    """The error for a trail that does not exist (worded as CloudTrail words it).

    Args:
        name: the name or ARN asked for.
        account: the caller's account.

    Returns:
        ``TrailNotFoundException``.
    """
    return CloudError("TrailNotFoundException", f"Unknown trail: {name} for the user: {account}")


def check_name(name: Any) -> str:
    """Validate a trail name as CreateTrail does.

    Args:
        name: the ``Name`` parameter.

    Returns:
        The name.

    Raises:
        CloudError: ``InvalidTrailNameException``.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise CloudError(
            "InvalidTrailNameException",
            "Trail name must be between 3 and 128 characters, start and end with a letter or number, and contain "
            "only letters, numbers, periods, underscores and dashes.",
        )
    if re.search(r"[._-]{2}", name):
        raise CloudError("InvalidTrailNameException", "Trail name cannot have adjacent periods, underscores or dashes.")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name
    raise CloudError("InvalidTrailNameException", "Trail name cannot be formatted as an IP address.")


@dataclass(frozen=True)
class Trail:
    """One trail's stored document, read-only.

    Args:
        doc: the document (the API's ``Trail`` members plus ``logging``, ``selectors``, ``tags``...).
    """

    doc: Mapping[str, Any]

    @property
    def name(self) -> str:
        """The trail's name."""
        return str(self.doc["Name"])

    @property
    def arn(self) -> str:
        """The trail's ARN."""
        return str(self.doc["TrailARN"])

    @property
    def home_region(self) -> str:
        """The trail's home Region."""
        return str(self.doc["HomeRegion"])

    @property
    def logging(self) -> bool:
        """Whether the trail is logging."""
        return bool(self.doc.get("logging"))

    def covers(self, region: str) -> bool:
        """Tell whether the trail collects the events of a Region."""
        return bool(self.doc.get("IsMultiRegionTrail")) or region == self.home_region

    def to_api(self) -> dict[str, Any]:
        """The ``Trail`` structure of GetTrail and DescribeTrails."""
        keys = (
            "Name", "S3BucketName", "S3KeyPrefix", "IncludeGlobalServiceEvents", "IsMultiRegionTrail",
            "HomeRegion", "TrailARN", "LogFileValidationEnabled", "CloudWatchLogsLogGroupArn",
            "CloudWatchLogsRoleArn", "KmsKeyId", "IsOrganizationTrail",
        )  # fmt: skip
        out = {k: self.doc[k] for k in keys if self.doc.get(k) is not None}
        out["HasCustomEventSelectors"] = bool(self.doc.get("selectors") or self.doc.get("advanced"))
        out["HasInsightSelectors"] = False
        return out

    def created(self) -> dict[str, Any]:
        """CreateTrail's and UpdateTrail's answer."""
        out = self.to_api()
        for key in ("HomeRegion", "HasCustomEventSelectors", "HasInsightSelectors"):
            out.pop(key, None)
        return out


class TrailStore:
    """The account's trails, durable in the DocStore.

    Args:
        docs: the store.
        account: the account.
    """

    def __init__(self, docs: DocStore, account: str) -> None:
        self.docs = docs
        self.account = account
        self.lock = threading.RLock()

    def arn(self, region: str, name: str) -> str:
        """The ARN of a trail of this account.

        Args:
            region: the home Region.
            name: the name.

        Returns:
            ``arn:aws:cloudtrail:<region>:<account>:trail/<name>``.
        """
        return f"arn:aws:cloudtrail:{region}:{self.account}:trail/{name}"

    def all(self) -> Iterator[Trail]:
        """Every trail of the account, by home Region and name."""
        for _, doc in self.docs.items(KIND):
            yield Trail(doc)

    def visible(self, region: str) -> list[Trail]:
        """The trails a request in ``region`` sees: its own and the multi-Region ones (shadow trails)."""
        return [t for t in self.all() if t.covers(region)]

    def find(self, ref: Any, region: str) -> Trail:
        """Find a trail by name (in the request's Region, or a multi-Region trail) or ARN.

        Args:
            ref: the ``Name``/``TrailName`` parameter.
            region: the request's Region.

        Returns:
            The trail.

        Raises:
            CloudError: ``TrailNotFoundException`` or ``InvalidTrailNameException``.
        """
        if not isinstance(ref, str) or not ref:
            raise CloudError("InvalidTrailNameException", "Trail name or ARN can only contain valid characters.")
        match = _ARN.match(ref)
        if match:
            home, account, name = match.groups()
            doc = self.docs.get(KIND, f"{home}|{name}") if account == self.account else None
            if doc is None or not Trail(doc).covers(region):
                raise not_found(ref, self.account)
            return Trail(doc)
        doc = self.docs.get(KIND, f"{region}|{ref}")
        if doc is not None:
            return Trail(doc)
        for trail in self.visible(region):
            if trail.name == ref:
                return trail
        raise not_found(self.arn(region, ref), self.account)

    def home(self, ref: Any, region: str) -> Trail:
        """Find a trail the request may change: it must be called in the trail's home Region.

        Args:
            ref: the name or ARN.
            region: the request's Region.

        Returns:
            The trail.

        Raises:
            CloudError: not found, or ``InvalidHomeRegionException``.
        """
        trail = self.find(ref, region)
        if trail.home_region != region:
            raise CloudError(
                "InvalidHomeRegionException",
                f"This operation must be called from the trail's home region, {trail.home_region}.",
            )
        return trail

    def exists(self, region: str, name: str) -> bool:
        """Tell whether a trail of that name is in the Region (or a multi-Region trail of that name is seen)."""
        return any(t.name == name for t in self.visible(region))

    def put(self, doc: Mapping[str, Any]) -> Trail:
        """Store a trail's document durably.

        Args:
            doc: the document.

        Returns:
            The trail.
        """
        self.docs.put(KIND, f"{doc['HomeRegion']}|{doc['Name']}", dict(doc))
        return Trail(doc)

    def delete(self, trail: Trail) -> None:
        """Remove a trail.

        Args:
            trail: the trail.
        """
        self.docs.delete(KIND, f"{trail.home_region}|{trail.name}")
