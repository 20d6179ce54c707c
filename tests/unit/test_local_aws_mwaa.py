"""The local AWS's Amazon MWAA: states, shapes, checks and errors, through a real boto3 ``mwaa`` client.

The client's requests go to ``mwaa_api.MwaaApi`` in-process (a ``before-send`` hook), and S3 is moto's
in-process S3 (``mock_aws``), the backend the emulator checks source buckets against.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from local_aws import metrics, mwaa_configuration, mwaa_environments
from local_aws.faults import FAULT_TAG
from local_aws.mwaa_api import MwaaApi
from local_aws.mwaa_environments import MwaaBackends

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "airflow-unit-mwaa"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/mwaa-execution"
NETWORK = {"SubnetIds": ["subnet-aaaa", "subnet-bbbb"], "SecurityGroupIds": ["sg-aaaa"]}
DELAY_S = 2.0


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


class _Moto:
    """Stands for moto's app: records what reached it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.paths.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"moto"]


def _environ(request: Any) -> dict[str, Any]:
    url = urlsplit(request.url)
    body = request.body or b""
    body = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else body.read()
    headers = {key: value.decode() if isinstance(value, bytes) else value for key, value in request.headers.items()}
    return {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": unquote(url.path),
        "QUERY_STRING": url.query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **{"HTTP_" + key.upper().replace("-", "_"): value for key, value in headers.items()},
    }


def _wsgi(app: Any, environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    answer: dict[str, Any] = {}
    body = b"".join(app(environ, lambda status, headers: answer.update(status=status, headers=headers)))
    return int(answer["status"].split()[0]), dict(answer["headers"]), body


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def moto_app() -> _Moto:
    return _Moto()


@pytest.fixture
def api(clock: _Clock, moto_app: _Moto) -> MwaaApi:
    return MwaaApi(moto_app, MwaaBackends(delay_s=DELAY_S, clock=clock))


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


@pytest.fixture
def client(api: MwaaApi, s3: Any) -> Any:
    """A boto3 ``mwaa`` client as a caller of the local AWS builds it, answered by ``api``."""
    return _mwaa_client(api)


def _mwaa_client(api: MwaaApi, **config: Any) -> Any:
    mwaa_client = boto3.client(
        "mwaa",
        region_name=REGION,
        endpoint_url="http://mwaa.local-aws.test:4566",
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}, **config),
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        status, headers, body = _wsgi(api, _environ(request))
        return AWSResponse(request.url, status, headers, _Raw(body))

    mwaa_client.meta.events.register("before-send", send)
    return mwaa_client


def _put(s3: Any, key: str, body: bytes) -> str:
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]


def _create(client: Any, name: str = "env", **extra: Any) -> str:
    required = {"ExecutionRoleArn": ROLE_ARN, "SourceBucketArn": BUCKET_ARN, "DagS3Path": "dags"}
    return client.create_environment(Name=name, NetworkConfiguration=NETWORK, **{**required, **extra})["Arn"]


def _environment(client: Any, name: str = "env") -> dict[str, Any]:
    return client.get_environment(Name=name)["Environment"]


