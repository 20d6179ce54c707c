"""A real Airflow behind the local AWS's MWAA: one environment of this module's stage, created from its
published bundle on a VPC of moto's EC2, serves its DAG through InvokeRestApi (as its execution role,
with its options and startup.sh's exports), restarts on an update, survives updates whose
requirements.txt cannot install or whose DAG does not import (UPDATE_FAILED with the reason, the
previous Airflow answering), and leaves no process behind once deleted. No DAG run here (tests/mwaa
runs one). The tests share the environment and run in file order."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import psutil
import pytest

from employee_pipeline.config import DAG_ID, STAGE_VARIABLE, PipelineNames, pipeline_names
from infra import mwaa_role, storage
from infra.deploy import deploy
from infra.mwaa.bundle import SOURCE_BUCKET_LAYOUT, variable_env_name
from infra.mwaa.options import configuration_options
from infra.mwaa.publish import upload_bundle
from infra.session import AwsTarget
from local_aws.mwaa_airflow import STATE_DIR
from local_aws.mwaa_airflow import TAG as AIRFLOW_TAG
from local_aws.mwaa_source import MWAA_SERVICE as MWAA_SOURCE_SERVICE
from local_run.airflow_env import MWAA_SERVICE, ROLE_CREDENTIALS_PATH, config_env_var
from tests.support.mwaa_api import MWAA_GONE, network, statuses_until_settled

pytestmark = [pytest.mark.integration, pytest.mark.mwaa, pytest.mark.timeout(900), pytest.mark.stage("lmwaa")]
START_TIMEOUT_S = 300  # a cold venv build; about 30 s with the venv cached
MISSING = "no-such-package-of-the-local-aws-mwaa"


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
def names(aws: AwsTarget, module_stage: str) -> PipelineNames:
    """The module's stage with its MWAA execution role; its bundle published to its source bucket."""
    names = pipeline_names(module_stage)
    deploy(aws, names, mwaa=mwaa_role.default_environment(names))
    storage.ensure_bucket(aws, names.mwaa_source_bucket)
    return names


@pytest.fixture(scope="module")
def mwaa(aws: AwsTarget) -> Any:
    return aws.client("mwaa")


@pytest.fixture(scope="module")
def environment(aws: AwsTarget, names: PipelineNames, mwaa: Any) -> Iterator[dict[str, Any]]:
    """CreateEnvironment -> AVAILABLE: the environment as GetEnvironment describes it then (deleted at the end)."""
    _, versions = upload_bundle(aws.client("s3"), names.mwaa_source_bucket, names, lambda _: None)
    name = names.mwaa_environment
    started = time.monotonic()
    mwaa.create_environment(
        Name=name,
        ExecutionRoleArn=f"arn:aws:iam::{aws.account_id}:role/{names.mwaa_execution_role}",
        SourceBucketArn=f"arn:aws:s3:::{names.mwaa_source_bucket}",
        NetworkConfiguration=network(aws),
        AirflowConfigurationOptions=configuration_options(names),
        AirflowVersion="3.3.1",
        Tags={AIRFLOW_TAG: "on"},  # whatever LOCAL_AWS_MWAA_AIRFLOW the session's local AWS has
        **SOURCE_BUCKET_LAYOUT.environment_paths(),
        **versions,
    )
    statuses = statuses_until_settled(mwaa, name, timeout=START_TIMEOUT_S)
    described = mwaa.get_environment(Name=name)["Environment"]
    assert statuses == ["CREATING", "AVAILABLE"], described.get("LastUpdate")
    print(f"CreateEnvironment -> AVAILABLE in {time.monotonic() - started:.0f} s")
    yield described
    if name in mwaa.list_environments()["Environments"]:  # a test failed before deleting it
        mwaa.delete_environment(Name=name)
        statuses_until_settled(mwaa, name, timeout=120)


def _get_dag(mwaa: Any, name: str) -> dict[str, Any]:
    return mwaa.invoke_rest_api(Name=name, Path=f"/dags/{DAG_ID}", Method="GET")


