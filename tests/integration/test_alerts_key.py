"""The alerts topic is encrypted with the stage's KMS key, and the local AWS asks of a publisher what AWS
asks: the MWAA execution role's alert reaches the topic's SQS subscriber; without its KMS statement, SNS
refuses the publish with KMSAccessDenied, as on AWS."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from employee_pipeline.config import PipelineNames
from infra.keys import alias_name
from local_aws.iam_gate import CREDENTIALS_PATH

pytestmark = pytest.mark.integration

MWAA = "airflow-env.amazonaws.com"
POLICY = "pipeline-access"


def _sns_as(endpoint: str, role: str) -> Any:
    """An SNS client with the session of ``role`` as MWAA assumes it (the local AWS's credentials endpoint)."""
    with urllib.request.urlopen(f"{endpoint}{CREDENTIALS_PATH}{MWAA}/{role}", timeout=10) as response:
        credentials = json.load(response)
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["Token"],
        region_name="us-east-1",
    )
    return session.client("sns", endpoint_url=endpoint)


def test_the_execution_role_publishes_to_the_encrypted_topic_only_with_its_kms_statement(
    aws, local_aws: str, stage: PipelineNames
) -> None:
    topic = aws.arn("sns", stage.alerts_topic)
    alias = alias_name(stage.alerts_topic)
    key = aws.client("kms").describe_key(KeyId=alias)["KeyMetadata"]
    assert aws.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"] == alias
    sqs = aws.client("sqs")
    queue = sqs.create_queue(QueueName=f"{stage.stage}-encrypted-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    sns = _sns_as(local_aws, stage.mwaa_execution_role)

    sns.publish(TopicArn=topic, Message="a task failed")
    [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", [])
    assert message["Body"] == "a task failed"  # an unencrypted queue needs nothing of the key

    iam = aws.client("iam")
    held = iam.get_role_policy(RoleName=stage.mwaa_execution_role, PolicyName=POLICY)["PolicyDocument"]
    [statement] = [s for s in held["Statement"] if s["Sid"] == "EncryptFailureAlerts"]
    assert statement["Resource"] == key["Arn"]  # exactly the stage's key
    kept = {**held, "Statement": [s for s in held["Statement"] if s["Sid"] != "EncryptFailureAlerts"]}
    iam.put_role_policy(RoleName=stage.mwaa_execution_role, PolicyName=POLICY, PolicyDocument=json.dumps(kept))
    try:
        with pytest.raises(ClientError) as caught:
            sns.publish(TopicArn=topic, Message="a task failed")
        with pytest.raises(ClientError) as as_target:  # how the provider's SnsHook names the topic
            sns.publish(TargetArn=topic, Message="a task failed")
    finally:
        iam.put_role_policy(RoleName=stage.mwaa_execution_role, PolicyName=POLICY, PolicyDocument=json.dumps(held))
    error = caught.value.response["Error"]
    assert (error["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("KMSAccessDenied", 400)
    assert f"not authorized to perform: kms:GenerateDataKey on resource: {key['Arn']}" in error["Message"], error
    assert as_target.value.response["Error"]["Code"] == "KMSAccessDenied"
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", []) == []