def _error(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Message"]


# The model.


def test_configuration_members_are_the_models() -> None:
    model = botocore.session.get_session().get_service_model("mwaa")
    create = set(model.shape_for("CreateEnvironmentInput").members)
    update = set(model.shape_for("UpdateEnvironmentInput").members)
    environment = set(model.shape_for("Environment").members)
    assert set(mwaa_configuration.CONFIG_MEMBERS) == (create & environment) - {"Name", "Tags"}
    assert update - set(mwaa_configuration.CONFIG_MEMBERS) == {"Name", "WorkerReplacementStrategy"}
    assert set(mwaa_configuration.LOG_MODULES) == set(model.shape_for("LoggingConfiguration").members)
    assert model.metadata["signingName"] == "airflow"


# States.


def test_create_is_creating_then_available(client: Any, clock: _Clock, api: MwaaApi) -> None:
    arn = _create(client, Tags={"team": "data"})
    assert arn == f"arn:aws:airflow:{REGION}:{ACCOUNT}:environment/env"

    creating = _environment(client)
    assert creating["Status"] == "CREATING"
    assert creating["LastUpdate"]["Status"] == "PENDING"
    assert "WebserverUrl" not in creating
    clock.advance(DELAY_S - 0.1)
    assert _environment(client)["Status"] == "CREATING"
    clock.advance(0.1)

    available = _environment(client)
    assert available["Status"] == "AVAILABLE"
    assert available["LastUpdate"]["Status"] == "SUCCESS"
    assert "Error" not in available["LastUpdate"]
    assert available["WebserverUrl"].endswith(f".{REGION}.airflow.amazonaws.com")
    assert isinstance(available["CreatedAt"], datetime)
    assert isinstance(available["LastUpdate"]["CreatedAt"], datetime)
    assert available["Arn"] == arn
    assert available["Tags"] == {"team": "data"}
    assert available["NetworkConfiguration"] == NETWORK
    assert available["SourceBucketArn"] == BUCKET_ARN
    assert available["DagS3Path"] == "dags"
    assert available["ExecutionRoleArn"] == ROLE_ARN
    # MWAA's defaults.
    assert available["AirflowVersion"] == mwaa_configuration.DEFAULT_AIRFLOW_VERSION
    assert available["EnvironmentClass"] == "mw1.small"
    assert (available["MinWorkers"], available["MaxWorkers"], available["Schedulers"]) == (1, 10, 2)
    assert available["WebserverAccessMode"] == "PRIVATE_ONLY"
    assert available["AirflowConfigurationOptions"] == {}
    assert available["LoggingConfiguration"]["TaskLogs"] == {"Enabled": False, "LogLevel": "INFO"}
    # Only the model's members: botocore would drop any other without a word.
    answered = api.backends.get(ACCOUNT, REGION).get_environment("env")
    assert set(answered) <= set(api.model.shape_for("Environment").members)
    assert set(answered["LastUpdate"]) <= set(api.model.shape_for("LastUpdate").members)


def test_update_is_updating_then_available_with_the_new_versions(client: Any, s3: Any, clock: _Clock) -> None:
    first = {"plugins.zip": _put(s3, "plugins.zip", b"v1"), "requirements.txt": _put(s3, "requirements.txt", b"a")}
    _create(
        client,
        PluginsS3Path="plugins.zip",
        PluginsS3ObjectVersion=first["plugins.zip"],
        RequirementsS3Path="requirements.txt",
        RequirementsS3ObjectVersion=first["requirements.txt"],
        AirflowConfigurationOptions={"core.default_timezone": "utc"},
    )
    clock.advance(DELAY_S)
    plugins, requirements = _put(s3, "plugins.zip", b"v2"), _put(s3, "requirements.txt", b"b")

    client.update_environment(
        Name="env",
        PluginsS3ObjectVersion=plugins,
        RequirementsS3ObjectVersion=requirements,
        AirflowConfigurationOptions={"core.parallelism": "64"},
        LoggingConfiguration={"TaskLogs": {"Enabled": True, "LogLevel": "WARNING"}},
    )
    updating = _environment(client)
    assert updating["Status"] == "UPDATING"
    assert updating["LastUpdate"]["Status"] == "PENDING"
    assert updating["LastUpdate"]["WorkerReplacementStrategy"] == "FORCED"
    assert updating["PluginsS3ObjectVersion"] == first["plugins.zip"]  # runs the old one until it is done
    code, status, message = _error(lambda: client.update_environment(Name="env", MaxWorkers=3))
    assert (code, status) == ("ValidationException", 400)
    assert "UPDATING" in message
    clock.advance(DELAY_S)

    available = _environment(client)
    assert available["Status"] == "AVAILABLE"
    assert available["LastUpdate"]["Status"] == "SUCCESS"
    assert (available["PluginsS3Path"], available["PluginsS3ObjectVersion"]) == ("plugins.zip", plugins)
    assert (available["RequirementsS3Path"], available["RequirementsS3ObjectVersion"]) == (
        "requirements.txt",
        requirements,
    )
    assert available["AirflowConfigurationOptions"] == {"core.parallelism": "64"}
    assert available["LoggingConfiguration"]["TaskLogs"] == {
        "Enabled": True,
        "LogLevel": "WARNING",
        "CloudWatchLogGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:airflow-env-Task",
    }
    assert available["NetworkConfiguration"] == NETWORK

    client.update_environment(Name="env", NetworkConfiguration={"SecurityGroupIds": ["sg-bbbb"]})
    clock.advance(DELAY_S)
    assert _environment(client)["NetworkConfiguration"] == {**NETWORK, "SecurityGroupIds": ["sg-bbbb"]}


def test_delete_is_deleting_then_gone(client: Any, clock: _Clock) -> None:
    _create(client)
    code, _, message = _error(lambda: client.delete_environment(Name="env"))
    assert code == "ValidationException"
    assert "CREATING" in message
    clock.advance(DELAY_S)

    assert client.delete_environment(Name="env")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _environment(client)["Status"] == "DELETING"
    assert client.list_environments()["Environments"] == ["env"]
    assert _error(lambda: client.delete_environment(Name="env"))[0] == "ValidationException"
    clock.advance(DELAY_S)

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_environment(Name="env")
    assert client.list_environments()["Environments"] == []
    assert _error(lambda: client.delete_environment(Name="env"))[:2] == ("ResourceNotFoundException", 404)


def test_list_pages_in_name_order(client: Any) -> None:
    for name in ("charlie", "alpha", "bravo"):
        _create(client, name)
    first = client.list_environments(MaxResults=2)
    assert first["Environments"] == ["alpha", "bravo"]
    last = client.list_environments(MaxResults=2, NextToken=first["NextToken"])
    assert last["Environments"] == ["charlie"]
    assert "NextToken" not in last
    pages = client.get_paginator("list_environments").paginate(PaginationConfig={"PageSize": 1})
    assert [name for page in pages for name in page["Environments"]] == ["alpha", "bravo", "charlie"]
    assert _error(lambda: client.list_environments(NextToken="not base64!"))[0] == "ValidationException"


# Faults.


def test_fault_tag_fails_the_next_update_and_keeps_the_previous_configuration(client: Any, clock: _Clock) -> None:
    arn = _create(client, MaxWorkers=5)
    clock.advance(DELAY_S)
    client.tag_resource(ResourceArn=arn, Tags={FAULT_TAG: "UpdateEnvironment:UPDATE_FAILED"})

    client.update_environment(Name="env", MaxWorkers=8)
    assert _environment(client)["Status"] == "UPDATING"
    assert client.list_tags_for_resource(ResourceArn=arn)["Tags"][FAULT_TAG] == "UpdateEnvironment:UPDATE_FAILED:0"
    clock.advance(DELAY_S)
    failed = _environment(client)
    assert failed["Status"] == "UPDATE_FAILED"
    assert failed["MaxWorkers"] == 5
    assert failed["LastUpdate"]["Status"] == "FAILED"
    assert failed["LastUpdate"]["Error"] == {
        "ErrorCode": mwaa_environments.INJECTED_ERROR_CODE,
        "ErrorMessage": f"UpdateEnvironment ended as UPDATE_FAILED: injected by the {FAULT_TAG} tag.",
    }

    client.update_environment(Name="env", MaxWorkers=8)  # from UPDATE_FAILED, as on AWS
    clock.advance(DELAY_S)
    recovered = _environment(client)
    assert (recovered["Status"], recovered["MaxWorkers"]) == ("AVAILABLE", 8)
    assert "Error" not in recovered["LastUpdate"]


def test_fault_tag_with_a_count(client: Any, clock: _Clock) -> None:
    arn = _create(client, Tags={FAULT_TAG: "UpdateEnvironment:UPDATE_FAILED:2"})
    clock.advance(DELAY_S)
    statuses = []
    for workers in (2, 3, 4):
        client.update_environment(Name="env", MaxWorkers=workers)
        clock.advance(DELAY_S)
        statuses.append(_environment(client)["Status"])
    assert statuses == ["UPDATE_FAILED", "UPDATE_FAILED", "AVAILABLE"]
    client.untag_resource(ResourceArn=arn, tagKeys=[FAULT_TAG])
    assert client.list_tags_for_resource(ResourceArn=arn)["Tags"] == {}


def test_fault_tag_fails_the_creation(client: Any, clock: _Clock) -> None:
    _create(client, Tags={FAULT_TAG: "CreateEnvironment:CREATE_FAILED"})
    clock.advance(DELAY_S)
    failed = _environment(client)
    assert failed["Status"] == "CREATE_FAILED"
    assert failed["LastUpdate"]["Error"]["ErrorCode"] == mwaa_environments.INJECTED_ERROR_CODE
    assert _error(lambda: client.update_environment(Name="env", MaxWorkers=2))[0] == "ValidationException"
    client.delete_environment(Name="env")
    clock.advance(DELAY_S)
    assert client.list_environments()["Environments"] == []


def test_a_malformed_fault_tag_is_refused(client: Any) -> None:
    code, _, message = _error(lambda: _create(client, Tags={FAULT_TAG: "CreateEnvironment:BROKEN"}))
    assert code == "ValidationException"
    assert "CreateEnvironment:CREATE_FAILED" in message
    assert client.list_environments()["Environments"] == []
    # Another service's fault is not MWAA's business.
    _create(client, Tags={FAULT_TAG: "BatchWriteItem:UnprocessedItems:1"})


# What AWS checks.


def test_object_versions_must_exist_in_the_source_bucket(client: Any, s3: Any, clock: _Clock) -> None:
    version = _put(s3, "plugins.zip", b"v1")
    _create(client, PluginsS3Path="plugins.zip", PluginsS3ObjectVersion=version)
    clock.advance(DELAY_S)

    code, status, message = _error(lambda: client.update_environment(Name="env", RequirementsS3Path="requirements.txt"))
    assert (code, status) == ("ValidationException", 400)
    assert f"RequirementsS3Path s3://{BUCKET}/requirements.txt does not exist" in message
    code, _, message = _error(lambda: client.update_environment(Name="env", PluginsS3ObjectVersion="nope"))
    assert code == "ValidationException"
    assert f"PluginsS3ObjectVersion nope of PluginsS3Path s3://{BUCKET}/plugins.zip does not exist" in message
    message = _error(lambda: client.update_environment(Name="env", StartupScriptS3ObjectVersion=version))[2]
    assert "StartupScriptS3ObjectVersion" in message
    assert "without StartupScriptS3Path" in message
    assert _environment(client)["Status"] == "AVAILABLE"  # a refused update changes nothing

    s3.delete_object(Bucket=BUCKET, Key="plugins.zip")  # a delete marker is no object
    message = _error(lambda: client.update_environment(Name="env", PluginsS3Path="plugins.zip"))[2]
    assert f"PluginsS3Path s3://{BUCKET}/plugins.zip does not exist" in message
    client.update_environment(Name="env", PluginsS3ObjectVersion=version)  # the version is still there


def test_the_source_bucket_must_exist_and_be_versioned(client: Any, s3: Any) -> None:
    message = _error(lambda: _create(client, SourceBucketArn="arn:aws:s3:::airflow-missing"))[2]
    assert "arn:aws:s3:::airflow-missing: the bucket does not exist" in message
    s3.create_bucket(Bucket="airflow-unversioned")
    message = _error(lambda: _create(client, SourceBucketArn="arn:aws:s3:::airflow-unversioned"))[2]
    assert "versioning" in message
    s3.create_bucket(Bucket="airflow-elsewhere", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket="airflow-elsewhere", VersioningConfiguration={"Status": "Enabled"})
    message = _error(lambda: _create(client, SourceBucketArn="arn:aws:s3:::airflow-elsewhere"))[2]
    assert "eu-west-1" in message


def test_model_constraints_and_conflicts_are_validation_errors(client: Any, clock: _Clock) -> None:
    code, status, message = _error(lambda: _create(client, "1-starts-with-a-digit"))
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value '1-starts-with-a-digit' at 'name'")
    message = _error(lambda: _create(client, EnvironmentClass="mw1.huge"))[2]
    assert "mw1.huge" in message
    message = _error(lambda: _create(client, MinWorkers=5, MaxWorkers=2))[2]
    assert "MinWorkers (5) must not exceed MaxWorkers (2)" in message
    message = _error(lambda: _create(client, WebserverAccessMode="EVERYONE"))[2]
    assert "enum value set" in message
    assert _error(lambda: client.list_environments(MaxResults=26))[0] == "ValidationException"
    assert _error(lambda: _create(client, Tags={"aws:reserved": "x"}))[0] == "ValidationException"
    _create(client)
    assert "already exists" in _error(lambda: _create(client))[2]
    assert client.list_environments()["Environments"] == ["env"]


def test_missing_required_members_are_refused_by_the_service_too(api: MwaaApi, s3: Any) -> None:
    unchecked = _mwaa_client(api, parameter_validation=False)  # botocore checks required members too
    code, status, message = _error(lambda: unchecked.create_environment(Name="env", DagS3Path="dags"))
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("3 validation errors detected: Value null at 'executionRoleArn'")
    assert "'networkConfiguration'" in message
    message = _error(
        lambda: unchecked.create_environment(
            Name="env",
            ExecutionRoleArn="not-a-role",
            SourceBucketArn=BUCKET_ARN,
            DagS3Path="dags",
            NetworkConfiguration={"SubnetIds": ["subnet-a"], "SecurityGroupIds": ["sg-a"]},
            AirflowConfigurationOptions={"core.secret": ""},
        )
    )[2]
    assert "Value 'not-a-role' at 'executionRoleArn' failed to satisfy constraint" in message
    assert (
        "at 'networkConfiguration.subnetIds' failed to satisfy constraint: Member must have length greater" in message
    )
    assert (
        "Value at 'airflowConfigurationOptions' failed to satisfy constraint: Map value must satisfy constraint: "
        "[Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [ -~]+]"
        in message  # sensitive: no value shown
    )
    assert "core.secret" not in message


@pytest.mark.parametrize(
    "key",
    ["Core.parallelism", "core.", ".core", "core-x.parallelism", "core." + "p" * 60],
)
def test_configuration_option_keys_outside_the_models_pattern_or_length_are_refused(client: Any, key: str) -> None:
    code, status, message = _error(lambda: _create(client, AirflowConfigurationOptions={key: "8"}))
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith(
        "1 validation error detected: Value at 'airflowConfigurationOptions' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must "
    )
    assert key not in message  # the options are sensitive: AWS shows neither keys nor values
    assert client.list_environments()["Environments"] == []
    _create(client)
    assert _error(lambda: client.update_environment(Name="env", AirflowConfigurationOptions={key: "8"}))[0] == (
        "ValidationException"
    )


def test_configuration_option_values_must_be_printable_ascii_up_to_64_kib(client: Any) -> None:
    message = _error(lambda: _create(client, AirflowConfigurationOptions={"core.x": "caf\u00e9"}))[2]
    assert "Map value must satisfy constraint: [Member must satisfy regular expression pattern: [ -~]+]" in message
    message = _error(lambda: _create(client, AirflowConfigurationOptions={"core.x": "v" * 65537}))[2]
    assert "[Member must have length less than or equal to 65536]" in message
    long_key = "core." + "k" * 59  # 64 characters: the longest key
    _create(client, AirflowConfigurationOptions={long_key: "v" * 65536, "common_io.xcom_objectstorage_path": "s3://b"})
    assert set(_environment(client)["AirflowConfigurationOptions"]) == {long_key, "common_io.xcom_objectstorage_path"}


def test_errors_are_the_modeled_exceptions(client: Any) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="Environment missing not found"):
        client.get_environment(Name="missing")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.update_environment(Name="missing", MaxWorkers=2)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_tags_for_resource(ResourceArn=f"arn:aws:airflow:{REGION}:{ACCOUNT}:environment/missing")
    with pytest.raises(client.exceptions.ValidationException):
        client.update_environment(Name="missing!", MaxWorkers=2)
    assert _error(lambda: client.create_web_login_token(Name="env"))[:2] == ("NotImplemented", 501)