def test_the_network_must_exist_in_ec2(aws: AwsTarget, names: PipelineNames, mwaa: Any) -> None:
    with pytest.raises(mwaa.exceptions.ValidationException, match="The subnet ID 'subnet-a1' does not exist"):
        mwaa.create_environment(
            Name=f"{names.mwaa_environment}-bad-network",
            ExecutionRoleArn=f"arn:aws:iam::{aws.account_id}:role/{names.mwaa_execution_role}",
            SourceBucketArn=f"arn:aws:s3:::{names.mwaa_source_bucket}",
            DagS3Path="dags",
            NetworkConfiguration={"SubnetIds": ["subnet-a1", "subnet-b2"], "SecurityGroupIds": ["sg-c3"]},
        )


def test_the_environment_serves_its_dag_through_invoke_rest_api(
    environment: dict[str, Any], mwaa: Any, names: PipelineNames, local_aws: str
) -> None:
    answer = _get_dag(mwaa, environment["Name"])
    assert answer["RestApiStatusCode"] == 200
    assert answer["RestApiResponse"]["dag_id"] == DAG_ID
    listed = mwaa.invoke_rest_api(Name=environment["Name"], Path="/dags", Method="GET", QueryParameters={"limit": 5})
    assert [dag["dag_id"] for dag in listed["RestApiResponse"]["dags"]] == [DAG_ID]
    # Its processes run as the execution role, through the container credentials endpoint only.
    processes = _airflow_processes(environment["Name"])
    assert processes, "no Airflow process found for the environment"
    env = processes[0].environ()
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].endswith(f"/{names.mwaa_execution_role}")
    # What startup.sh exports and the environment's AirflowConfigurationOptions, as AIRFLOW__SECTION__KEY.
    assert env[variable_env_name(STAGE_VARIABLE)] == names.stage
    for option, value in environment["AirflowConfigurationOptions"].items():
        assert env[config_env_var(option)] == value
    assert json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == local_aws


def test_an_update_restarts_airflow_with_the_new_configuration(environment: dict[str, Any], mwaa: Any) -> None:
    name = environment["Name"]
    before = _standalone_pids(name)
    options = {**environment["AirflowConfigurationOptions"], "core.default_task_retries": "2"}
    mwaa.update_environment(Name=name, AirflowConfigurationOptions=options)
    assert statuses_until_settled(mwaa, name, timeout=START_TIMEOUT_S) == ["UPDATING", "AVAILABLE"]
    assert mwaa.get_environment(Name=name)["Environment"]["AirflowConfigurationOptions"] == options
    after = _airflow_processes(name)
    assert len(before) == 1 and before.isdisjoint(_standalone_pids(name))
    assert {p.environ().get("AIRFLOW__CORE__DEFAULT_TASK_RETRIES") for p in after} == {"2"}
    assert _get_dag(mwaa, name)["RestApiStatusCode"] == 200
    environment["AirflowConfigurationOptions"] = options  # what the later tests roll back to


def test_an_airflow_4xx_is_a_rest_api_client_exception(environment: dict[str, Any], mwaa: Any) -> None:
    with pytest.raises(mwaa.exceptions.RestApiClientException) as caught:
        mwaa.invoke_rest_api(Name=environment["Name"], Path="/dags/no_such_dag", Method="GET")
    assert caught.value.response["RestApiStatusCode"] == 404
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "no_such_dag" in str(caught.value.response["RestApiResponse"])


def test_a_caller_without_airflow_invoke_rest_api_is_refused(
    aws: AwsTarget, local_aws: str, environment: dict[str, Any], names: PipelineNames
) -> None:
    """The execution role (the tasks' credentials) may do much, but not call the environment's REST API."""
    url = f"{local_aws}{ROLE_CREDENTIALS_PATH}{MWAA_SERVICE}/{names.mwaa_execution_role}"
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
        _get_dag(as_role, environment["Name"])


