"""The engine's records: KMS keys, their backing keys, aliases and grants.

Records are mutable and only changed under the engine's lock. Key material never
appears in a repr; :func:`key_to_doc` seals it with the store's root key before it is
written anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Seal = Callable[[bytes, bytes], str]
Unseal = Callable[[str, bytes], bytes]


def key_arn(region: str, account: str, key_id: str) -> str:
    """Return a key ARN.

    Args:
        region: the key's region.
        account: the owning account.
        key_id: the key ID.

    Returns:
        ``arn:aws:kms:<region>:<account>:key/<key_id>``.
    """
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, name: str) -> str:
    """Return an alias ARN.

    Args:
        region: the alias's region.
        account: the owning account.
        name: the alias name, ``alias/...``.

    Returns:
        ``arn:aws:kms:<region>:<account>:<name>``.
    """
    return f"arn:aws:kms:{region}:{account}:{name}"


_UUID4_CLEAR = ~((0xF << 76) | (0x3 << 62))
_UUID4_SET = (0x4 << 76) | (0x2 << 62)


def uuid_text(value: int | str) -> str:
    """Return a 128-bit number as a version-4 UUID's text (text is returned as it is).

    Args:
        value: 128 random bits, or a UUID already in text form.

    Returns:
        ``xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx``.
    """
    if isinstance(value, str):
        return value
    h = f"{(value & _UUID4_CLEAR) | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


@dataclass
class BackingKey:
    """One version of a key's material.

    Args:
        material_id: the KeyMaterialId (64 hex).
        material: the key bytes (symmetric/HMAC) or PKCS#8 DER; None while imported material is absent.
        created: when this material became current.
        rotation_type: None for the first material, else ``AUTOMATIC`` or ``ON_DEMAND``.
        expiration_model: for imported material, ``KEY_MATERIAL_EXPIRES`` or ``KEY_MATERIAL_DOES_NOT_EXPIRE``.
        valid_to: for imported material that expires, when.
        description: the KeyMaterialDescription of imported material.
        pending: imported for an on-demand rotation that has not happened yet (PENDING_ROTATION).
    """

    material_id: str
    material: bytes | None = field(repr=False)
    created: datetime
    rotation_type: str | None = None
    expiration_model: str | None = None
    valid_to: datetime | None = None
    description: str | None = None
    pending: bool = False


@dataclass
class Key:
    """A KMS key in one region (a multi-Region replica is a separate record with the same key ID).

    ``last_usage`` is the last successful cryptographic use (operation, time, request ID, CloudTrail
    event ID) and
    ``usage_since`` when tracking began (GetKeyLastUsage's TrackingStartDate); ``updating_until``
    ends the transient ``Updating`` state of an UpdatePrimaryRegion; ``key_manager`` is ``AWS`` for an AWS managed
    key (``aws/s3``...), made by :mod:`kmslab.kms.ops.managed`, else ``CUSTOMER``.
    """

    key_id: str
    region: str
    account: str
    created: datetime
    key_spec: str
    key_usage: str
    origin: str
    description: str
    policy: str
    state: str
    multi_region: bool = False
    primary_region: str | None = None
    replica_regions: list[str] = field(default_factory=list)
    deletion_date: datetime | None = None
    pending_window_days: int | None = None
    rotation_enabled: bool = False
    rotation_period_days: int | None = None
    next_rotation: datetime | None = None
    backing: list[BackingKey] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)
    import_fingerprint: str | None = field(default=None, repr=False)
    updating_until: datetime | None = None
    last_usage: tuple[str, datetime, str, int | str] | None = None
    usage_since: datetime | None = None
    key_manager: str = "CUSTOMER"
    _arn: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # key_id, region and account never change after a key is made: its ARN is computed once.
        self._arn = key_arn(self.region, self.account, self.key_id)

    @property
    def arn(self) -> str:
        """The key ARN."""
        return self._arn

    @property
    def current_entry(self) -> BackingKey | None:
        """The current backing key, with or without its material (None before a first import)."""
        for item in reversed(self.backing):
            if not item.pending:
                return item
        return None

    @property
    def current(self) -> BackingKey | None:
        """The current backing key, or None when the key has no usable material."""
        backing = self.backing
        if backing and not backing[-1].pending:  # the usual case, on every cryptographic call
            last = backing[-1]
            return last if last.material is not None else None
        entry = self.current_entry
        if entry is None or entry.material is None:
            return None
        return entry

    @property
    def all_imported(self) -> bool:
        """Whether every material of the key (pending rotations aside) is present: the key can be Enabled."""
        active = [item for item in self.backing if not item.pending]
        return bool(active) and all(item.material is not None for item in active)

    def backing_by_id(self, material_id: str) -> BackingKey | None:
        """Return the backing key with this ID, if any.

        Args:
            material_id: a KeyMaterialId.

        Returns:
            The backing key or None.
        """
        for item in self.backing:
            if item.material_id == material_id:
                return item
        return None

    @property
    def is_replica(self) -> bool:
        """Whether this is a multi-Region replica key."""
        return self.multi_region and self.primary_region is not None and self.primary_region != self.region


@dataclass
class Alias:
    """An alias in one region.

    Args:
        name: ``alias/...``.
        target_key_id: the key ID it points to.
        created: when it was created.
        updated: when it was last pointed somewhere.
    """

    name: str
    target_key_id: str
    created: datetime
    updated: datetime


def key_to_doc(key: Key, seal: Seal) -> dict[str, Any]:
    """Turn a key into a JSON-ready document, sealing the key material.

    Args:
        key: the key.
        seal: ``(plaintext, aad) -> sealed text`` under the root key.

    Returns:
        The document.
    """
    backing = []
    for item in key.backing:
        aad = f"{key.region}/{key.key_id}/{item.material_id}".encode()
        backing.append(
            {
                "material_id": item.material_id,
                "material": None if item.material is None else seal(item.material, aad),
                "created": _ts(item.created),
                "rotation_type": item.rotation_type,
                "expiration_model": item.expiration_model,
                "valid_to": _ts(item.valid_to),
                "description": item.description,
                "pending": item.pending,
            }
        )
    return {
        "key_id": key.key_id,
        "region": key.region,
        "account": key.account,
        "created": _ts(key.created),
        "key_spec": key.key_spec,
        "key_usage": key.key_usage,
        "origin": key.origin,
        "description": key.description,
        "policy": key.policy,
        "state": key.state,
        "multi_region": key.multi_region,
        "primary_region": key.primary_region,
        "replica_regions": key.replica_regions,
        "deletion_date": _ts(key.deletion_date),
        "pending_window_days": key.pending_window_days,
        "rotation_enabled": key.rotation_enabled,
        "rotation_period_days": key.rotation_period_days,
        "next_rotation": _ts(key.next_rotation),
        "backing": backing,
        "tags": key.tags,
        "grants": key.grants,
        "import_fingerprint": key.import_fingerprint,
        "last_usage": None
        if key.last_usage is None
        else {
            "operation": key.last_usage[0],
            "time": _ts(key.last_usage[1]),
            "request_id": key.last_usage[2],
            "event_id": uuid_text(key.last_usage[3]),
        },
        "usage_since": _ts(key.usage_since),
        "updating_until": _ts(key.updating_until),
        "key_manager": key.key_manager,
    }


def key_from_doc(doc: dict[str, Any], unseal: Unseal) -> Key:
    """Rebuild a key from its document, unsealing the key material.

    Args:
        doc: the document written by :func:`key_to_doc`.
        unseal: ``(sealed text, aad) -> plaintext`` under the root key.

    Returns:
        The key.
    """
    backing = []
    for item in doc["backing"]:
        aad = f"{doc['region']}/{doc['key_id']}/{item['material_id']}".encode()
        backing.append(
            BackingKey(
                material_id=item["material_id"],
                material=None if item["material"] is None else unseal(item["material"], aad),
                created=_dt(item["created"]) or datetime.now(UTC),
                rotation_type=item["rotation_type"],
                expiration_model=item["expiration_model"],
                valid_to=_dt(item["valid_to"]),
                description=item.get("description"),
                pending=bool(item.get("pending", False)),
            )
        )
    return Key(
        key_id=doc["key_id"],
        region=doc["region"],
        account=doc["account"],
        created=_dt(doc["created"]) or datetime.now(UTC),
        key_spec=doc["key_spec"],
        key_usage=doc["key_usage"],
        origin=doc["origin"],
        description=doc["description"],
        policy=doc["policy"],
        state=doc["state"],
        multi_region=doc["multi_region"],
        primary_region=doc["primary_region"],
        replica_regions=list(doc["replica_regions"]),
        deletion_date=_dt(doc["deletion_date"]),
        pending_window_days=doc["pending_window_days"],
        rotation_enabled=doc["rotation_enabled"],
        rotation_period_days=doc["rotation_period_days"],
        next_rotation=_dt(doc["next_rotation"]),
        backing=backing,
        tags=dict(doc["tags"]),
        grants=dict(doc["grants"]),
        import_fingerprint=doc["import_fingerprint"],
        updating_until=_dt(doc.get("updating_until")),
        last_usage=_usage_from_doc(doc.get("last_usage")),
        # A key stored before usage tracking existed is tracked from the time it is loaded.
        usage_since=_dt(doc.get("usage_since")) or datetime.now(UTC),
        key_manager=str(doc.get("key_manager") or "CUSTOMER"),
    )


def _usage_from_doc(doc: dict[str, Any] | None) -> tuple[str, datetime, str, int | str] | None:
    if not doc:
        return None
    when = _dt(doc["time"])
    assert when is not None
    return str(doc["operation"]), when, str(doc["request_id"]), str(doc.get("event_id") or "")


def alias_to_doc(alias: Alias) -> dict[str, Any]:
    """Turn an alias into a JSON-ready document.

    Args:
        alias: the alias.

    Returns:
        The document.
    """
    return {
        "name": alias.name,
        "target_key_id": alias.target_key_id,
        "created": alias.created.timestamp(),
        "updated": alias.updated.timestamp(),
    }


def alias_from_doc(doc: dict[str, Any]) -> Alias:
    """Rebuild an alias from its document.

    Args:
        doc: the document.

    Returns:
        The alias.
    """
    return Alias(
        name=doc["name"],
        target_key_id=doc["target_key_id"],
        created=datetime.fromtimestamp(doc["created"], UTC),
        updated=datetime.fromtimestamp(doc["updated"], UTC),
    )
