"""Bad rows are quarantined with their reason, never lost; above the tolerated fraction the run fails
after loading, and the failure is published to the stage's SNS topic."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from employee_pipeline import layout
from generator.records import generate_records

pytestmark = pytest.mark.e2e

STAGE = "badinput"
HOUR = datetime(2026, 11, 23, 18, tzinfo=UTC)
BATCH = layout.batch_id_for(HOUR)
CONF = {"shards": 2, "records_per_shard": 100}
GENERATED = CONF["shards"] * CONF["records_per_shard"]


def _record(index: int, **changes: object) -> str:
    record = {**generate_records(BATCH, 0, 1)[0], "emp_id": f"{BATCH}-bad-{index:03d}", **changes}
    return json.dumps(record)


# (line, reason) for every kind of bad row; one valid extra row proves the object itself is read.
BAD_LINES = [
    ('{"emp_id": "broken', "malformed_json_or_wrong_type"),
    (_record(1, age="abc"), "malformed_json_or_wrong_type"),
    (_record(2, salary=-5), "salary_not_positive"),
    (json.dumps({k: v for k, v in json.loads(_record(3)).items() if k != "email"}), "missing_email"),
    (_record(4, badge="gold"), "unknown_fields"),
    (_record(5, batch_id="20261123T17"), "batch_id_mismatch"),
    (json.dumps(generate_records(BATCH, 0, 1)[0]), "duplicate_emp_id"),  # same emp_id as shard 0's first row
    (_record(6), "duplicate_emp_id"),  # duplicate inside this object (see below)
]
EXTRA_VALID = [_record(6)]


def test_bad_rows_are_quarantined_and_the_run_fails_after_loading(pipeline) -> None:
    alerts = pipeline.subscribe_alerts()
    s3 = pipeline.aws.client("s3")
    bucket = pipeline.names.data_bucket
    injected = layout.raw_prefix(BATCH) + "part-90000.jsonl"
    empty = layout.raw_prefix(BATCH) + "part-90001.jsonl"
    lines = EXTRA_VALID + [line for line, _ in BAD_LINES]
    s3.put_object(Bucket=bucket, Key=injected, Body=("\n".join(lines) + "\n").encode())
    s3.put_object(Bucket=bucket, Key=empty, Body=b"")

    result = pipeline.run(HOUR, CONF, "bad-input")

    assert not result.succeeded
    assert result.states["count_check"] == "success"  # everything valid was loaded
    assert result.states["quarantine_gate"] == "failed"
    quarantined = len(BAD_LINES) + 1  # + the empty object
    assert f"{quarantined} of {GENERATED + len(lines) + 1} rows quarantined" in result.text
    assert f"see s3://{bucket}/{layout.quarantine_prefix(BATCH)}" in result.text
    assert "top reasons: duplicate_emp_id x2, malformed_json_or_wrong_type x2" in result.text

    manifest = pipeline.manifest(BATCH)
    assert manifest["read"] == GENERATED + len(lines) + 1
    assert manifest["read"] == manifest["valid"] + manifest["quarantined"]
    assert manifest["quarantined"] == quarantined
    assert manifest["valid"] == GENERATED + len(EXTRA_VALID)
    assert sum(pipeline.count(BATCH, CONF["shards"]).values()) == manifest["valid"]  # the extra row is shard 0

    rows = []
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=layout.quarantine_prefix(BATCH))["Contents"]:
        rows += [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().splitlines()]
    assert sorted((r["line"], r["reject_reason"]) for r in rows) == sorted([*BAD_LINES, ("", "empty_object")])
    assert all(r["source_key"] in (injected, empty) for r in rows)

    # The failure, and only it, was published with the run's details.
    messages = pipeline.alerts(alerts)
    assert [m["task_id"] for m in messages] == ["quarantine_gate"]
    alert = messages[0]
    assert alert["dag_id"] == "employee_batch_pipeline"
    assert alert["run_id"].startswith("manual__") and alert["try_number"] == 1
    assert "quarantined" in alert["exception"] and alert["log_url"]
