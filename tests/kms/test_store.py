"""Persistence (SQLite + sealed key material), the data directory's secrecy, and concurrency."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from kmslab.kms import FixedClock, LocalKms
from tests.kms.conftest import START
from tests.kms.helpers import import_material


def _all_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file())


def test_state_survives_a_new_engine(tmp_path: Path) -> None:
    clock = FixedClock(START)
    first = LocalKms(tmp_path, clock=clock)
    kms = first.boto3_client()
    key_id = kms.create_key(Description="durable", Tags=[{"TagKey": "t", "TagValue": "v"}])["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/durable", TargetKeyId=key_id)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    kms.rotate_key_on_demand(KeyId=key_id)
    grant = kms.create_grant(KeyId=key_id, GranteePrincipal="arn:aws:iam::111122223333:role/a", Operations=["Decrypt"])
    blob = kms.encrypt(KeyId="alias/durable", Plaintext=b"persist", EncryptionContext={"x": "y"})["CiphertextBlob"]
    doomed = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
    external = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    material = import_material(kms, external)
    ext_blob = kms.encrypt(KeyId=external, Plaintext=b"byok")["CiphertextBlob"]
    first.close()

    second = LocalKms(tmp_path, clock=clock)
    again = second.boto3_client()
    meta = again.describe_key(KeyId="alias/durable")["KeyMetadata"]
    assert meta["Description"] == "durable" and meta["KeyId"] == key_id
    assert again.decrypt(CiphertextBlob=blob, EncryptionContext={"x": "y"})["Plaintext"] == b"persist"
    assert again.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "t", "TagValue": "v"}]
    assert len(again.list_key_rotations(KeyId=key_id)["Rotations"]) == 1
    assert again.get_key_rotation_status(KeyId=key_id)["RotationPeriodInDays"] == 90
    assert [g["GrantId"] for g in again.list_grants(KeyId=key_id)["Grants"]] == [grant["GrantId"]]
    again.retire_grant(GrantToken=grant["GrantToken"])  # tokens stay valid across restarts
    assert again.decrypt(CiphertextBlob=ext_blob)["Plaintext"] == b"byok"
    again.delete_imported_key_material(KeyId=external)
    import_material(again, external, material)  # the same material is still recognised
    # Time-based events resume against the clock: the pending deletion completes.
    second.advance_time(timedelta(days=7))
    assert doomed not in [k["KeyId"] for k in again.list_keys()["Keys"]]
    second.close()
    third = LocalKms(tmp_path, clock=clock)
    assert doomed not in [k["KeyId"] for k in third.boto3_client().list_keys()["Keys"]]
    third.close()


def test_no_plaintext_key_material_on_disk(tmp_path: Path) -> None:
    engine = LocalKms(tmp_path, clock=FixedClock(START))
    kms = engine.boto3_client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.rotate_key_on_demand(KeyId=key_id)
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    data_keys = [kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"] for _ in range(5)]
    backing = [b.material for k in engine.registry.all_keys() for b in k.backing if b.material]
    assert len(backing) == 3
    engine.close()
    on_disk = _all_bytes(tmp_path)
    assert b"CiphertextBlob" not in on_disk  # sanity: nothing of the requests is stored
    for secret in data_keys + backing:
        assert secret not in on_disk
        assert secret.hex().encode() not in on_disk
    import base64

    for secret in backing:
        assert base64.b64encode(secret) not in on_disk
    assert hmac_key in on_disk.decode("latin-1")  # the store does hold the keys, sealed


def test_root_key_file_is_private(tmp_path: Path) -> None:
    LocalKms(tmp_path).close()
    root = tmp_path / "root.key"
    assert stat.S_IMODE(root.stat().st_mode) == 0o600
    assert len(root.read_bytes()) == 32
    before = root.read_bytes()
    LocalKms(tmp_path).close()
    assert root.read_bytes() == before


def test_repr_shows_no_material(kms_engine: LocalKms, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    key = kms_engine.registry.key("us-east-1", key_id)
    assert key is not None
    material = key.backing[0].material
    assert material is not None
    assert material.hex() not in repr(key) and repr(material) not in repr(key)
    assert repr(material) not in repr(kms_engine)


def test_a_killed_process_loses_nothing_committed(tmp_path: Path) -> None:
    script = (
        "import os, sys\n"
        "from kmslab.kms import LocalKms\n"
        "kms = LocalKms(sys.argv[1]).boto3_client()\n"
        "key = kms.create_key(Description='before kill')['KeyMetadata']['KeyId']\n"
        "blob = kms.encrypt(KeyId=key, Plaintext=b'survive')['CiphertextBlob']\n"
        "open(os.path.join(sys.argv[1], 'blob'), 'wb').write(blob)\n"
        "os._exit(9)\n"  # no close, no cleanup
    )
    env = {**os.environ}
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, timeout=60, check=False)
    assert result.returncode == 9
    engine = LocalKms(tmp_path)
    kms = engine.boto3_client()
    assert [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["Description"] for k in kms.list_keys()["Keys"]] == [
        "before kill"
    ]
    assert kms.decrypt(CiphertextBlob=(tmp_path / "blob").read_bytes())["Plaintext"] == b"survive"
    engine.close()


def test_concurrent_encrypt_decrypt_and_create(kms_engine: LocalKms) -> None:
    client = kms_engine.boto3_client()
    key_id = client.create_key()["KeyMetadata"]["KeyId"]
    errors: list[BaseException] = []
    created: list[str] = []

    def worker(n: int) -> None:
        try:
            mine = kms_engine.boto3_client()
            for i in range(25):
                text = f"{n}-{i}".encode()
                blob = mine.encrypt(KeyId=key_id, Plaintext=text, EncryptionContext={"n": str(n)})["CiphertextBlob"]
                assert mine.decrypt(CiphertextBlob=blob, EncryptionContext={"n": str(n)})["Plaintext"] == text
                if i % 5 == 0:
                    created.append(mine.create_key()["KeyMetadata"]["KeyId"])
                if n == 0 and i % 5 == 0:
                    mine.rotate_key_on_demand(KeyId=key_id)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(created) == 30 and len(set(created)) == 30
    listed = {k["KeyId"] for k in client.list_keys(Limit=1000)["Keys"]}
    assert set(created) <= listed and len(listed) == 31
