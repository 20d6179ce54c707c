"""Whole DAG runs (`airflow dags test`) against the local AWS: exact counts, reruns without duplicates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from employee_pipeline import layout
from employee_pipeline.config import PipelineNames, pipeline_names
from employee_pipeline_ops.batch_count import count_batch
from infra.airflow_env import airflow_env
from infra.dag_run import migrate, run_dag
from infra.deploy import deploy

pytestmark = pytest.mark.e2e

HOUR = datetime(2026, 11, 24, 9, tzinfo=UTC)
BATCH = layout.batch_id_for(HOUR)
CONF = {"shards": 3, "records_per_shard": 150}
GENERATED = CONF["shards"] * CONF["records_per_shard"]


@pytest.fixture(scope="module")
def e2e_stage(aws) -> PipelineNames:
    names = pipeline_names("e2e")
    deploy(aws, names)
    return names


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory, local_aws: str, e2e_stage: PipelineNames) -> dict:
    home = tmp_path_factory.mktemp("airflow-home")
    env = airflow_env(home, local_aws, stage=e2e_stage.stage)
    migrate(env, home / "migrate.log")
    return {"env": env, "home": home}


def _run(airflow: dict, name: str) -> bool:
    log = Path(airflow["home"]) / f"{name}.log"
    # A manual run with logical date L processes the hour before L.
    result = run_dag(airflow["env"], HOUR + timedelta(hours=1), CONF, log, progress=lambda _: None)
    if not result.succeeded:
        print(log.read_text()[-20000:])
    return result.succeeded


def _state(aws, names: PipelineNames) -> dict:
    table = aws.session.resource("dynamodb", endpoint_url=aws.endpoint_url).Table(names.table)
    s3 = aws.client("s3")
    manifest = json.loads(s3.get_object(Bucket=names.data_bucket, Key=layout.manifest_key(BATCH))["Body"].read())
    versions = s3.list_object_versions(Bucket=names.data_bucket, Prefix=layout.raw_prefix(BATCH)).get("Versions", [])
    return {
        "per_shard": count_batch(
            table, index_name=names.gsi, key_name="batch_shard", batch_id=BATCH, shards=CONF["shards"]
        ),
        "table_items": aws.client("dynamodb").scan(TableName=names.table, Select="COUNT")["Count"],
        "manifest": manifest,
        "etags": {(v["Key"], v["ETag"]) for v in versions},
        "versions": len(versions),
    }


def test_full_run_loads_exactly_the_batch_and_a_rerun_changes_nothing(aws, e2e_stage, airflow) -> None:
    assert _run(airflow, "first"), "the first DAG run failed"
    first = _state(aws, e2e_stage)
    assert first["per_shard"] == {s: CONF["records_per_shard"] for s in range(CONF["shards"])}
    assert first["table_items"] == GENERATED
    assert first["manifest"]["read"] == GENERATED
    assert first["manifest"]["valid"] == first["manifest"]["written"] == GENERATED
    assert first["manifest"]["quarantined"] == 0
    assert len(first["etags"]) == CONF["shards"]

    assert _run(airflow, "rerun"), "the rerun of the same hour failed"
    again = _state(aws, e2e_stage)
    assert again["per_shard"] == first["per_shard"]
    assert again["table_items"] == GENERATED  # upserts: no duplicates
    # The rerun rewrote every object with byte-identical data (new versions, same ETags).
    assert again["versions"] == 2 * CONF["shards"]
    assert again["etags"] == first["etags"]
