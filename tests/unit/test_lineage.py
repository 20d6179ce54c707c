"""The OpenLineage datasets the operators report: names per OpenLineage's dataset naming, and nothing
(without an error) when the OpenLineage provider is not installed."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from employee_pipeline import layout
from employee_pipeline_ops import lineage
from employee_pipeline_ops.batch_keys_sensor import S3BatchKeysSensor
from employee_pipeline_ops.lambda_invoke import LambdaInvokeOperator
from local_run import openlineage

BATCH = "20261124T09"
BUCKET = "data-bucket"
ARGS = layout.glue_job_arguments(BATCH, BUCKET, "employees", shards=2, lease_table="leases", lease_owner="run-1")


@pytest.fixture
def operator_lineage(monkeypatch: pytest.MonkeyPatch) -> type:
    """The provider's OperatorLineage, with the provider (beside the venv, local_run.openlineage) on the path."""
    import airflow

    # Airflow extends its package path from sys.path once, when imported: the provider's part is added to it.
    monkeypatch.setattr(airflow, "__path__", [*airflow.__path__, str(openlineage.provider_dir() / "airflow")])
    monkeypatch.syspath_prepend(str(openlineage.provider_dir()))
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage


def _names(datasets: list) -> list[tuple[str, str]]:
    return [(dataset.namespace, dataset.name) for dataset in datasets]


def test_the_ingest_job_reads_the_batchs_objects_and_writes_the_table_the_quarantine_and_the_manifest() -> None:
    inputs, outputs = lineage.glue_ingest(ARGS, "us-east-1", "123456789012")
    assert inputs == [
        ("s3://data-bucket", "raw/employees/dt=2026-11-24/hour=09/part-00000.jsonl"),
        ("s3://data-bucket", "raw/employees/dt=2026-11-24/hour=09/part-00001.jsonl"),
    ]
    assert outputs == [
        ("arn:aws:dynamodb:us-east-1:123456789012", "table/employees"),
        ("s3://data-bucket", "quarantine/employees/dt=2026-11-24/hour=09/"),
        ("s3://data-bucket", "manifests/employees/dt=2026-11-24/hour=09/manifest.json"),
    ]


def test_a_glue_job_without_the_ingest_arguments_reports_nothing() -> None:
    assert lineage.glue_ingest({"--bucket": BUCKET}, "us-east-1", "123456789012") == ([], [])


def test_a_lambda_reports_the_object_it_says_it_wrote_and_never_parses_data() -> None:
    written = json.dumps({"bucket": BUCKET, "key": layout.raw_key(BATCH, 0), "count": 3, "shard": 0})
    assert lineage.lambda_written(written) == [("s3://data-bucket", layout.raw_key(BATCH, 0))]
    # The generator's result is records: a list, or too large to be a report.
    assert lineage.lambda_written(json.dumps([{"bucket": "b", "key": "k"}])) == []
    assert lineage.lambda_written('{"bucket": "b", "key": "k", "pad": "' + "x" * lineage.MAX_RESULT_CHARS + '"}') == []
    assert lineage.lambda_written("{not json") == []
    assert lineage.lambda_written(None) == []


def test_the_datasets_become_the_providers_operator_lineage(operator_lineage: type) -> None:
    table = lineage.dynamodb_table("eu-west-1", "111122223333", "t")
    found = lineage.operator_lineage(inputs=[lineage.s3_object(BUCKET, "a/b.json")], outputs=[table])
    assert isinstance(found, operator_lineage)
    assert _names(found.inputs) == [("s3://data-bucket", "a/b.json")]
    assert _names(found.outputs) == [("arn:aws:dynamodb:eu-west-1:111122223333", "table/t")]


def test_the_sensor_reports_the_keys_it_waits_for_and_the_writer_what_it_wrote(operator_lineage: type) -> None:
    keys = [layout.raw_key(BATCH, shard) for shard in range(2)]
    sensor = S3BatchKeysSensor(task_id="wait", bucket_name=BUCKET, bucket_key=keys)
    assert _names(sensor.get_openlineage_facets_on_start().inputs) == [("s3://data-bucket", key) for key in keys]
    writer = LambdaInvokeOperator(task_id="write", function_name="writer")
    assert writer.get_openlineage_facets_on_complete(None).outputs == []  # failed before a result
    writer._lineage_result = json.dumps({"bucket": BUCKET, "key": keys[1]})
    assert _names(writer.get_openlineage_facets_on_complete(None).outputs) == [("s3://data-bucket", keys[1])]


def _site_without_openlineage(site: Path, into: Path) -> Path:
    """``site`` (site-packages) as symlinks, less every OpenLineage package and distribution: as if not installed."""
    into.mkdir()
    for entry in site.iterdir():
        if "openlineage" in entry.name.lower():
            continue
        if entry.name == "airflow":
            (into / "airflow" / "providers").mkdir(parents=True)
            for sub in entry.iterdir():
                if sub.name != "providers":
                    (into / "airflow" / sub.name).symlink_to(sub)
            for provider in (entry / "providers").iterdir():
                if provider.name != "openlineage":
                    (into / "airflow" / "providers" / provider.name).symlink_to(provider)
        else:
            (into / entry.name).symlink_to(entry)
    return into


# Runs on that site-packages alone (``python -S``): the operators import, run their hooks, report nothing.
WITHOUT_PROVIDER = textwrap.dedent(
    """
    import importlib.util, site, sys

    site.addsitedir(sys.argv[1])
    assert importlib.util.find_spec("airflow.providers.openlineage") is None
    from employee_pipeline import layout
    from employee_pipeline_ops import lineage
    from employee_pipeline_ops.batch_keys_sensor import S3BatchKeysSensor
    from employee_pipeline_ops.count_check import DynamoDBBatchCountCheckOperator
    from employee_pipeline_ops.glue_job import GlueJobRunOperator
    from employee_pipeline_ops.lambda_invoke import LambdaInvokeOperator

    assert lineage.operator_lineage(inputs=[lineage.s3_object("b", "k")]) is None
    sensor = S3BatchKeysSensor(task_id="wait", bucket_name="b", bucket_key=[layout.raw_key("20261124T09", 0)])
    assert sensor.get_openlineage_facets_on_start() is None
    writer = LambdaInvokeOperator(task_id="write", function_name="writer")
    writer._lineage_result = '{"bucket": "b", "key": "k"}'
    assert writer.get_openlineage_facets_on_complete(None) is None
    print("ok")
    """
)


def test_without_the_openlineage_provider_the_operators_import_and_report_nothing(tmp_path: Path) -> None:
    site = Path(sysconfig.get_paths()["purelib"])
    mirror = _site_without_openlineage(site, tmp_path / "site-packages")
    done = subprocess.run(
        [sys.executable, "-S", "-c", WITHOUT_PROVIDER, str(mirror)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "ok"


def _pins(path: Path) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {name.lower().replace("_", "-"): version for name, _, version in (x.partition("==") for x in lines if x)}


def test_the_provider_beside_the_venv_is_the_one_mwaas_constraints_pin() -> None:
    requirements = Path(__file__).resolve().parents[2] / "requirements"
    locked = _pins(requirements / "openlineage.lock")
    constraints = _pins(requirements / "mwaa-constraints-3.3.1.txt")
    assert "apache-airflow-providers-openlineage" in locked
    assert {name: constraints.get(name) for name in locked} == locked
    dists = (path.name.removesuffix(".dist-info").split("-") for path in openlineage.provider_dir().glob("*.dist-info"))
    installed = {name.lower().replace("_", "-"): version for name, version in dists}
    assert installed == locked
