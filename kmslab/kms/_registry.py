"""The KMS state of one endpoint: keys, aliases and their index, the next deadline, the token subkeys.

:class:`Registry` holds what the operations read and change, behind public methods, and
nothing else: it does not authorize, commit or emit. Operations reach it through their
:class:`~kmslab.kms._context.RequestContext`; the engine loads it from the store at start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from kmslab.kms._records import Alias, Key, alias_from_doc, key_from_doc

KeyRef = tuple[str, str]  # (region, key ID)


class Registry:
    """Keys and aliases by region, the alias index, and the earliest time-based event.

    Args:
        grant_token_key: the subkey that signs grant tokens.
        import_token_key: the subkey that protects import tokens and material fingerprints.
    """

    def __init__(self, *, grant_token_key: bytes, import_token_key: bytes) -> None:
        self.grant_token_key = grant_token_key
        self.import_token_key = import_token_key
        self._keys: dict[KeyRef, Key] = {}
        self._aliases: dict[tuple[str, str], Alias] = {}
        self._alias_index: dict[KeyRef, set[str]] = {}
        self._next_deadline: datetime | None = None

    def __repr__(self) -> str:
        return f"Registry(keys={len(self._keys)}, aliases={len(self._aliases)})"

    def __len__(self) -> int:
        return len(self._keys)

    def load(
        self,
        key_docs: Iterable[dict[str, Any]],
        alias_docs: Iterable[tuple[str, dict[str, Any]]],
        unseal: Callable[[str, bytes], bytes],
    ) -> None:
        """Fill the registry from stored documents.

        Args:
            key_docs: key documents.
            alias_docs: (region, alias document) pairs.
            unseal: opens sealed key material.
        """
        for doc in key_docs:
            self.add_key(key_from_doc(doc, unseal))
        for region, doc in alias_docs:
            self.put_alias(region, alias_from_doc(doc))

    # -- keys -------------------------------------------------------------------------------

    def key(self, region: str, key_id: str) -> Key | None:
        """Return a key, or None.

        Args:
            region: the key's region.
            key_id: the key ID.

        Returns:
            The key, or None when there is none.
        """
        return self._keys.get((region, key_id))

    def has_key(self, region: str, key_id: str) -> bool:
        """Whether a key exists.

        Args:
            region: the key's region.
            key_id: the key ID.

        Returns:
            True when it does.
        """
        return (region, key_id) in self._keys

    def keys_in(self, region: str) -> list[Key]:
        """Return the keys of a region, in creation order.

        Args:
            region: the region.

        Returns:
            The keys.
        """
        return [key for (where, _), key in list(self._keys.items()) if where == region]

    def all_keys(self) -> list[Key]:
        """Return every key of every region (a copy: safe to change the registry while iterating).

        Returns:
            The keys.
        """
        return list(self._keys.values())

    def add_key(self, key: Key) -> None:
        """Add (or replace) a key and note its deadlines.

        Args:
            key: the key.
        """
        self._keys[(key.region, key.key_id)] = key
        self.note_deadlines(key)

    def delete_key(self, key: Key) -> list[str]:
        """Remove a key with every alias that points to it.

        Args:
            key: the key.

        Returns:
            The names of the aliases removed with it.
        """
        self._keys.pop((key.region, key.key_id), None)
        names = sorted(self._alias_index.pop((key.region, key.key_id), set()))
        for name in names:
            self._aliases.pop((key.region, name), None)
        return names

    # -- aliases ----------------------------------------------------------------------------

    def alias(self, region: str, name: str) -> Alias | None:
        """Return an alias, or None.

        Args:
            region: the alias's region.
            name: the alias name (``alias/...``).

        Returns:
            The alias, or None when there is none.
        """
        return self._aliases.get((region, name))

    def aliases_in(self, region: str) -> list[Alias]:
        """Return the aliases of a region.

        Args:
            region: the region.

        Returns:
            The aliases.
        """
        return [alias for (where, _), alias in list(self._aliases.items()) if where == region]

    def aliases_of(self, key: Key) -> list[str]:
        """Return the names of the aliases that point to a key.

        Args:
            key: the key.

        Returns:
            Alias names, sorted.
        """
        return sorted(self._alias_index.get((key.region, key.key_id), ()))

    def put_alias(self, region: str, alias: Alias) -> None:
        """Add an alias, or point an existing one elsewhere.

        Args:
            region: the alias's region.
            alias: the alias.
        """
        old = self._aliases.get((region, alias.name))
        if old is not None:
            self._alias_index.get((region, old.target_key_id), set()).discard(alias.name)
        self._aliases[(region, alias.name)] = alias
        self._alias_index.setdefault((region, alias.target_key_id), set()).add(alias.name)

    def drop_alias(self, region: str, name: str) -> None:
        """Remove an alias (no error if there is none).

        Args:
            region: the alias's region.
            name: the alias name.
        """
        old = self._aliases.pop((region, name), None)
        if old is not None:
            self._alias_index.get((region, old.target_key_id), set()).discard(name)

    # -- deadlines --------------------------------------------------------------------------

    def note_deadlines(self, key: Key) -> None:
        """Remember the earliest time-based event of a key (deletion, rotation, end of Updating, expiry).

        Args:
            key: a new or changed key.
        """
        rotating = key.rotation_enabled and key.state == "Enabled"
        candidates = [key.deletion_date, key.next_rotation if rotating else None, key.updating_until]
        candidates += [b.valid_to for b in key.backing if b.material is not None and b.valid_to is not None]
        for when in candidates:
            if when is not None and (self._next_deadline is None or when < self._next_deadline):
                self._next_deadline = when

    def due(self, now: datetime) -> bool:
        """Whether a time-based event is due.

        Args:
            now: the engine clock's time.

        Returns:
            True when the sweep has work.
        """
        return self._next_deadline is not None and now >= self._next_deadline

    def recompute_deadlines(self) -> None:
        """Forget the noted deadline and note every key's again (after a sweep)."""
        self._next_deadline = None
        for key in self._keys.values():
            self.note_deadlines(key)