def test_invoke_rest_api_needs_an_available_environment_with_an_airflow(client: Any, clock: _Clock) -> None:
    _create(client)  # no launcher here: the environment runs no Airflow
    call = lambda: client.invoke_rest_api(Name="env", Path="/dags", Method="GET")  # noqa: E731
    with pytest.raises(client.exceptions.ValidationException, match="Environment env is CREATING: the Apache"):
        call()
    clock.advance(DELAY_S)
    assert _error(call)[:2] == ("NotImplemented", 501)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke_rest_api(Name="missing", Path="/dags", Method="GET")


# Routing and counting.


def test_mwaa_requests_are_answered_and_counted_the_rest_reaches_moto(
    api: MwaaApi, client: Any, moto_app: _Moto
) -> None:
    metrics.REQUESTS.snapshot(reset=True)
    _create(client)
    client.get_environment(Name="env")
    client.get_environment(Name="env")
    client.list_environments()
    with pytest.raises(ClientError):
        client.delete_environment(Name="env")
    s3 = boto3.client("s3", region_name=REGION, endpoint_url="http://127.0.0.1:4566")
    captured: list[dict[str, Any]] = []

    def capture(request: Any, **_: Any) -> AWSResponse:
        captured.append(_environ(request))
        return AWSResponse(request.url, 200, {}, _Raw(b""))

    s3.meta.events.register("before-send", capture)
    s3.list_buckets()
    assert _wsgi(api, captured[0]) == (200, {"Content-Type": "text/plain"}, b"moto")

    assert metrics.REQUESTS.snapshot(reset=True) == {
        "mwaa": {"CreateEnvironment": 1, "DeleteEnvironment": 1, "GetEnvironment": 2, "ListEnvironments": 1}
    }
    assert moto_app.paths == ["/"]
    unknown = {**captured[0], "HTTP_AUTHORIZATION": captured[0]["HTTP_AUTHORIZATION"].replace("/s3/", "/airflow/")}
    status, headers, body = _wsgi(api, unknown)
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")
    assert metrics.REQUESTS.snapshot(reset=True) == {"mwaa": {"GET (unrecognized)": 1}}
    assert json.loads(body)["message"] == "No MWAA operation is GET /."


