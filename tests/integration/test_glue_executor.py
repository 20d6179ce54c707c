"""Glue job runs through the local AWS run the uploaded script with PySpark and report real outcomes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from employee_pipeline import layout
from local_aws.patches import SeamChangedError, check_seams
from tests.support.glue import finished_run, sleeper_job

pytestmark = pytest.mark.integration

BATCH = "20260101T00"


def test_failed_script_reports_failed_with_the_error_and_no_manifest(aws, stage, glue_args) -> None:
    s3, glue = aws.client("s3"), aws.client("glue")
    s3.put_object(Bucket=stage.data_bucket, Key=layout.raw_key(BATCH, 0), Body=b"{}\n")
    run_id = glue.start_job_run(JobName=stage.glue_job, Arguments=glue_args(BATCH, "no-such-table"))["JobRunId"]

    assert glue.get_job_run(JobName=stage.glue_job, RunId=run_id)["JobRun"]["JobRunState"] == "RUNNING"
    run = finished_run(glue, stage.glue_job, run_id)
    assert run["JobRunState"] == "FAILED"
    # The job's role may describe its own tables only: as on AWS, another table is refused before it is looked up.
    assert "AccessDeniedException" in run["ErrorMessage"]
    assert "dynamodb:DescribeTable on resource: arn:aws:dynamodb:us-east-1:" in run["ErrorMessage"]
    assert ":table/no-such-table " in run["ErrorMessage"]
    assert run["LogGroupName"] == "/aws-glue/jobs"
    # Glue 5.0: the script's stdout and stderr in /aws-glue/jobs/output, Spark's logs in /error, both in the
    # stream <run id>-driver; no stream is named the bare run id.
    logs = aws.client("logs")
    events = logs.get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=f"{run_id}-driver")["events"]
    assert any("Traceback" in e["message"] for e in events)
    for group in ("/aws-glue/jobs/output", "/aws-glue/jobs/error"):
        streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=run_id)["logStreams"]
        assert [s["logStreamName"] for s in streams] == [f"{run_id}-driver"]
    spark = logs.get_log_events(logGroupName="/aws-glue/jobs/error", logStreamName=f"{run_id}-driver")["events"]
    assert not any("Traceback" in e["message"] for e in spark)
    listed = s3.list_objects_v2(Bucket=stage.data_bucket, Prefix=layout.manifest_key(BATCH))
    assert listed.get("KeyCount", 0) == 0


def test_max_concurrent_runs_is_enforced_while_runs_really_run(aws, stage) -> None:
    """A plain-Python job script (no Spark) that sleeps: the second start is refused, as on AWS."""
    glue = aws.client("glue")
    sleeper_job(aws, stage, "it-sleeper", seconds=4)
    first = glue.start_job_run(JobName="it-sleeper")["JobRunId"]
    with pytest.raises(ClientError, match="ConcurrentRunsExceededException"):
        glue.start_job_run(JobName="it-sleeper")
    assert finished_run(glue, "it-sleeper", first)["JobRunState"] == "SUCCEEDED"
    second = glue.start_job_run(JobName="it-sleeper")["JobRunId"]  # free again once the first ended
    assert finished_run(glue, "it-sleeper", second)["JobRunState"] == "SUCCEEDED"
    runs = glue.get_job_runs(JobName="it-sleeper")["JobRuns"]
    assert [r["Id"] for r in runs] == [second, first]  # newest first, as on AWS


def test_the_seams_match_the_pinned_moto() -> None:
    check_seams()


def test_a_changed_seam_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaFunction

    from local_aws import patches

    monkeypatch.setattr(patches, "_installed", {})
    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", lambda self, event, context: None)
    with pytest.raises(SeamChangedError, match="_invoke_lambda changed its parameters"):
        check_seams()
