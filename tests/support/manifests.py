"""A batch manifest for unit tests: every field, consistent counts, any of them changed by name."""

from __future__ import annotations

from typing import Any

from employee_pipeline.manifest import Manifest

BATCH = "20261125T14"


def manifest_fields(**changes: Any) -> dict[str, Any]:
    """The JSON object of a load of two shards (12 rows read, 9 valid, 3 quarantined), with ``changes``."""
    fields: dict[str, Any] = {
        "batch_id": BATCH,
        "load_id": "jr_1",
        "shards": 2,
        "source_objects": 2,
        "read": 12,
        "valid": 9,
        "quarantined": 3,
        "written": 9,
        "per_shard": {"0": 5, "1": 4},
        "swept_shards": 0,
        "removed": {"dynamodb_items": 0, "raw_objects": 0, "quarantine_objects": 0},
        "quarantine_prefix": "quarantine/employees/dt=2026-11-25/hour=14/",
        "quarantine_reasons": {"duplicate_emp_id": 2, "invalid_email": 1},
        "objects": {"raw/a.jsonl": {"read": 5, "valid": 5}, "raw/b.jsonl": {"read": 7, "valid": 4}},
        "dynamodb_retries": 0,
        "job_run_id": "jr_1",
        "timings": {"read_classify_s": 1.5, "total_s": 4.25},
    }
    fields.update(changes)
    return fields


def sample_manifest(**changes: Any) -> Manifest:
    return Manifest.parse(manifest_fields(**changes))
