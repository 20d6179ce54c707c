"""The real Airflow behind the local AWS's MWAA, on the environment test_environment_from_empty_account.py
deployed and smoke-ran (the same stage; either module alone deploys it): it serves its DAG through
InvokeRestApi (as its execution role, with its options and startup.sh's exports), restarts on an update,
survives updates whose DAG does not import or whose requirements.txt cannot install (UPDATE_FAILED with
the reason, the previous Airflow answering), refuses what AWS refuses, and ``destroy`` leaves nothing of the
stage and no process behind. The tests share the environment and run in file order."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from typing import Any

import boto3
import psutil
import pytest

from employee_pipeline.config import DAG_ID, STAGE_VARIABLE, pipeline_names
from infra.mwaa.bundle import REQUIREMENTS_TXT, variable_env_name
from infra.session import AwsTarget
from local_aws.mwaa_airflow import STATE_DIR
from local_aws.mwaa_airflow import TAG as AIRFLOW_TAG
from local_aws.mwaa_source import MWAA_SERVICE as MWAA_SOURCE_SERVICE
from local_run.airflow_env import MWAA_SERVICE, ROLE_CREDENTIALS_PATH, config_env_var
from tests.support.infra_cli import POLL, infra, ok
from tests.support.leftovers import leftovers
from tests.support.mwaa_api import statuses_until_settled

pytestmark = [pytest.mark.mwaa, pytest.mark.timeout(1800), pytest.mark.stage("mwaaenv")]
NAMES = pipeline_names("mwaaenv")
START_TIMEOUT_S = 300  # a cold venv build; about 30 s with the venv cached
MISSING_PACKAGE = "employee-pipeline-no-such-package==0.0.1"


def _airflow_processes(name: str) -> list[psutil.Process]:
    """The processes of the environment's Airflow: their AIRFLOW_HOME is under its state folder."""
    found = []
    for process in psutil.process_iter():
        try:
            home = process.environ().get("AIRFLOW_HOME", "")
        except (psutil.Error, OSError):
            continue
        if home.startswith(str(STATE_DIR)) and f"-{name}/" in home:
            found.append(process)
    return found


def _standalone_pids(name: str) -> set[int]:
    """The pids of the environment's ``airflow standalone`` processes (one per running Airflow)."""
    return {p.pid for p in _airflow_processes(name) if p.cmdline()[-1:] == ["standalone"]}


@pytest.fixture(scope="module")
def mwaa(aws: AwsTarget) -> Any:
    return aws.client("mwaa")


@pytest.fixture(scope="module")
def described(environment: dict[str, Any], mwaa: Any) -> dict[str, Any]:
    """The deployed environment as GetEnvironment describes it (updated by the tests that change it)."""
    return mwaa.get_environment(Name=NAMES.mwaa_environment)["Environment"]


def _get_dag(mwaa: Any, name: str) -> dict[str, Any]:
    return mwaa.invoke_rest_api(Name=name, Path=f"/dags/{DAG_ID}", Method="GET")


def test_the_network_must_exist_in_ec2(aws: AwsTarget, mwaa: Any, described: dict[str, Any]) -> None:
    with pytest.raises(mwaa.exceptions.ValidationException, match="The subnet ID 'subnet-a1' does not exist"):
        mwaa.create_environment(
            Name=f"{NAMES.mwaa_environment}-bad-network",
            ExecutionRoleArn=f"arn:aws:iam::{aws.account_id}:role/{NAMES.mwaa_execution_role}",
            SourceBucketArn=f"arn:aws:s3:::{NAMES.mwaa_source_bucket}",
            DagS3Path="dags",
            NetworkConfiguration={"SubnetIds": ["subnet-a1", "subnet-b2"], "SecurityGroupIds": ["sg-c3"]},
        )


def test_the_environment_serves_its_dag_through_invoke_rest_api(
    described: dict[str, Any], mwaa: Any, local_aws: str
) -> None:
    answer = _get_dag(mwaa, described["Name"])
    assert answer["RestApiStatusCode"] == 200
    assert answer["RestApiResponse"]["dag_id"] == DAG_ID
    listed = mwaa.invoke_rest_api(Name=described["Name"], Path="/dags", Method="GET", QueryParameters={"limit": 5})
    assert [dag["dag_id"] for dag in listed["RestApiResponse"]["dags"]] == [DAG_ID]
    # Its processes run as the execution role, through the container credentials endpoint only.
    processes = _airflow_processes(described["Name"])
    assert processes, "no Airflow process found for the environment"
    env = processes[0].environ()
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].endswith(f"/{NAMES.mwaa_execution_role}")
    # What startup.sh exports and the environment's AirflowConfigurationOptions, as AIRFLOW__SECTION__KEY.
    assert env[variable_env_name(STAGE_VARIABLE)] == NAMES.stage
    for option, value in described["AirflowConfigurationOptions"].items():
        assert env[config_env_var(option)] == value
    assert json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == local_aws


