"""The parity scorecard: every operation of botocore's model is covered, and the page is built from real tests."""

from __future__ import annotations

from kmslab.kms import LocalKms
from kmslab.kms._validation import service_model
from tests.kms import parity


def test_every_operation_in_botocores_model_works_or_is_refused_by_name() -> None:
    rows = parity.operation_rows()
    assert {row.name for row in rows} == set(service_model()["operations"])
    missing = [row.name for row in rows if row.status == "MISSING"]
    assert missing == [], f"botocore's KMS model has operations the local KMS does not cover: {missing}"
    assert set(service_model()["operations"]) <= LocalKms.OPERATIONS


def test_every_operation_has_a_cloudtrail_record_test() -> None:
    assert [row.name for row in parity.operation_rows() if not row.trail] == []


def test_tested_columns_come_from_registered_tests() -> None:
    rows = {row.name: row for row in parity.operation_rows()}
    # A few known anchors: the key-state table test, and the custom key store refusals.
    assert any(name.endswith("test_key_state_table") for name in rows["Encrypt"].states)
    assert any("custom_stores" in name for name in rows["CreateCustomKeyStore"].errors)
    assert not rows["GenerateRandom"].states  # no key, no key state: nothing may claim it


def test_the_page_renders_every_operation_and_the_summary() -> None:
    rows = parity.operation_rows()
    specs = [parity.SpecRow("ML_KEM_512", "ENCAPSULATE_DECAPSULATE", "ML_KEM", "refused at CreateKey: X")]
    page = parity.render(rows, specs)
    for row in rows:
        assert f"| {row.name} | {row.status} |" in page
    assert f"- operations in the model: {len(rows)}" in page
    assert "| ML_KEM_512 | ENCAPSULATE_DECAPSULATE | ML_KEM | refused at CreateKey: X |" in page