def test_an_update_whose_requirements_cannot_install_fails_and_keeps_the_previous_airflow(
    aws: AwsTarget, environment: dict[str, Any], mwaa: Any, names: PipelineNames
) -> None:
    name = environment["Name"]
    s3 = aws.client("s3")
    current = s3.get_object(
        Bucket=names.mwaa_source_bucket,
        Key=environment["RequirementsS3Path"],
        VersionId=environment["RequirementsS3ObjectVersion"],
    )["Body"].read()
    broken = s3.put_object(
        Bucket=names.mwaa_source_bucket, Key=environment["RequirementsS3Path"], Body=current + f"{MISSING}\n".encode()
    )["VersionId"]
    started = time.monotonic()
    mwaa.update_environment(Name=name, RequirementsS3ObjectVersion=broken)
    assert statuses_until_settled(mwaa, name, timeout=START_TIMEOUT_S) == ["UPDATING", "UPDATE_FAILED"]
    assert time.monotonic() - started < 60, "a requirements.txt that cannot install must fail fast"
    after = mwaa.get_environment(Name=name)["Environment"]
    assert after["LastUpdate"]["Status"] == "FAILED"
    error = after["LastUpdate"]["Error"]
    assert error["ErrorCode"] == "RequirementsInstallFailed"
    assert f"{MISSING} was not found in the package registry" in error["ErrorMessage"]
    assert after["RequirementsS3ObjectVersion"] == environment["RequirementsS3ObjectVersion"]  # rolled back
    assert _get_dag(mwaa, name)["RestApiStatusCode"] == 200  # the previous Airflow still serves


def test_an_update_whose_dag_does_not_import_fails_and_the_previous_airflow_serves_again(
    aws: AwsTarget, environment: dict[str, Any], mwaa: Any, names: PipelineNames
) -> None:
    name, bucket = environment["Name"], names.mwaa_source_bucket
    broken = f"{environment['DagS3Path'].rstrip('/')}/broken_dag.py"
    s3 = aws.client("s3")
    s3.put_object(Bucket=bucket, Key=broken, Body=b"from airflow.sdk import DAG\nimport no_such_module_here\n")
    try:
        before = _standalone_pids(name)
        options = {**environment["AirflowConfigurationOptions"], "core.default_task_retries": "1"}
        mwaa.update_environment(Name=name, AirflowConfigurationOptions=options)
        assert statuses_until_settled(mwaa, name, timeout=START_TIMEOUT_S) == ["UPDATING", "UPDATE_FAILED"]
    finally:
        s3.delete_object(Bucket=bucket, Key=broken)
    after = mwaa.get_environment(Name=name)["Environment"]
    assert after["LastUpdate"]["Error"] == {
        "ErrorCode": "DagImportError",
        "ErrorMessage": "Broken DAG: [dags/broken_dag.py] ModuleNotFoundError: No module named 'no_such_module_here'",
    }
    assert after["AirflowConfigurationOptions"] == environment["AirflowConfigurationOptions"]  # rolled back
    assert _get_dag(mwaa, name)["RestApiStatusCode"] == 200
    assert _standalone_pids(name) == before  # the previous Airflow served throughout; the new one is gone


def test_an_execution_role_that_cannot_read_the_bucket_fails_the_creation(
    aws: AwsTarget, names: PipelineNames, mwaa: Any, environment: dict[str, Any]
) -> None:
    iam, role = aws.client("iam"), f"{names.mwaa_environment}-no-read"
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": MWAA_SOURCE_SERVICE}, "Action": "sts:AssumeRole"}],
    }
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    name = f"{names.mwaa_environment}-no-read"
    paths = {key: environment[key] for key in ("DagS3Path", "RequirementsS3Path", "RequirementsS3ObjectVersion")}
    mwaa.create_environment(
        Name=name,
        ExecutionRoleArn=role_arn,
        SourceBucketArn=environment["SourceBucketArn"],
        NetworkConfiguration=environment["NetworkConfiguration"],
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


def test_delete_removes_the_environment_and_stops_its_airflow(environment: dict[str, Any], mwaa: Any) -> None:
    name = environment["Name"]
    processes = _airflow_processes(name)
    groups = {os_group for os_group in (_group(p) for p in processes) if os_group}
    assert processes and groups
    mwaa.delete_environment(Name=name)
    assert statuses_until_settled(mwaa, name, timeout=120) == ["DELETING", MWAA_GONE]
    assert name not in mwaa.list_environments()["Environments"]
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
