"""Glue 5.0's log streams: the emulator writes them, the ingest operator's trigger forwards them to the task log."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from employee_pipeline_ops import glue_job
from employee_pipeline_ops.glue_job import GlueJobRunTrigger
from local_aws import glue_executor

RUN_ID = "jr_0123456789abcdef"


class _Sink:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line.rstrip("\n"))


def test_the_driver_stream_is_named_as_glue_5_names_it_in_the_emulator_and_the_operator() -> None:
    assert glue_executor.driver_stream(RUN_ID) == f"{RUN_ID}-driver" == RUN_ID + glue_job.DRIVER_STREAM_SUFFIX


def test_the_scripts_stderr_goes_to_output_and_sparks_log_lines_to_error() -> None:
    output, error = _Sink(), _Sink()
    router = glue_executor._StderrRouter(output, error)  # type: ignore[arg-type]
    lines = [
        'Setting default log level to "WARN".',
        "25/01/31 12:00:00 WARN NativeCodeLoader: Unable to load native-hadoop library",
        "25/01/31 12:00:05 ERROR Executor: Exception in task 0.0 in stage 1.0 (TID 1)",
        "\tat org.apache.spark.api.python.BasePythonRunner.read(PythonRunner.scala:572)",
        "Caused by: java.io.IOException: broken pipe",
        "batch 20260101T00: loading 2 shards",
        "Traceback (most recent call last):",
        '  File "ingest_employees.py", line 10, in <module>',
        "ValueError: no such table",
    ]
    for line in lines:
        router.write(line + "\n")
    assert error.lines == lines[:5]
    assert output.lines == lines[5:]


class _Conn:
    """An async client context manager, as aiobotocore's ``get_async_conn`` gives one."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def __aenter__(self) -> Any:
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Glue:
    def __init__(self, states: list[str]) -> None:
        self.states = states

    async def get_job_run(self, JobName: str, RunId: str) -> dict[str, Any]:
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"JobRun": {"Id": RunId, "JobName": JobName, "JobRunState": state, "LogGroupName": "/aws-glue/jobs"}}


class _Logs:
    """CloudWatch Logs' GetLogEvents over fixed streams, answering as botocore parses it."""

    class meta:
        region_name = "us-east-1"

    def __init__(self, streams: dict[tuple[str, str], list[str]]) -> None:
        self.streams = streams
        self.asked: list[tuple[str, str]] = []

    async def get_log_events(self, logGroupName: str, logStreamName: str, startFromHead: bool, nextToken: str = "f/0"):
        self.asked.append((logGroupName, logStreamName))
        if (logGroupName, logStreamName) not in self.streams:
            error = {
                "Error": {"Code": "ResourceNotFoundException", "Message": "The specified log stream does not exist."}
            }
            raise ClientError(error, "GetLogEvents")
        messages = self.streams[(logGroupName, logStreamName)]
        start = int(nextToken.split("/")[1])
        events = [{"timestamp": 1, "message": m, "ingestionTime": 2} for m in messages[start:]]
        return {"events": events, "nextForwardToken": f"f/{len(messages)}", "nextBackwardToken": f"b/{start}"}


def test_a_verbose_deferred_run_forwards_the_driver_streams_to_the_task_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    logs = _Logs(
        {
            ("/aws-glue/jobs/output", f"{RUN_ID}-driver"): ["batch 20260101T00: loaded 10 rows", "manifest: {}"],
            ("/aws-glue/jobs/error", f"{RUN_ID}-driver"): ["25/01/31 12:00:00 WARN NativeCodeLoader: no hadoop"],
        }
    )
    glue = _Glue(["RUNNING", "SUCCEEDED"])

    class _LogsHook:
        def __init__(self, **_: Any) -> None:
            pass

        async def get_async_conn(self) -> _Conn:
            return _Conn(logs)

    class _GlueHook:
        async def get_async_conn(self) -> _Conn:
            return _Conn(glue)

    monkeypatch.setattr("airflow.providers.amazon.aws.triggers.glue.AwsLogsHook", _LogsHook)
    monkeypatch.setattr(GlueJobRunTrigger, "hook", lambda self: _GlueHook())
    trigger = GlueJobRunTrigger(
        job_name="ingest", run_id=RUN_ID, verbose=True, aws_conn_id=None, waiter_delay=0, waiter_max_attempts=5
    )
    trigger._log = logging.getLogger("test.glue_trigger")

    async def first_event() -> Any:
        return await anext(trigger.run())

    with caplog.at_level(logging.INFO, logger="test.glue_trigger"):
        event = asyncio.run(first_event())

    assert event.payload["status"] == "success"
    assert {stream for _, stream in logs.asked} == {f"{RUN_ID}-driver"}
    shown = caplog.text
    assert "batch 20260101T00: loaded 10 rows" in shown and "manifest: {}" in shown
    assert "NativeCodeLoader" in shown
    assert shown.count("loaded 10 rows") == 1  # the second poll resumes after what the first one showed
    assert "No new Glue driver logs" not in shown
