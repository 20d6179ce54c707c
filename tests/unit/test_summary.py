"""The batch summary the UI shows: the manifest's counts and top reasons, small enough to stay in the database."""

from __future__ import annotations

import json

from employee_pipeline import layout
from employee_pipeline.manifest import Manifest
from employee_pipeline.summary import REASON_CHARS, batch_summary
from tests.support.manifests import manifest_fields

MANIFEST = manifest_fields(
    valid=8,
    quarantined=4,
    written=8,
    quarantine_reasons={"invalid_email": 1, "missing_age": 1, "duplicate_emp_id": 2},
    objects={"raw/a.jsonl": {"read": 5, "valid": 5}, "raw/b.jsonl": {"read": 7, "valid": 3}},
    per_shard={"0": 5, "1": 3},
)


def _summary(fields: dict, bucket: str) -> dict:
    return batch_summary(Manifest.parse(fields), bucket)


def test_the_summary_holds_the_counts_the_top_reasons_and_the_quarantine_location() -> None:
    assert _summary(MANIFEST, "data") == {
        "batch_id": "20261125T14",
        "read": 12,
        "valid": 8,
        "quarantined": 4,
        "quarantined_fraction": 0.3333,
        "top_quarantine_reasons": {"duplicate_emp_id": 2, "invalid_email": 1, "missing_age": 1},
        "quarantine": "s3://data/quarantine/employees/dt=2026-11-25/hour=14/",
    }


def test_a_clean_batch_has_no_reasons_and_an_empty_one_no_fraction() -> None:
    clean = _summary({**MANIFEST, "valid": 12, "quarantined": 0, "quarantine_reasons": {}}, "data")
    assert (clean["quarantined_fraction"], clean["top_quarantine_reasons"]) == (0.0, {})
    empty = {**MANIFEST, "read": 0, "valid": 0, "quarantined": 0, "quarantine_reasons": {}}
    assert _summary(empty, "data")["quarantined_fraction"] == 0.0


def test_the_largest_summary_stays_in_the_metadata_database() -> None:
    """The UI shows an XCom row as stored: one of the threshold's size or more would be an S3 path."""
    reasons = {f"{letter * 60}": 1_666_667 for letter in "abcd"}
    most = 1000 * layout.MAX_RECORDS_PER_SHARD
    manifest = {**MANIFEST, "read": most, "valid": most, "quarantined": most, "quarantine_reasons": reasons}
    summary = _summary(manifest, "b" * 68)  # the longest data bucket config allows (31 + 31 + "--data")
    assert len(summary["top_quarantine_reasons"]) == 3
    assert all(len(reason) == REASON_CHARS for reason in summary["top_quarantine_reasons"])
    assert len(json.dumps(summary).encode()) < layout.XCOM_THRESHOLD_BYTES


def test_the_summary_names_no_object_and_no_record() -> None:
    text = json.dumps(_summary(MANIFEST, "data"))
    assert "raw/" not in text and "per_shard" not in text
