"""`python -m infra mwaa publish` and `deploy --mwaa-execution-role` against the local AWS's MWAA."""

from __future__ import annotations

import json
from typing import Any

import pytest

from employee_pipeline.layout import XCOM_BACKEND
from infra import mwaa_role, storage
from infra.__main__ import main
from infra.mwaa.options import configuration_options, environment_variables
from local_aws.faults import FAULT_TAG
from tests.support.mwaa_api import AIRFLOW_OFF, network, statuses_until_settled

pytestmark = pytest.mark.integration


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and "--json" in argv else out), err


def _environment(aws, stage, name: str, bucket: str, **extra: Any) -> str:
    storage.ensure_bucket(aws, bucket)  # versioned, public access blocked
    aws.client("s3").put_object(Bucket=bucket, Key="dags/old_helper.py", Body=b"# left by an earlier release\n")
    mwaa = aws.client("mwaa")
    arn = mwaa.create_environment(
        Name=name,
        ExecutionRoleArn=f"arn:aws:iam::{aws.account_id}:role/{stage.mwaa_execution_role}",
        SourceBucketArn=f"arn:aws:s3:::{bucket}",
        DagS3Path="dags",
        NetworkConfiguration=network(aws),
        Tags=AIRFLOW_OFF,  # the control plane only: no Airflow behind it
        AirflowVersion="3.3.1",
        EnvironmentClass="mw1.small",
        **extra,
    )["Arn"]
    assert statuses_until_settled(mwaa, name)[-1] == "AVAILABLE"
    return arn


def test_publish_uploads_updates_and_waits_then_changes_nothing(aws, local_aws, stage, capsys) -> None:
    name, bucket = "it-publish", "airflow-it-publish"
    # An option set by hand stays; an earlier release's undocumented spelling of a needed one is replaced.
    earlier = {"core.parallelism": "8", "common.io.xcom_objectstorage_path": "s3://aws_default@elsewhere/xcom"}
    _environment(aws, stage, name, bucket, AirflowConfigurationOptions=earlier)
    publish = ("mwaa", "publish", "--environment", name, "--stage", stage.stage, "--endpoint-url", local_aws)

    code, first, err = _cli(capsys, *publish, "--poll", "0.2", "--json")
    assert code == 0, err
    assert first["updated"] and first["status"] == "AVAILABLE"
    assert first["artifacts"]["plugins.zip"] == first["artifacts"]["startup.sh"] == "uploaded"
    assert first["artifacts"]["dags/employee_batch_pipeline.py"] == "uploaded"
    assert first["artifacts"]["dags/old_helper.py"] == "deleted"
    environment = aws.client("mwaa").get_environment(Name=name)["Environment"]
    s3 = aws.client("s3")
    for key, setting in (("plugins.zip", "PluginsS3ObjectVersion"), ("startup.sh", "StartupScriptS3ObjectVersion")):
        assert environment[setting] == s3.head_object(Bucket=bucket, Key=key)["VersionId"]
    assert environment["RequirementsS3Path"] == "requirements.txt"
    options = environment["AirflowConfigurationOptions"]
    assert options == {"core.parallelism": "8", **configuration_options(stage)}
    assert options["core.xcom_backend"] == XCOM_BACKEND
    assert all(key.count(".") == 1 for key in options)  # section.key: the form MWAA documents
    variables = environment_variables(options)  # what MWAA gives Airflow
    assert variables["AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH"] == f"s3://aws_default@{stage.data_bucket}/xcom"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="dags/")["Contents"]}
    assert keys == {k for k in first["artifacts"] if k.startswith("dags/") and first["artifacts"][k] != "deleted"}

    code, again, err = _cli(capsys, *publish, "--poll", "0.2", "--json")
    assert code == 0, err
    assert set(again["artifacts"].values()) == {"unchanged"} and not again["updated"]
    after = aws.client("mwaa").get_environment(Name=name)["Environment"]
    assert after["LastUpdate"]["CreatedAt"] == environment["LastUpdate"]["CreatedAt"]  # no update was made


def test_publish_refuses_an_unsafe_bucket_and_a_failed_environment(aws, local_aws, stage, capsys) -> None:
    name, bucket = "it-publish-failing", "airflow-it-publish-failing"
    arn = _environment(aws, stage, name, bucket)
    publish = ("mwaa", "publish", "--environment", name, "--stage", stage.stage, "--endpoint-url", local_aws)
    s3 = aws.client("s3")

    unversioned = "airflow-it-publish-unversioned"
    s3.create_bucket(Bucket=unversioned)
    code, _, err = _cli(capsys, *publish, "--source-bucket", unversioned)
    assert code == 1 and f"source bucket {unversioned} has no versioning enabled" in err
    s3.put_bucket_versioning(Bucket=unversioned, VersioningConfiguration={"Status": "Enabled"})
    code, _, err = _cli(capsys, *publish, "--source-bucket", unversioned)
    assert code == 1 and f"source bucket {unversioned} does not block public access (BlockPublicAcls" in err
    assert "Contents" not in s3.list_objects_v2(Bucket=unversioned)  # nothing was uploaded

    aws.client("mwaa").tag_resource(ResourceArn=arn, Tags={FAULT_TAG: "UpdateEnvironment:UPDATE_FAILED"})
    code, _, err = _cli(capsys, *publish, "--poll", "0.2")
    assert code == 1 and f"MWAA environment {name} ended the update UPDATE_FAILED: InjectedFault" in err
    code, _, err = _cli(capsys, *publish, "--poll", "0.2")
    assert code == 1 and f"MWAA environment {name} is UPDATE_FAILED, not AVAILABLE" in err


def test_deploy_creates_the_execution_role_status_prints_its_policy(aws, local_aws, stage, capsys) -> None:
    where = ("--stage", stage.stage, "--endpoint-url", local_aws, "--json")
    code, deployed, err = _cli(capsys, "deploy", *where, "--mwaa-execution-role")
    assert code == 0, err
    role = aws.client("iam").get_role(RoleName=stage.mwaa_execution_role)["Role"]
    assert deployed["outputs"]["mwaa_execution_role_arn"] == role["Arn"]
    assert role["AssumeRolePolicyDocument"] == mwaa_role.trust_policy(aws)
    policy = aws.client("iam").get_role_policy(RoleName=role["RoleName"], PolicyName="pipeline-access")
    code, status, err = _cli(capsys, "status", *where)
    assert code == 0, err
    assert status["mwaa_execution_role"]["policy"] == policy["PolicyDocument"]
    code, again, err = _cli(capsys, "deploy", *where, "--mwaa-execution-role")
    assert code == 0, err
    assert {a["action"] for a in again["actions"] if a["resource"] == "iam_role"} == {"unchanged"}
