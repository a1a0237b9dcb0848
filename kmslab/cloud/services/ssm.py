"""SSM Parameter Store behind the gateway, with SecureString parameters encrypted by the local KMS.

A SecureString value is encrypted with KMS ``Encrypt`` called as the requester via SSM (so
``kms:ViaService`` is ``ssm.<region>.amazonaws.com``) under the parameter's key (``KeyId``, else the
AWS managed key ``aws/ssm``), with the encryption context ``PARAMETER_ARN`` = the parameter's ARN.
``GetParameter`` returns the ciphertext (base64) unless ``WithDecryption`` is true; then it calls
KMS ``Decrypt`` as the requester, so a disabled key, a key pending deletion or a requester without
``kms:Decrypt`` makes it fail, with Parameter Store's ``InvalidKeyId`` (or ``AccessDeniedException``)
carrying KMS's reason. Parameters persist in the data directory; only ciphertext is stored for
SecureString values.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Call
from kmslab.cloud.services._jsonsvc import Handler, StoredKeyService, require_str
from kmslab.cloud.services._ssm_filters import parse_filters
from kmslab.kms import KmsError

TYPES = ("String", "StringList", "SecureString")
MAX_VALUE = 4096


def _tags(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list) or not all(
        isinstance(t, dict) and isinstance(t.get("Key"), str) and isinstance(t.get("Value"), str) for t in raw
    ):
        raise CloudError("ValidationException", "Tags must be a list of Key and Value strings")
    return {t["Key"]: t["Value"] for t in raw}


def _kms_error(exc: KmsError) -> CloudError:
    if exc.code == "AccessDeniedException":
        return CloudError("AccessDeniedException", exc.message)
    return CloudError("InvalidKeyId", f"{exc.message} (Service: AWSKMS; Error Code: {exc.code})")


class SsmService(StoredKeyService):
    """Parameter Store: PutParameter, GetParameter(s), GetParametersByPath, DeleteParameter(s), DescribeParameters.

    Args:
        store: where parameters persist.
        managed: the AWS managed keys.
        kms: the local KMS engine.
        identities: the callers' IAM policies.
        account: the account.
    """

    target_prefix = "AmazonSSM."
    service_principal = "ssm.amazonaws.com"
    action_prefix = "ssm"

    def handlers(self) -> dict[str, Handler]:
        """The operations this service serves.

        Returns:
            Operation name -> handler.
        """
        return {
            "PutParameter": self._put,
            "GetParameter": self._get_one,
            "GetParameters": self._get_many,
            "GetParametersByPath": self._by_path,
            "DeleteParameter": self._delete_one,
            "DeleteParameters": self._delete_many,
            "DescribeParameters": self._describe,
        }

    def _arn(self, name: str, region: str) -> str:
        return f"arn:aws:ssm:{region}:{self.account}:parameter/{name.lstrip('/')}"

    def _key(self, name: str, region: str) -> str:
        return f"{region}|{name}"

    def _put(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        name = require_str(params, "Name")
        value = require_str(params, "Value", max_len=MAX_VALUE)
        arn = self._arn(name, call.region)
        self.authorize(call.caller, "PutParameter", arn, call.region)
        existing = self.store.get("parameter", self._key(name, call.region))
        kind = params.get("Type") or (existing or {}).get("type")
        if kind not in TYPES:
            raise CloudError("ValidationException", "A parameter type is required when you create a parameter.")
        if existing is not None and not params.get("Overwrite"):
            raise CloudError(
                "ParameterAlreadyExists",
                "The parameter already exists. To overwrite this value, set the overwrite option in the "
                "request to true.",
            )
        tags = _tags(params.get("Tags"))
        if tags and params.get("Overwrite"):
            raise CloudError("ValidationException", "Invalid request: tags and overwrite can't be used together.")
        key_id = params.get("KeyId")
        if key_id and kind != "SecureString":
            raise CloudError("ValidationException", "KeyId is required for SecureString type parameter only.")
        doc: dict[str, Any] = {
            "name": name,
            "type": kind,
            "version": (existing or {}).get("version", 0) + 1,
            "modified": time.time(),
            "description": params.get("Description", (existing or {}).get("description", "")),
            "tags": tags or (existing or {}).get("tags", {}),
        }
        if kind == "SecureString":
            wanted = self.managed.resolve(key_id, "ssm", call.region)
            encrypted = self.kms_call(
                "Encrypt",
                {
                    "KeyId": wanted,
                    "Plaintext": base64.b64encode(value.encode()).decode(),
                    "EncryptionContext": {"PARAMETER_ARN": arn},
                },
                call.caller,
                call.region,
                _kms_error,
            )
            doc.update({"value": encrypted["CiphertextBlob"], "key_id": key_id or "alias/aws/ssm"})
        else:
            doc["value"] = value
        self.store.put("parameter", self._key(name, call.region), doc)
        return {"Version": doc["version"], "Tier": "Standard"}

    def _view(self, doc: dict[str, Any], call: Call, decrypt: bool) -> dict[str, Any]:
        arn = self._arn(doc["name"], call.region)
        value = doc["value"]
        if doc["type"] == "SecureString" and decrypt:
            plain = self.kms_call(
                "Decrypt",
                {"CiphertextBlob": value, "EncryptionContext": {"PARAMETER_ARN": arn}},
                call.caller,
                call.region,
                _kms_error,
            )
            value = base64.b64decode(plain["Plaintext"]).decode()
        return {
            "Name": doc["name"],
            "Type": doc["type"],
            "Value": value,
            "Version": doc["version"],
            "LastModifiedDate": doc["modified"],
            "ARN": arn,
            "DataType": "text",
        }

    def _find(self, name: str, call: Call, operation: str) -> dict[str, Any] | None:
        self.authorize(call.caller, operation, self._arn(name, call.region), call.region)
        return self.store.get("parameter", self._key(name, call.region))

    def _get_one(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        name = require_str(params, "Name")
        doc = self._find(name, call, "GetParameter")
        if doc is None:
            raise CloudError("ParameterNotFound", f"Parameter {name} not found.")
        return {"Parameter": self._view(doc, call, bool(params.get("WithDecryption")))}

    def _get_many(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        names = params.get("Names")
        if not isinstance(names, list) or not names or len(names) > 10:
            raise CloudError("ValidationException", "Names must hold 1 to 10 parameter names.")
        found, missing = [], []
        for name in names:
            doc = self._find(str(name), call, "GetParameters")
            if doc is None:
                missing.append(name)
            else:
                found.append(self._view(doc, call, bool(params.get("WithDecryption"))))
        return {"Parameters": found, "InvalidParameters": missing}

    def _by_path(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        path = require_str(params, "Path")
        self.authorize(call.caller, "GetParametersByPath", self._arn(path, call.region), call.region)
        base = path if path.endswith("/") else path + "/"
        out = []
        for _, doc in self.store.items("parameter", f"{call.region}|{base}"):
            rest = doc["name"][len(base) :]
            if params.get("Recursive") or "/" not in rest:
                out.append(self._view(doc, call, bool(params.get("WithDecryption"))))
        return {"Parameters": out}

    def _delete_one(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        name = require_str(params, "Name")
        if self._find(name, call, "DeleteParameter") is None:
            raise CloudError("ParameterNotFound", f"Parameter {name} not found.")
        self.store.delete("parameter", self._key(name, call.region))
        return {}

    def _delete_many(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        deleted, invalid = [], []
        for name in params.get("Names") or []:
            if self._find(str(name), call, "DeleteParameters") is None:
                invalid.append(name)
            else:
                self.store.delete("parameter", self._key(str(name), call.region))
                deleted.append(name)
        return {"DeletedParameters": deleted, "InvalidParameters": invalid}

    def _describe(self, params: dict[str, Any], call: Call) -> dict[str, Any]:
        self.authorize(call.caller, "DescribeParameters", "*", call.region)
        filters = parse_filters(params)
        size = params.get("MaxResults", 50)
        if not isinstance(size, int) or not 1 <= size <= 50:
            raise CloudError("ValidationException", "MaxResults must be between 1 and 50")
        token = params.get("NextToken")
        if token is not None and not (isinstance(token, str) and token.isdigit()):
            raise CloudError("InvalidNextToken", "The specified token is not valid.")
        start = int(token) if token is not None else 0
        out = []
        docs = sorted(self.store.items("parameter", f"{call.region}|"), key=lambda pair: pair[1]["name"])
        for _, doc in docs:
            item = {
                "Name": doc["name"],
                "Type": doc["type"],
                "Version": doc["version"],
                "LastModifiedDate": doc["modified"],
                "Tier": "Standard",
                "DataType": "text",
            }
            if doc.get("key_id"):
                item["KeyId"] = doc["key_id"]
            if all(f.passes(item, doc.get("tags", {})) for f in filters):
                out.append(item)
        page = out[start : start + size]
        more = start + size < len(out)
        return {"Parameters": page, **({"NextToken": str(start + size)} if more else {})}
