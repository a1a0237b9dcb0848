"""Secrets Manager behind the gateway, with every secret version envelope-encrypted by the local KMS.

Each version gets a data key from KMS ``GenerateDataKey`` called as the requester via Secrets
Manager (``kms:ViaService`` = ``secretsmanager.<region>.amazonaws.com``) under the secret's key
(``KmsKeyId``, else the AWS managed key ``aws/secretsmanager``), with the encryption context
``SecretARN`` and ``SecretVersionId``; the value is sealed with AES-256-GCM and only the encrypted
data key and the ciphertext are stored. ``GetSecretValue`` calls KMS ``Decrypt`` as the requester:
a disabled key or a key pending deletion fails with ``DecryptionFailure``, a requester without
``kms:Decrypt`` with ``AccessDeniedException``, as on AWS.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Call
from kmslab.cloud.services._jsonsvc import Handler, StoredKeyService, require_str
from kmslab.kms import KmsError

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
NOT_FOUND = "Secrets Manager can't find the specified secret."


def _decrypt_error(exc: KmsError) -> CloudError:
    if exc.code == "AccessDeniedException":
        return CloudError("AccessDeniedException", f"Access to KMS is not allowed. {exc.message}")
    return CloudError(
        "DecryptionFailure",
        f"Secrets Manager can't decrypt the protected secret text using the provided KMS key. ({exc.code}: "
        f"{exc.message})",
    )


def _encrypt_error(exc: KmsError) -> CloudError:
    if exc.code == "AccessDeniedException":
        return CloudError("AccessDeniedException", f"Access to KMS is not allowed. {exc.message}")
    return CloudError(
        "EncryptionFailure", f"Secrets Manager can't encrypt the secret with the KMS key. ({exc.code}: {exc.message})"
    )


class SecretsService(StoredKeyService):
    """Secrets Manager: Create, Get/Put value, Update, Describe, List and Delete secrets.

    Args:
        store: where secrets persist.
        managed: the AWS managed keys.
        kms: the local KMS engine.
        identities: the callers' IAM policies.
        account: the account.
    """

    target_prefix = "secretsmanager."
    service_principal = "secretsmanager.amazonaws.com"
    action_prefix = "secretsmanager"

    def handlers(self) -> dict[str, Handler]:
        """The operations this service serves.

        Returns:
            Operation name -> handler.
        """
        return {
            "CreateSecret": self._create,
            "GetSecretValue": self._get_value,
            "PutSecretValue": self._put_value,
            "UpdateSecret": self._update,
            "DescribeSecret": self._describe,
            "ListSecrets": self._list,
            "DeleteSecret": self._delete,
        }

    # -- helpers ---------------------------------------------------------------------------------

    def _lookup(self, secret_id: str, region: str) -> tuple[str, dict[str, Any]]:
        for name, doc in self.store.items("secret", f"{region}|"):
            if secret_id in (doc["name"], doc["arn"]) or doc["arn"].startswith(f"{secret_id}-"):
                return name, doc
        raise CloudError("ResourceNotFoundException", NOT_FOUND)

    def _seal(self, doc: dict[str, Any], params: dict[str, Any], version_id: str, call: Call) -> dict[str, Any]:
        if "SecretString" in params:
            kind, raw = "string", str(params["SecretString"]).encode()
        elif "SecretBinary" in params:
            kind, raw = "binary", base64.b64decode(str(params["SecretBinary"]))
        else:
            raise CloudError("InvalidRequestException", "You must provide either SecretString or SecretBinary.")
        if len(raw) > 65536:
            raise CloudError("ValidationException", "The secret value is larger than 65536 bytes.")
        key = self.managed.resolve(doc.get("kms_key_id"), "secretsmanager", call.region)
        context = {"SecretARN": doc["arn"], "SecretVersionId": version_id}
        data_key = self.kms_call(
            "GenerateDataKey",
            {"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": context},
            call.caller,
            call.region,
            _encrypt_error,
        )
        nonce = os.urandom(12)
        sealed = AESGCM(base64.b64decode(data_key["Plaintext"])).encrypt(
            nonce, raw, f"{doc['arn']}|{version_id}".encode()
        )
        return {
            "kind": kind,
            "edk": data_key["CiphertextBlob"],
            "sealed": base64.b64encode(nonce + sealed).decode(),
            "created": time.time(),
            "stages": ["AWSCURRENT"],
        }

    def _add_version(self, doc: dict[str, Any], params: dict[str, Any], call: Call) -> str:
        version_id = str(params.get("ClientRequestToken") or uuid.uuid4())
        version = self._seal(doc, params, version_id, call)
        for old in doc["versions"].values():
            if "AWSCURRENT" in old["stages"]:
                old["stages"] = ["AWSPREVIOUS"]
            elif "AWSPREVIOUS" in old["stages"]:
                old["stages"] = [s for s in old["stages"] if s != "AWSPREVIOUS"]
        doc["versions"][version_id] = version
        doc["changed"] = time.time()
        return version_id

    # -- operations ------------------------------------------------------------------------------

    def _create(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        name = require_str(params, "Name", max_len=512)
        suffix = "".join(_ALPHABET[b % len(_ALPHABET)] for b in os.urandom(6))
        arn = f"arn:aws:secretsmanager:{call.region}:{self.account}:secret:{name}-{suffix}"
        self.authorize(call.caller, "CreateSecret", arn, call.region)
        key = f"{call.region}|{name}"
        with self.store.lock:
            if self.store.get("secret", key) is not None:
                raise CloudError(
                    "ResourceExistsException", f"The operation failed because the secret {name} already exists."
                )
            doc: dict[str, Any] = {
                "name": name,
                "arn": arn,
                "kms_key_id": params.get("KmsKeyId"),
                "description": params.get("Description", ""),
                "created": time.time(),
                "changed": time.time(),
                "versions": {},
                "deleted": None,
            }
            version_id = None
            if "SecretString" in params or "SecretBinary" in params:
                version_id = self._add_version(doc, params, call)
            self.store.put("secret", key, doc)
        out = {"ARN": arn, "Name": name}
        if version_id:
            out["VersionId"] = version_id
        return out

    def _get_value(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        key, doc = self._lookup(require_str(params, "SecretId"), call.region)
        self.authorize(call.caller, "GetSecretValue", doc["arn"], call.region)
        if doc.get("deleted"):
            raise CloudError(
                "InvalidRequestException",
                "You can't perform this operation on the secret because it was marked for deletion.",
            )
        wanted_id, stage = params.get("VersionId"), params.get("VersionStage") or "AWSCURRENT"
        chosen = None
        for version_id, version in doc["versions"].items():
            if (wanted_id and version_id == wanted_id) or (not wanted_id and stage in version["stages"]):
                chosen = (version_id, version)
        if chosen is None:
            raise CloudError(
                "ResourceNotFoundException",
                "Secrets Manager can't find the specified secret value for staging label: " + stage,
            )
        version_id, version = chosen
        context = {"SecretARN": doc["arn"], "SecretVersionId": version_id}
        plain = self.kms_call(
            "Decrypt",
            {"CiphertextBlob": version["edk"], "EncryptionContext": context},
            call.caller,
            call.region,
            _decrypt_error,
        )
        raw = base64.b64decode(version["sealed"])
        value = AESGCM(base64.b64decode(plain["Plaintext"])).decrypt(
            raw[:12], raw[12:], f"{doc['arn']}|{version_id}".encode()
        )
        out: dict[str, Any] = {
            "ARN": doc["arn"],
            "Name": doc["name"],
            "VersionId": version_id,
            "VersionStages": version["stages"],
            "CreatedDate": version["created"],
        }
        if version["kind"] == "string":
            out["SecretString"] = value.decode()
        else:
            out["SecretBinary"] = base64.b64encode(value).decode()
        return out

    def _put_value(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        key, doc = self._lookup(require_str(params, "SecretId"), call.region)
        self.authorize(call.caller, "PutSecretValue", doc["arn"], call.region)
        with self.store.lock:
            version_id = self._add_version(doc, params, call)
            self.store.put("secret", key, doc)
        return {"ARN": doc["arn"], "Name": doc["name"], "VersionId": version_id, "VersionStages": ["AWSCURRENT"]}

    def _update(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        key, doc = self._lookup(require_str(params, "SecretId"), call.region)
        self.authorize(call.caller, "UpdateSecret", doc["arn"], call.region)
        with self.store.lock:
            if "KmsKeyId" in params:
                doc["kms_key_id"] = params["KmsKeyId"]
            if "Description" in params:
                doc["description"] = params["Description"]
            out = {"ARN": doc["arn"], "Name": doc["name"]}
            if "SecretString" in params or "SecretBinary" in params:
                out["VersionId"] = self._add_version(doc, params, call)
            self.store.put("secret", key, doc)
        return out

    def _description(self, doc: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ARN": doc["arn"],
            "Name": doc["name"],
            "Description": doc.get("description", ""),
            "CreatedDate": doc["created"],
            "LastChangedDate": doc["changed"],
            "VersionIdsToStages": {vid: v["stages"] for vid, v in doc["versions"].items() if v["stages"]},
        }
        if doc.get("kms_key_id"):
            out["KmsKeyId"] = doc["kms_key_id"]
        if doc.get("deleted"):
            out["DeletedDate"] = doc["deleted"]
        return out

    def _describe(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        _, doc = self._lookup(require_str(params, "SecretId"), call.region)
        self.authorize(call.caller, "DescribeSecret", doc["arn"], call.region)
        return self._description(doc)

    def _list(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        self.authorize(call.caller, "ListSecrets", "*", call.region)
        return {
            "SecretList": [
                self._description(doc)
                for _, doc in self.store.items("secret", f"{call.region}|")
                if not doc.get("deleted")
            ]
        }

    def _delete(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        key, doc = self._lookup(require_str(params, "SecretId"), call.region)
        self.authorize(call.caller, "DeleteSecret", doc["arn"], call.region)
        window = int(params.get("RecoveryWindowInDays") or 30)
        force = bool(params.get("ForceDeleteWithoutRecovery"))
        if force and params.get("RecoveryWindowInDays"):
            raise CloudError(
                "InvalidParameterException",
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
            )
        if not force and not 7 <= window <= 30:
            raise CloudError(
                "InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
            )
        when = time.time() + (0 if force else window * 86400)
        with self.store.lock:
            if force:
                self.store.delete("secret", key)
            else:
                doc["deleted"] = time.time()
                self.store.put("secret", key, doc)
        return {"ARN": doc["arn"], "Name": doc["name"], "DeletionDate": when}
