"""The local Glue honours ``--extra-py-files`` as Glue does: each zip is read from S3 with the job's role and is
on the Python path of the driver and of Spark's Python workers; nothing of the checkout stands in for it."""

from __future__ import annotations

import io
import zipfile

import pytest

from infra import packaging
from tests.support.glue import finished_run

pytestmark = pytest.mark.integration

BATCH = "20260107T08"

# Where the driver and a Spark worker import the job's package and the shared modules from.
WHERE_FROM = b"""
import employee_ingest.rules
import employee_pipeline.manifest
from pyspark.sql import SparkSession

spark = SparkSession.builder.master("local[1]").getOrCreate()


def imported(_):
    import employee_ingest.rules
    import employee_pipeline.layout

    return employee_ingest.rules.__file__, employee_pipeline.layout.__file__


(worker,) = spark.sparkContext.parallelize([0], 1).map(imported).collect()
spark.stop()
print("driver:", employee_ingest.rules.__file__, employee_pipeline.manifest.__file__)
print("worker:", *worker)
"""


def _package(aws, stage) -> str:
    """The deployed job's --extra-py-files: the zip deploy uploaded."""
    package = aws.client("glue").get_job(JobName=stage.glue_job)["Job"]["DefaultArguments"]["--extra-py-files"]
    assert package == f"s3://{stage.artifacts_bucket}/glue/employee_ingest.zip"
    return package


def _output(aws, run_id: str) -> list[str]:
    events = aws.client("logs").get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=f"{run_id}-driver")
    return [event["message"] for event in events["events"]]


def test_the_driver_and_the_workers_import_the_deployed_zip(aws, stage) -> None:
    package = _package(aws, stage)
    key = "tests/where_from.py"
    aws.client("s3").put_object(Bucket=stage.artifacts_bucket, Key=key, Body=WHERE_FROM)
    glue = aws.client("glue")
    glue.create_job(
        Name="it-where-from",
        Role=f"arn:aws:iam::{aws.account_id}:role/{stage.glue_role}",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{stage.artifacts_bucket}/{key}"},
        DefaultArguments={"--extra-py-files": package},
    )
    run_id = glue.start_job_run(JobName="it-where-from")["JobRunId"]
    run = finished_run(glue, "it-where-from", run_id)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    lines = {
        line.split(":")[0]: line.split()[1:] for line in _output(aws, run_id) if line.startswith(("driver:", "worker:"))
    }
    assert set(lines) == {"driver", "worker"}
    for where, files in lines.items():
        assert len(files) == 2, (where, files)
        # Inside the zip the run read from S3, not the checkout's glue/ or dags/.
        assert all("/employee_ingest.zip/" in path for path in files), (where, files)


def test_a_zip_without_the_shared_modules_fails_the_run(aws, stage, glue_args) -> None:
    """The package alone, without the employee_pipeline modules it imports: the checkout's dags/ (an editable
    install puts it on every interpreter's path) must not stand in, or the zip could ship incomplete."""
    archive = zipfile.ZipFile(io.BytesIO(packaging.glue_package_zip().body))
    files = {name: archive.read(name) for name in archive.namelist() if name.startswith("employee_ingest/")}
    key = "tests/employee_ingest-alone.zip"
    s3 = aws.client("s3")
    s3.put_object(Bucket=stage.artifacts_bucket, Key=key, Body=packaging.deterministic_zip(files))
    arguments = {**glue_args(BATCH), "--extra-py-files": f"s3://{stage.artifacts_bucket}/{key}"}
    glue = aws.client("glue")
    run = finished_run(
        glue, stage.glue_job, glue.start_job_run(JobName=stage.glue_job, Arguments=arguments)["JobRunId"]
    )
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == "ModuleNotFoundError: No module named 'employee_pipeline'"


def test_a_zip_the_role_may_not_read_fails_the_run_naming_it(aws, stage) -> None:
    """Glue reads --extra-py-files as the job's role: the Glue role may not read the data bucket's xcom/ objects."""
    location = f"s3://{stage.data_bucket}/xcom/employee_ingest.zip"
    aws.client("s3").put_object(Bucket=stage.data_bucket, Key="xcom/employee_ingest.zip", Body=b"PK")
    glue = aws.client("glue")
    run_id = glue.start_job_run(JobName=stage.glue_job, Arguments={"--extra-py-files": location})["JobRunId"]
    run = finished_run(glue, stage.glue_job, run_id)
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith(f"cannot load --extra-py-files {location}: ")
    assert "AccessDenied" in run["ErrorMessage"]
