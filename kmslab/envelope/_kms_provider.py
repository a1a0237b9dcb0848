"""The AWS KMS key provider: data keys wrapped by one or more KMS keys through a boto3 client.

Re-exported by :mod:`kmslab.envelope.providers`, which is where to import it from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kmslab.envelope._format import EncryptedDataKey
from kmslab.envelope._suites import DATA_KEY_LEN
from kmslab.envelope.errors import KeyProviderError

KMS_PROVIDER_ID = "aws-kms"


@dataclass(frozen=True)
class KmsArn:
    """The parts of a KMS key ARN we route by."""

    partition: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> KmsArn | None:
        """Parse ``arn:<partition>:kms:<region>:<account>:key/<id>``; None when ``text`` is not a key ARN."""
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kms" or not parts[5].startswith("key/"):
            return None
        return cls(parts[1], parts[3], parts[4], parts[5])

    @property
    def is_mrk(self) -> bool:
        """Whether this is a multi-Region key (its ID starts with ``mrk-``)."""
        return self.resource.startswith("key/mrk-")


class KmsKeyProvider:
    """Wraps data keys with one or more AWS KMS keys.

    Encrypt: ``GenerateDataKey`` under the first key, then ``Encrypt`` of the same data key under each other
    key, all with the message's encryption context. Decrypt: each EDK whose provider ID is ``aws-kms`` and
    whose ARN matches a configured key (exactly, or as a replica of the same multi-Region key) is passed to
    ``Decrypt`` with ``KeyId`` = the ARN and the message's context, on the client for the ARN's Region.

    Args:
        client_or_clients: a boto3 KMS client, a sequence of them (one per Region), or a mapping Region -> client.
        key_ids: the KMS keys; ARNs are needed to decrypt (a bare key ID or alias works for encrypt only).

    Raises:
        KeyProviderError: no keys or no clients.
    """

    def __init__(self, client_or_clients: Any, key_ids: Sequence[str]) -> None:
        if isinstance(key_ids, str) or not key_ids:
            raise KeyProviderError("KmsKeyProvider needs a non-empty list of key IDs")
        self.key_ids: tuple[str, ...] = tuple(key_ids)
        self._clients: dict[str | None, Any] = {}
        if isinstance(client_or_clients, Mapping):
            self._clients.update(client_or_clients)
        elif isinstance(client_or_clients, list | tuple):
            for client in client_or_clients:
                self._clients[_client_region(client)] = client
        else:
            self._clients[_client_region(client_or_clients)] = client_or_clients
        if not self._clients:
            raise KeyProviderError("KmsKeyProvider needs at least one KMS client")
        self._default = next(iter(self._clients.values()))

    def __repr__(self) -> str:
        return f"KmsKeyProvider(key_ids={list(self.key_ids)!r}, regions={sorted(map(str, self._clients))!r})"

    @property
    def cache_id(self) -> str:
        """``aws-kms:<key ids>``."""
        return "aws-kms:" + ",".join(self.key_ids)

    def _client_for(self, key_id: str) -> Any:
        arn = KmsArn.parse(key_id)
        if arn is not None and arn.region in self._clients:
            return self._clients[arn.region]
        if len(self._clients) == 1:
            return self._default
        raise KeyProviderError(f"no KMS client for the Region of {key_id}")

    def generate_data_key(self, encryption_context: Mapping[str, str]) -> tuple[bytes, tuple[EncryptedDataKey, ...]]:
        """Generate a data key under the first key and encrypt it under the others.

        Args:
            encryption_context: the message's full context.

        Returns:
            ``(data_key, edks)`` with one EDK per configured key.

        Raises:
            KeyProviderError: a KMS call failed.
        """
        context = dict(encryption_context)
        first = self.key_ids[0]
        resp = _call(
            self._client_for(first),
            "generate_data_key",
            first,
            KeyId=first,
            NumberOfBytes=DATA_KEY_LEN,
            EncryptionContext=context,
        )
        data_key = bytes(resp["Plaintext"])
        if len(data_key) != DATA_KEY_LEN:
            raise KeyProviderError("KMS GenerateDataKey returned a data key of the wrong length")
        edks = [EncryptedDataKey(KMS_PROVIDER_ID, str(resp["KeyId"]).encode(), bytes(resp["CiphertextBlob"]))]
        for key_id in self.key_ids[1:]:
            resp = _call(
                self._client_for(key_id),
                "encrypt",
                key_id,
                KeyId=key_id,
                Plaintext=data_key,
                EncryptionContext=context,
            )
            edks.append(EncryptedDataKey(KMS_PROVIDER_ID, str(resp["KeyId"]).encode(), bytes(resp["CiphertextBlob"])))
        return data_key, tuple(edks)

    def _route(self, edk_arn: str) -> tuple[Any, str] | None:
        """Return (client, KeyId) to decrypt an EDK wrapped by ``edk_arn``, or None when no configured key matches."""
        target = KmsArn.parse(edk_arn)
        if target is None:
            return None
        for key_id in self.key_ids:
            if key_id == edk_arn:
                return self._client_for(edk_arn), edk_arn
        if not target.is_mrk:
            return None
        for key_id in self.key_ids:
            mine = KmsArn.parse(key_id)
            if mine is None or (mine.partition, mine.account, mine.resource) != (
                target.partition,
                target.account,
                target.resource,
            ):
                continue
            if target.region in self._clients:
                return self._clients[target.region], edk_arn
            if mine.region in self._clients:
                return self._clients[mine.region], key_id
        return None

    def decrypt_data_key(
        self, encrypted_data_keys: Sequence[EncryptedDataKey], encryption_context: Mapping[str, str]
    ) -> bytes:
        """Decrypt the first matching ``aws-kms`` EDK.

        Args:
            encrypted_data_keys: the message's EDKs.
            encryption_context: the message's context (passed to KMS Decrypt).

        Returns:
            The data key.

        Raises:
            KeyProviderError: no EDK matches a configured key, or KMS refused every matching one.
        """
        errors: list[str] = []
        context = dict(encryption_context)
        for edk in encrypted_data_keys:
            if edk.provider_id != KMS_PROVIDER_ID:
                continue
            try:
                arn = edk.key_info.decode("utf-8")
            except UnicodeDecodeError:
                continue
            route = self._route(arn)
            if route is None:
                continue
            client, key_id = route
            try:
                resp = _call(
                    client, "decrypt", key_id, CiphertextBlob=edk.ciphertext, KeyId=key_id, EncryptionContext=context
                )
            except KeyProviderError as exc:
                errors.append(str(exc))
                continue
            if resp.get("KeyId") != key_id:
                errors.append(f"KMS Decrypt answered for {resp.get('KeyId')!r}, not {key_id!r}")
                continue
            data_key = bytes(resp["Plaintext"])
            if len(data_key) != DATA_KEY_LEN:
                errors.append("KMS Decrypt returned a data key of the wrong length")
                continue
            return data_key
        if errors:
            raise KeyProviderError("could not decrypt the data key with KMS: " + "; ".join(errors))
        raise KeyProviderError(
            "the message has no data key encrypted under a configured KMS key ("
            + ", ".join(self.key_ids)
            + "); message keys: "
            + ", ".join(
                e.key_info.decode("utf-8", "replace") for e in encrypted_data_keys if e.provider_id == "aws-kms"
            )
        )


def _client_region(client: Any) -> str | None:
    meta = getattr(client, "meta", None)
    region = getattr(meta, "region_name", None)
    return region if isinstance(region, str) else None


def _call(client: Any, operation: str, key_id: str, **kwargs: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = getattr(client, operation)(**kwargs)
    except Exception as exc:  # noqa: BLE001 - any client failure (ClientError, endpoint down) becomes one error
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
        detail = f"{code}: {exc}" if code else f"{type(exc).__name__}: {exc}"
        raise KeyProviderError(f"KMS {operation} with {key_id} failed ({' '.join(detail.split())})") from exc
    return result
