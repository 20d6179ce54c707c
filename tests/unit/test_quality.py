from __future__ import annotations

import pytest

from employee_pipeline.manifest import Manifest
from employee_pipeline.quality import (
    ManifestMismatchError,
    QuarantineThresholdError,
    check_manifest,
    check_quarantine,
)
from tests.support.manifests import sample_manifest


def _manifest(**changes: object) -> Manifest:
    return sample_manifest(**changes)


WRITTEN = [{"bucket": "data", "key": "raw/a.jsonl", "count": 5}, {"bucket": "data", "key": "raw/b.jsonl", "count": 7}]


def test_a_consistent_manifest_expects_the_valid_rows() -> None:
    assert check_manifest(_manifest(), WRITTEN, "jr_1") == 9


def test_an_object_the_job_did_not_read_fails() -> None:
    written = [*WRITTEN, {"bucket": "data", "key": "raw/c.jsonl", "count": 1}]
    with pytest.raises(ManifestMismatchError, match=r"did not read s3://data/raw/c\.jsonl"):
        check_manifest(_manifest(), written, "jr_1")


def test_an_object_the_writers_did_not_write_fails() -> None:
    with pytest.raises(ManifestMismatchError, match=r"read objects this run did not write: \['raw/b\.jsonl'\]"):
        check_manifest(_manifest(), WRITTEN[:1], "jr_1")


def test_a_manifest_of_another_load_fails() -> None:
    with pytest.raises(ManifestMismatchError, match=r"written by load 'jr_1', not by this run's Glue job run 'jr_2'"):
        check_manifest(_manifest(), WRITTEN, "jr_2")


def test_a_short_read_fails_with_both_numbers() -> None:
    manifest = _manifest(objects={"raw/b.jsonl": {"read": 7, "valid": 4}})
    with pytest.raises(ManifestMismatchError, match=r"put 8 records in s3://data/raw/b\.jsonl .* read 7"):
        check_manifest(manifest, [{"bucket": "data", "key": "raw/b.jsonl", "count": 8}], "jr_1")


def test_counts_that_do_not_add_up_fail() -> None:
    with pytest.raises(ManifestMismatchError, match=r"read 13 != valid 9 \+ quarantined 3"):
        check_manifest(_manifest(read=13), WRITTEN, "jr_1")
    with pytest.raises(ManifestMismatchError, match="9 valid rows but 8 written"):
        check_manifest(_manifest(written=8), WRITTEN, "jr_1")
    with pytest.raises(ManifestMismatchError, match=r"per-shard counts .* do not add up to 9 valid rows over 2 shards"):
        check_manifest(_manifest(per_shard={"0": 5, "1": 3}), WRITTEN, "jr_1")


def test_quarantine_within_tolerance_passes() -> None:
    assert check_quarantine(_manifest(), 0.25, "data") == 0.25


def test_quarantine_above_tolerance_names_location_and_top_reasons() -> None:
    with pytest.raises(QuarantineThresholdError) as raised:
        check_quarantine(_manifest(), 0.0, "data")
    message = str(raised.value)
    assert "3 of 12 rows quarantined (25.00%)" in message
    assert "s3://data/quarantine/employees/dt=2026-11-25/hour=14/" in message
    assert "top reasons: duplicate_emp_id x2, invalid_email x1" in message


def test_an_empty_batch_has_nothing_quarantined() -> None:
    assert check_quarantine(_manifest(read=0, quarantined=0), 0.0, "data") == 0.0
