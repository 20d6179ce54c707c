"""Bad rows are quarantined with their reason, never lost; above the tolerated fraction the run fails
after loading, and the failure is published to the stage's SNS topic."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from employee_pipeline import assets, layout
from employee_pipeline.waiting import wait_until
from generator.records import generate_records
from local_run import postgres

pytestmark = [pytest.mark.e2e, pytest.mark.stage("badinput")]

HOUR = datetime(2026, 11, 23, 18, tzinfo=UTC)
BATCH = layout.batch_id_for(HOUR)
CONF = {"shards": 2, "records_per_shard": 100}
GENERATED = CONF["shards"] * CONF["records_per_shard"]


TAMPERED_SHARD = 1


def _record(index: int, **changes: object) -> str:
    # Ids of this batch and shard past the generated ones: only the change makes the row bad.
    emp_id = layout.emp_id(BATCH, TAMPERED_SHARD, 900 + index)
    record = {**generate_records(BATCH, TAMPERED_SHARD, 1)[0], "emp_id": emp_id, **changes}
    return json.dumps(record)


# (line, reason) for every kind of bad row; one valid extra row proves the lines themselves are read.
BAD_LINES = [
    ('{"emp_id": "broken', "malformed_json_or_wrong_type"),
    (_record(1, age="abc"), "malformed_json_or_wrong_type"),
    (_record(2, salary=-5), "salary_not_positive"),
    (json.dumps({k: v for k, v in json.loads(_record(3)).items() if k != "email"}), "missing_email"),
    (_record(4, badge="gold"), "unknown_fields"),
    (_record(5, batch_id="20261123T17"), "batch_id_mismatch"),
    (_record(7, shard=0), "shard_mismatch"),
    (_record(9, emp_id=layout.emp_id("20261123T17", TAMPERED_SHARD, 9)), "emp_id_mismatch"),  # another hour's
    (_record(8, salary=float("nan")), "dynamodb_number_not_representable"),
    (json.dumps(generate_records(BATCH, TAMPERED_SHARD, 1)[0]), "duplicate_emp_id"),  # the object's first row
    (_record(6), "duplicate_emp_id"),  # duplicate inside this object (see below)
]
EXTRA_VALID = [_record(6)]


def test_bad_rows_are_quarantined_and_the_run_fails_after_loading(pipeline) -> None:
    alerts = pipeline.subscribe_alerts()
    s3 = pipeline.aws.client("s3")
    bucket = pipeline.names.data_bucket
    tampered = layout.raw_key(BATCH, TAMPERED_SHARD)
    lines = EXTRA_VALID + [line for line, _ in BAD_LINES]

    def tamper(task: str, state: str) -> bool:
        """Once the writer stored the shard, its last lines become bad ones (as many: the writer's count holds)."""
        if (task, state) == (f"write[{TAMPERED_SHARD}]", "success"):
            written = s3.get_object(Bucket=bucket, Key=tampered)["Body"].read().decode().splitlines()
            body = "\n".join(written[: -len(lines)] + lines) + "\n"
            s3.put_object(Bucket=bucket, Key=tampered, Body=body.encode())
        return False

    result = pipeline.run(HOUR, CONF, "bad-input", kill_when=tamper)

    assert not result.succeeded
    assert result.states["count_check"] == "success"  # everything valid was loaded
    assert result.states["quarantine_gate"] == "failed"
    # Downstream DAGs never hear of the batch: the gate's outlets are registered and active, yet no event.
    assert _active_assets(pipeline) >= {asset.name for asset in assets.OUTLETS}
    assert _asset_events(pipeline) == []
    quarantined = len(BAD_LINES)
    assert f"{quarantined} of {GENERATED} rows quarantined" in result.text
    assert f"see s3://{bucket}/{layout.quarantine_prefix(BATCH)}" in result.text
    assert "top reasons: duplicate_emp_id x2, malformed_json_or_wrong_type x2" in result.text

    manifest = pipeline.manifest(BATCH)
    assert manifest.read == GENERATED
    assert manifest.read == manifest.valid + manifest.quarantined
    assert manifest.quarantined == quarantined
    assert manifest.valid == GENERATED - len(lines) + len(EXTRA_VALID)
    per_shard = CONF["records_per_shard"]
    assert pipeline.count(BATCH, CONF["shards"]) == {0: per_shard, 1: per_shard - quarantined}

    rows = []
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=layout.quarantine_prefix(BATCH))["Contents"]:
        rows += [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().splitlines()]
    assert sorted((r["line"], r["reject_reason"]) for r in rows) == sorted(BAD_LINES)
    assert all(r["source_key"] == tampered for r in rows)

    # The failure was published with the run's details, and the two CloudWatch alarms it tripped (the
    # quarantined share, a failed run) notified the same topic: nothing else.
    messages: list[dict] = []

    def received() -> bool:
        messages.extend(pipeline.alerts(alerts))
        return len(messages) >= 3

    wait_until(
        received,
        timeout=60,
        interval=0,
        message="the failure alert and two alarm notifications",
        error=lambda text: AssertionError(f"{text}: got {messages}"),
    )
    assert [m["task_id"] for m in messages if "task_id" in m] == ["quarantine_gate"]
    alarms = sorted((m["AlarmName"], m["NewStateValue"]) for m in messages if "AlarmName" in m)
    assert alarms == sorted([(pipeline.names.quarantine_alarm, "ALARM"), (pipeline.names.failed_runs_alarm, "ALARM")])
    assert len(messages) == 3 and pipeline.alerts(alerts) == []
    (alert,) = [m for m in messages if "task_id" in m]
    assert alert["dag_id"] == "employee_batch_pipeline"
    assert alert["run_id"].startswith("manual__") and alert["try_number"] == 1
    assert "quarantined" in alert["exception"] and alert["log_url"]


def _active_assets(pipeline) -> set[str]:
    return {name for (name,) in _metadata(pipeline, "SELECT name FROM asset_active")}


def _asset_events(pipeline) -> list[tuple]:
    """(asset, partition key, extra) of every asset event the run's Airflow stored."""
    sql = "SELECT a.name, e.partition_key, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id"
    return _metadata(pipeline, sql)


def _metadata(pipeline, sql: str) -> list[tuple]:
    """``sql`` on the metadata database of the stage's Airflow (its PostgreSQL, else its home's SQLite)."""
    import sqlalchemy

    url = postgres.url_of(pipeline.home) or f"sqlite:///{pipeline.home / 'airflow.db'}"
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as db:
            return [tuple(row) for row in db.execute(sqlalchemy.text(sql))]
    finally:
        engine.dispose()
