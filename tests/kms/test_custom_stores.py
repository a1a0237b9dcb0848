"""Custom key stores are not emulated: each of the six operations says so, AWS-shaped, after the permission check."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.kms import LocalKms
from kmslab.kms.errors import AccessDeniedException
from kmslab.kms.seams import AuthorizationRequest, Caller
from tests.kms.helpers import covers, error_of

CALLS = {
    "CreateCustomKeyStore": lambda k: k.create_custom_key_store(
        CustomKeyStoreName="hsm", CloudHsmClusterId="cluster-234567abcdef"
    ),
    "ConnectCustomKeyStore": lambda k: k.connect_custom_key_store(CustomKeyStoreId="cks-1234567890abcdef0"),
    "DeleteCustomKeyStore": lambda k: k.delete_custom_key_store(CustomKeyStoreId="cks-1234567890abcdef0"),
    "DescribeCustomKeyStores": lambda k: k.describe_custom_key_stores(),
    "DisconnectCustomKeyStore": lambda k: k.disconnect_custom_key_store(CustomKeyStoreId="cks-1234567890abcdef0"),
    "UpdateCustomKeyStore": lambda k: k.update_custom_key_store(
        CustomKeyStoreId="cks-1234567890abcdef0", NewCustomKeyStoreName="other"
    ),
}


@covers(*CALLS, aspect="errors")
@pytest.mark.parametrize("operation", sorted(CALLS))
def test_custom_key_store_operations_name_what_is_not_emulated(kms: Any, operation: str) -> None:
    with pytest.raises(ClientError) as exc:
        CALLS[operation](kms)
    code, message = error_of(exc)
    assert code == "UnsupportedOperationException"
    assert message.startswith(f"{operation}: ") and "CloudHSM" in message and "not emulated" in message
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


class _DenyAll:
    def authorize(self, request: AuthorizationRequest) -> None:
        raise AccessDeniedException(f"not authorized to perform {request.action}")


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_permission_is_checked_first(kms_engine: LocalKms, operation: str) -> None:
    kms_engine.authorizer = _DenyAll()
    caller = Caller.root(kms_engine.account)
    params = {"CustomKeyStoreId": "cks-1234567890abcdef0", "CustomKeyStoreName": "hsm"}
    with pytest.raises(AccessDeniedException) as exc:
        kms_engine.call(operation, params if operation != "DescribeCustomKeyStores" else {}, caller=caller)
    assert f"kms:{operation}" in exc.value.message