def test_an_update_restarts_airflow_with_the_new_configuration(described: dict[str, Any], mwaa: Any) -> None:
    name = described["Name"]
    before = _standalone_pids(name)
    options = {**described["AirflowConfigurationOptions"], "core.default_task_retries": "2"}
    mwaa.update_environment(Name=name, AirflowConfigurationOptions=options)
    assert statuses_until_settled(mwaa, name, timeout=START_TIMEOUT_S) == ["UPDATING", "AVAILABLE"]
    assert mwaa.get_environment(Name=name)["Environment"]["AirflowConfigurationOptions"] == options
    after = _airflow_processes(name)
    assert len(before) == 1 and before.isdisjoint(_standalone_pids(name))
    assert {p.environ().get("AIRFLOW__CORE__DEFAULT_TASK_RETRIES") for p in after} == {"2"}
    assert _get_dag(mwaa, name)["RestApiStatusCode"] == 200
    described["AirflowConfigurationOptions"] = options  # what the later tests roll back to


def test_an_airflow_4xx_is_a_rest_api_client_exception(described: dict[str, Any], mwaa: Any) -> None:
    with pytest.raises(mwaa.exceptions.RestApiClientException) as caught:
        mwaa.invoke_rest_api(Name=described["Name"], Path="/dags/no_such_dag", Method="GET")
    assert caught.value.response["RestApiStatusCode"] == 404
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "no_such_dag" in str(caught.value.response["RestApiResponse"])


def test_a_caller_without_airflow_invoke_rest_api_is_refused(
    aws: AwsTarget, local_aws: str, described: dict[str, Any]
) -> None:
    """The execution role (the tasks' credentials) may do much, but not call the environment's REST API."""
    url = f"{local_aws}{ROLE_CREDENTIALS_PATH}{MWAA_SERVICE}/{NAMES.mwaa_execution_role}"
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=30) as response:
        session = json.load(response)
    as_role = boto3.client(
        "mwaa",
        endpoint_url=aws.endpoint_url,
        region_name=aws.region_name,
        aws_access_key_id=session["AccessKeyId"],
        aws_secret_access_key=session["SecretAccessKey"],
        aws_session_token=session["Token"],
        config=aws.client("mwaa").meta.config,
    )
    with pytest.raises(as_role.exceptions.AccessDeniedException, match="airflow:InvokeRestApi"):
        _get_dag(as_role, described["Name"])


