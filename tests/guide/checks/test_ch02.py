"""``kmslab check 2``: one key of each kind, the symmetric key enabled again, the data key's policy intact."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.guide.checks.conftest import run_chapter
from tests.integration.conftest import Kit


def test_the_chapter_step_by_step(
    kit: Kit, profiles: Callable[..., None], workshop_aliases: Callable[..., str]
) -> None:
    before = run_chapter(2)
    assert [f.ok for f in before] == [False, False, False, False, True]
    assert "step 2.2" in before[0].hint and "step 2.4" in before[1].hint and "step 2.5" in before[2].hint

    sym = workshop_aliases("alias/workshop/symmetric")
    workshop_aliases("alias/workshop/signing", KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    workshop_aliases("alias/workshop/hmac", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    assert all(f.ok for f in run_chapter(2))

    kit.client("kms").disable_key(KeyId=sym)
    disabled = run_chapter(2)
    assert [f.ok for f in disabled] == [True, True, True, False, True]
    assert "it is Disabled" in disabled[3].hint and "enable-key" in disabled[3].hint
    kit.client("kms").enable_key(KeyId=sym)
    assert all(f.ok for f in run_chapter(2))


def test_an_alias_on_the_wrong_kind_of_key_is_missing(
    kit: Kit, profiles: Callable[..., None], workshop_aliases: Callable[..., str]
) -> None:
    workshop_aliases("alias/workshop/signing")  # a symmetric key under the signing key's alias
    found = run_chapter(2)[1]
    assert not found.ok and "SYMMETRIC_DEFAULT for ENCRYPT_DECRYPT" in found.hint and "step 2.4" in found.hint


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
