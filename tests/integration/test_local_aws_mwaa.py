"""Amazon MWAA on the real emulator, through a boto3 ``mwaa`` client as a publisher uses it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from local_aws import stats
from local_aws.faults import FAULT_TAG
from local_aws.mwaa_environments import delay_from_env
from tests.support.mwaa_api import AIRFLOW_OFF, MWAA_GONE, network, statuses_until_settled

pytestmark = pytest.mark.integration

BUCKET = "airflow-it-local-aws-mwaa"
ENVIRONMENT = "it-local-aws-mwaa"


@pytest.fixture(scope="module")
def mwaa(aws) -> Any:
    return aws.client("mwaa")  # no "api." host prefix in front of the local endpoint


@pytest.fixture(scope="module")
def s3(aws) -> Any:
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


def _upload(s3: Any) -> dict[str, str]:
    """plugins.zip and requirements.txt, new versions: {key: version id}."""
    return {
        key: s3.put_object(Bucket=BUCKET, Key=key, Body=f"{key} {time.time_ns()}".encode())["VersionId"]
        for key in ("plugins.zip", "requirements.txt")
    }


def test_create_update_list_delete(aws, local_aws: str, mwaa: Any, s3: Any) -> None:
    transient_seen = delay_from_env() > 0  # LOCAL_AWS_MWAA_DELAY_S=0 ends every transition at once
    before = stats.request_counts(local_aws).get("mwaa", {})
    first = _upload(s3)
    arn = mwaa.create_environment(
        Name=ENVIRONMENT,
        ExecutionRoleArn=f"arn:aws:iam::{aws.account_id}:role/{ENVIRONMENT}-execution",
        SourceBucketArn=f"arn:aws:s3:::{BUCKET}",
        DagS3Path="dags",
        PluginsS3Path="plugins.zip",
        PluginsS3ObjectVersion=first["plugins.zip"],
        RequirementsS3Path="requirements.txt",
        RequirementsS3ObjectVersion=first["requirements.txt"],
        NetworkConfiguration=network(aws),
        Tags=AIRFLOW_OFF,  # the control plane only: no Airflow behind it
        AirflowVersion="3.3.1",
        EnvironmentClass="mw1.small",
    )["Arn"]
    assert arn == f"arn:aws:airflow:{aws.region_name}:{aws.account_id}:environment/{ENVIRONMENT}"
    assert statuses_until_settled(mwaa, ENVIRONMENT) == (["CREATING", "AVAILABLE"] if transient_seen else ["AVAILABLE"])

    second = _upload(s3)
    mwaa.update_environment(
        Name=ENVIRONMENT,
        PluginsS3ObjectVersion=second["plugins.zip"],
        RequirementsS3ObjectVersion=second["requirements.txt"],
    )
    assert statuses_until_settled(mwaa, ENVIRONMENT) == (["UPDATING", "AVAILABLE"] if transient_seen else ["AVAILABLE"])
    environment = mwaa.get_environment(Name=ENVIRONMENT)["Environment"]
    assert environment["PluginsS3ObjectVersion"] == second["plugins.zip"]
    assert environment["RequirementsS3ObjectVersion"] == second["requirements.txt"]
    assert environment["LastUpdate"]["Status"] == "SUCCESS"

    with pytest.raises(mwaa.exceptions.ValidationException, match="PluginsS3ObjectVersion no-such-version"):
        mwaa.update_environment(Name=ENVIRONMENT, PluginsS3ObjectVersion="no-such-version")

    # A failed update (the fault tag, set through TagResource: the ARN travels in the path).
    mwaa.tag_resource(ResourceArn=arn, Tags={FAULT_TAG: "UpdateEnvironment:UPDATE_FAILED"})
    third = _upload(s3)
    mwaa.update_environment(Name=ENVIRONMENT, PluginsS3ObjectVersion=third["plugins.zip"])
    assert statuses_until_settled(mwaa, ENVIRONMENT)[-1] == "UPDATE_FAILED"
    environment = mwaa.get_environment(Name=ENVIRONMENT)["Environment"]
    assert environment["PluginsS3ObjectVersion"] == second["plugins.zip"]
    assert environment["LastUpdate"]["Status"] == "FAILED"
    assert environment["LastUpdate"]["Error"]["ErrorCode"]
    assert mwaa.list_tags_for_resource(ResourceArn=arn)["Tags"] == {
        **AIRFLOW_OFF,
        FAULT_TAG: "UpdateEnvironment:UPDATE_FAILED:0",
    }

    assert ENVIRONMENT in mwaa.list_environments()["Environments"]
    mwaa.delete_environment(Name=ENVIRONMENT)
    assert statuses_until_settled(mwaa, ENVIRONMENT) == (["DELETING", MWAA_GONE] if transient_seen else [MWAA_GONE])
    assert ENVIRONMENT not in mwaa.list_environments()["Environments"]

    after = stats.request_counts(local_aws)["mwaa"]
    counted = {operation: after.get(operation, 0) - before.get(operation, 0) for operation in after}
    assert {op: n for op, n in counted.items() if op != "GetEnvironment" and n} == {
        "CreateEnvironment": 1,
        "UpdateEnvironment": 3,
        "TagResource": 1,
        "ListTagsForResource": 1,
        "ListEnvironments": 2,
        "DeleteEnvironment": 1,
    }
    assert counted["GetEnvironment"] >= 6
