"""``infra.mwaa.smoke``'s reading of MWAA's answers: botocore clients stubbed with the modeled responses.

The whole smoke run against an environment with a real Airflow behind it is tests/e2e/test_mwaa_environment.py;
these cover what that run cannot cheaply reach: a failed run, a paused DAG, Airflow's refusals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from employee_pipeline.config import DAG_ID, pipeline_names
from infra.mwaa import smoke

ENV = "employee-pipeline-dev"
NAMES = pipeline_names("dev")
RUN_ID = "smoke-261207100000"


@dataclass
class Target:
    """What smoke() asks of an AwsTarget: clients, here real boto3 clients whose answers are stubbed."""

    clients: dict[str, Any]

    def client(self, service: str) -> Any:
        return self.clients[service]


def _clients() -> dict[str, Any]:
    where = {"region_name": "us-east-1", "aws_access_key_id": "a", "aws_secret_access_key": "b"}
    return {"mwaa": boto3.client("mwaa", **where), "logs": boto3.client("logs", **where)}


def _rest(stub: Stubber, method: str, path: str, answer: Any, query: dict[str, Any] | None = None) -> None:
    expected: dict[str, Any] = {"Name": ENV, "Method": method, "Path": path}
    if query:
        expected["QueryParameters"] = query
    if method in ("POST", "PATCH"):
        expected["Body"] = ANY
    stub.add_response("invoke_rest_api", {"RestApiStatusCode": 200, "RestApiResponse": answer}, expected)


def _available(stub: Stubber) -> None:
    stub.add_response("get_environment", {"Environment": {"Name": ENV, "Status": "AVAILABLE"}}, {"Name": ENV})


def test_a_failed_run_names_each_failed_task_with_the_error_line_of_its_log() -> None:
    clients = _clients()
    with Stubber(clients["mwaa"]) as mwaa, Stubber(clients["logs"]) as logs:
        _available(mwaa)
        _rest(mwaa, "GET", f"/dags/{DAG_ID}", {"dag_id": DAG_ID, "is_paused": False})
        _rest(mwaa, "POST", f"/dags/{DAG_ID}/dagRuns", {"dag_run_id": "x", "state": "queued"})
        mwaa.add_response("invoke_rest_api", {"RestApiStatusCode": 200, "RestApiResponse": {"state": "failed"}})
        tis = [
            {"task_id": "ingest", "state": "failed", "map_index": -1, "dag_run_id": RUN_ID},
            {"task_id": "count_check", "state": "upstream_failed", "map_index": -1, "dag_run_id": RUN_ID},
            {"task_id": "generate", "state": "success", "map_index": 0, "dag_run_id": RUN_ID},
            {"task_id": "ingest", "state": "failed", "map_index": -1, "dag_run_id": f"manual__{RUN_ID}"},  # not ours
        ]
        mwaa.add_response("invoke_rest_api", {"RestApiStatusCode": 200, "RestApiResponse": {"task_instances": tis}})
        failure = {
            "level": "error",
            "event": "Task failed with exception",
            "error_detail": [{"exc_type": "GlueJobRunFailed", "exc_value": "jr_1 ended FAILED: AccessDenied"}],
        }
        logs.add_response(
            "filter_log_events",
            {
                "events": [
                    {"message": json.dumps({"level": "info", "event": "starting"})},
                    {"message": json.dumps(failure)},
                    {"message": json.dumps({"level": "info", "event": "Marking task as FAILED"})},
                ]
            },
            {
                "logGroupName": f"airflow-{ENV}-Task",
                "logStreamNamePrefix": f"dag_id={DAG_ID}/run_id={RUN_ID}/task_id=ingest/",
            },
        )
        with pytest.raises(smoke.SmokeError) as failed:
            smoke.smoke(Target(clients), NAMES, ENV, say=lambda _: None, poll_s=0, run_id=RUN_ID)
    text = str(failed.value)
    assert "failed tasks: count_check: upstream_failed; ingest: " in text
    assert text.endswith("ingest: GlueJobRunFailed: jr_1 ended FAILED: AccessDenied")


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (json.dumps({"level": "error", "event": "Glue job run jr_1 failed"}), "Glue job run jr_1 failed"),
        (json.dumps({"level": "warning", "event": "retrying"}), None),
        (
            "[2026-12-07 10:00:00] {taskinstance.py:1} ERROR - Task failed: boom",
            "[2026-12-07 10:00:00] {taskinstance.py:1} ERROR - Task failed: boom",
        ),
        ("Traceback (most recent call last):\nValueError: bad shard", "ValueError: bad shard"),
        ("INFO - all good", None),
    ],
)
def test_an_error_line_is_read_from_airflow_3_json_lines_and_from_plain_text(message: str, error: str | None) -> None:
    assert smoke.error_line(message) == error


def test_a_paused_dag_is_refused_unless_unpause_is_given() -> None:
    clients = _clients()
    with Stubber(clients["mwaa"]) as mwaa:
        _available(mwaa)
        _rest(mwaa, "GET", f"/dags/{DAG_ID}", {"dag_id": DAG_ID, "is_paused": True})
        with pytest.raises(smoke.SmokeError, match=r"is paused on .*--unpause"):
            smoke.smoke(Target(clients), NAMES, ENV, say=lambda _: None, poll_s=0)
        mwaa.assert_no_pending_responses()


def test_airflow_refusals_name_the_call_and_airflow_s_answer() -> None:
    clients = _clients()
    with Stubber(clients["mwaa"]) as mwaa:
        mwaa.add_client_error(
            "invoke_rest_api",
            service_error_code="RestApiClientException",
            service_message="The Apache Airflow REST API call failed.",
            http_status_code=400,
            modeled_fields={"RestApiStatusCode": 409, "RestApiResponse": {"detail": "run already exists"}},
        )
        with pytest.raises(smoke.SmokeError) as refused:
            smoke.invoke(clients["mwaa"], ENV, "POST", f"/dags/{DAG_ID}/dagRuns", body={})
    assert str(refused.value) == (
        f"POST /dags/{DAG_ID}/dagRuns on {ENV}: Airflow answered 409: {{'detail': 'run already exists'}}"
    )


def test_an_environment_that_is_not_available_gets_no_run() -> None:
    clients = _clients()
    with Stubber(clients["mwaa"]) as mwaa:
        mwaa.add_response("get_environment", {"Environment": {"Name": ENV, "Status": "UPDATING"}}, {"Name": ENV})
        with pytest.raises(smoke.SmokeError, match="is UPDATING, not AVAILABLE: no smoke run"):
            smoke.smoke(Target(clients), NAMES, ENV, say=lambda _: None)


def test_paths_fit_invoke_rest_api_s_64_characters() -> None:
    run_id = f"{smoke.RUN_ID_PREFIX}{'9' * 12}"
    for path in (f"/dags/{DAG_ID}/dagRuns/{run_id}", f"/dags/{DAG_ID}/dagRuns/~/taskInstances"):
        assert len(path) <= smoke.PATH_MAX, path
    with pytest.raises(ValueError, match="longer than 64"):
        smoke.invoke(None, ENV, "GET", "/" + "x" * 64)