def test_a_bundle_that_cannot_start_leaves_update_failed_and_publish_says_why(
    aws: AwsTarget,
    local_aws: str,
    described: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from infra.__main__ import main
    from infra.mwaa import publish

    bundle_contents = publish.bundle_contents

    def broken(names: Any) -> dict[str, bytes]:
        contents = dict(bundle_contents(names))
        contents[REQUIREMENTS_TXT] = contents[REQUIREMENTS_TXT] + f"{MISSING_PACKAGE}\n".encode()
        return contents

    monkeypatch.setattr(publish, "bundle_contents", broken)
    argv = ["mwaa", "publish", "--environment", NAMES.mwaa_environment, "--stage", NAMES.stage, "--poll", "1"]
    started = time.monotonic()
    assert main([*argv, "--endpoint-url", local_aws]) == 1
    assert time.monotonic() - started < 120, "a requirements.txt that cannot install must fail fast"
    err = capsys.readouterr().err
    assert "UPDATE_FAILED" in err and MISSING_PACKAGE.split("==")[0] in err, err
    mwaa = aws.client("mwaa")
    after = mwaa.get_environment(Name=NAMES.mwaa_environment)["Environment"]
    assert after["Status"] == "UPDATE_FAILED"
    assert after["LastUpdate"]["Status"] == "FAILED"
    assert after["LastUpdate"]["Error"]["ErrorCode"] == "RequirementsInstallFailed"
    assert (
        f"{MISSING_PACKAGE.split('==')[0]} was not found in the package registry"
        in (after["LastUpdate"]["Error"]["ErrorMessage"])
    )
    # Rolled back, as AWS does: the previous requirements.txt, and the previous bundle's Airflow still answers.
    assert after["RequirementsS3ObjectVersion"] == described["RequirementsS3ObjectVersion"]
    assert _get_dag(mwaa, NAMES.mwaa_environment)["RestApiStatusCode"] == 200


def test_an_update_whose_dag_does_not_import_fails_and_the_previous_airflow_serves_again(
    aws: AwsTarget, described: dict[str, Any], mwaa: Any
) -> None:
    name, bucket = described["Name"], NAMES.mwaa_source_bucket
    broken = f"{described['DagS3Path'].rstrip('/')}/broken_dag.py"
    s3 = aws.client("s3")
    s3.put_object(Bucket=bucket, Key=broken, Body=b"from airflow.sdk import DAG\nimport no_such_module_here\n")
    try:
        before = _standalone_pids(name)
        options = {**described["AirflowConfigurationOptions"], "core.default_task_retries": "1"}
        mwaa.update_environment(Name=name, AirflowConfigurationOptions=options)
        assert statuses_until_settled(mwaa, name, timeout=START_TIMEOUT_S) == ["UPDATING", "UPDATE_FAILED"]
    finally:
        s3.delete_object(Bucket=bucket, Key=broken)
    after = mwaa.get_environment(Name=name)["Environment"]
    assert after["LastUpdate"]["Error"] == {
        "ErrorCode": "DagImportError",
        "ErrorMessage": "Broken DAG: [dags/broken_dag.py] ModuleNotFoundError: No module named 'no_such_module_here'",
    }
    assert after["AirflowConfigurationOptions"] == described["AirflowConfigurationOptions"]  # rolled back
    assert _get_dag(mwaa, name)["RestApiStatusCode"] == 200
    assert _standalone_pids(name) == before  # the previous Airflow served throughout; the new one is gone


def test_an_execution_role_that_cannot_read_the_bucket_fails_the_creation(
    aws: AwsTarget, mwaa: Any, described: dict[str, Any]
) -> None:
    iam, role = aws.client("iam"), f"{NAMES.mwaa_environment}-no-read"
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": MWAA_SOURCE_SERVICE}, "Action": "sts:AssumeRole"}],
    }
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    name = f"{NAMES.mwaa_environment}-no-read"
    paths = {key: described[key] for key in ("DagS3Path", "RequirementsS3Path", "RequirementsS3ObjectVersion")}
    mwaa.create_environment(
        Name=name,
        ExecutionRoleArn=role_arn,
        SourceBucketArn=described["SourceBucketArn"],
        NetworkConfiguration=described["NetworkConfiguration"],
        Tags={AIRFLOW_TAG: "on"},
        **paths,
    )
    try:
        assert statuses_until_settled(mwaa, name, timeout=60) == ["CREATING", "CREATE_FAILED"]
        error = mwaa.get_environment(Name=name)["Environment"]["LastUpdate"]["Error"]
        assert error["ErrorCode"] == "SourceUnreadable"
        assert f"as {role_arn} failed: AccessDenied" in error["ErrorMessage"]
        assert "s3:ListBucket" in error["ErrorMessage"]
    finally:
        mwaa.delete_environment(Name=name)
        statuses_until_settled(mwaa, name, timeout=60)
        iam.delete_role(RoleName=role)


def test_destroy_leaves_nothing_of_the_stage_and_stops_its_airflow(
    aws: AwsTarget, local_aws: str, described: dict[str, Any]
) -> None:
    name = described["Name"]
    processes = _airflow_processes(name)
    groups = {os_group for os_group in (_group(p) for p in processes) if os_group}
    assert processes and groups
    ok(infra(local_aws, "destroy", "--stage", NAMES.stage, *POLL))
    assert leftovers(aws, NAMES) == {}
    alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"still running: {[(p.pid, p.cmdline()[:3]) for p in alive]}"
    assert _airflow_processes(name) == []
    assert list(STATE_DIR.glob(f"*-{name}")) == []  # its homes went with it
    in_groups = [p for p in psutil.process_iter() if _group(p) in groups]
    assert in_groups == []


def _group(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except (ProcessLookupError, psutil.Error):
        return None