def test_moto_reset_forgets_the_environments(api: MwaaApi, client: Any, moto_app: _Moto) -> None:
    _create(client)
    _wsgi(api, {"REQUEST_METHOD": "POST", "PATH_INFO": "/moto-api/reset", "QUERY_STRING": ""})
    assert moto_app.paths == ["/moto-api/reset"]
    assert client.list_environments()["Environments"] == []


def test_the_delay_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(mwaa_environments.DELAY_ENV, raising=False)
    assert mwaa_environments.delay_from_env() == mwaa_environments.DEFAULT_DELAY_S == 2.0
    monkeypatch.setenv(mwaa_environments.DELAY_ENV, "0.25")
    assert MwaaBackends().get(ACCOUNT, REGION).delay_s == 0.25
    for wrong in ("soon", "-1", "nan", "inf"):
        monkeypatch.setenv(mwaa_environments.DELAY_ENV, wrong)
        with pytest.raises(ValueError, match=mwaa_environments.DELAY_ENV):
            mwaa_environments.delay_from_env()


def test_invoke_rest_api_is_decided_on_the_environments_admin_role() -> None:
    """IAM's catalogue gives airflow:InvokeRestApi the rbac-role resource: the Airflow role the call runs as."""
    from local_aws import iam_requests

    call = iam_requests.Call("airflow", "InvokeRestApi", REGION, None, None, {"Name": "env", "Path": "/dags"})
    assert [(c.action, c.resource) for c in iam_requests.checks(call, ACCOUNT)] == [
        ("airflow:InvokeRestApi", f"arn:aws:airflow:{REGION}:{ACCOUNT}:role/env/Admin")
    ]
