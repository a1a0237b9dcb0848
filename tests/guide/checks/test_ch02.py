"""``kmslab check 2``: one key of each kind, the symmetric key enabled again, the data key's policy intact."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.guide.checks.conftest import run_chapter
from tests.integration.conftest import Kit


def _key(kit: Kit, alias: str, **spec: str) -> str:
    kms = kit.client("kms")
    arn = str(kms.create_key(Description=f"test {alias}", **spec)["KeyMetadata"]["Arn"])
    kms.create_alias(AliasName=alias, TargetKeyId=arn)
    return arn


def test_the_chapter_step_by_step(kit: Kit, profiles: Callable[..., None]) -> None:
    before = run_chapter(2)
    assert [f.ok for f in before] == [False, False, False, False, True]
    assert "step 2.2" in before[0].hint and "step 2.4" in before[1].hint and "step 2.5" in before[2].hint

    sym = _key(kit, "alias/workshop/symmetric")
    _key(kit, "alias/workshop/signing", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    _key(kit, "alias/workshop/hmac", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    assert all(f.ok for f in run_chapter(2))

    kit.client("kms").disable_key(KeyId=sym)
    disabled = run_chapter(2)
    assert [f.ok for f in disabled] == [True, True, True, False, True]
    assert "it is Disabled" in disabled[3].hint and "enable-key" in disabled[3].hint
    kit.client("kms").enable_key(KeyId=sym)
    assert all(f.ok for f in run_chapter(2))


def test_an_alias_on_the_wrong_kind_of_key_is_missing(kit: Kit, profiles: Callable[..., None]) -> None:
    kms = kit.client("kms")
    signing = kms.describe_key(KeyId="alias/workshop/signing")["KeyMetadata"]["KeyId"]
    wrong = kms.create_key(Description="a symmetric key")["KeyMetadata"]["KeyId"]
    # UpdateAlias refuses a key of another type, as in AWS: move the alias by deleting and creating it
    kms.delete_alias(AliasName="alias/workshop/signing")
    kms.create_alias(AliasName="alias/workshop/signing", TargetKeyId=wrong)
    try:
        found = run_chapter(2)[1]
        assert not found.ok and "SYMMETRIC_DEFAULT for ENCRYPT_DECRYPT" in found.hint
    finally:
        kms.delete_alias(AliasName="alias/workshop/signing")
        kms.create_alias(AliasName="alias/workshop/signing", TargetKeyId=signing)
    assert run_chapter(2)[1].ok


def test_a_data_key_policy_that_lets_administrators_decrypt_is_flagged(kit: Kit, profiles: Callable[..., None]) -> None:
    kms = kit.client("kms")
    arn = kms.describe_key(KeyId="alias/kmslab/data")["KeyMetadata"]["Arn"]
    original = kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]
    policy = json.loads(original)
    for statement in policy["Statement"]:
        if statement["Sid"] == "AllowKeyAdministration":
            statement["Action"].append("kms:Decrypt")
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    try:
        found = run_chapter(2)[4]
        assert not found.ok and "lets administrators use the key" in found.hint
    finally:
        kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=original)
    assert run_chapter(2)[4].ok
