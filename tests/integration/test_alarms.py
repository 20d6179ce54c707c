"""The stage's CloudWatch alarms and dashboard through the local AWS: deployed with the stage, evaluated as
CloudWatch evaluates them, notifying the stage's topic (as cloudwatch.amazonaws.com, allowed by the topic's
policy and by the policy of the stage's KMS key that encrypts it; under the AWS-managed alias/aws/sns key,
refused as on AWS), shown by status and removed by destroy."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from employee_pipeline import config
from employee_pipeline.config import PipelineNames, pipeline_names
from infra import monitoring, tagging
from infra.actions import planned
from infra.deploy import destroy, status
from infra.keys import Key, alias_name
from infra.notifications import topic_arn
from infra.resources import Topic
from tests.support import iam_audit

Walk = Callable[..., dict[str, tuple[str, list[str]]]]


@pytest.fixture(scope="module")
def monitored(aws) -> tuple[PipelineNames, Walk]:
    """A stage of its own (the shared stage's metrics are other tests' too) with only its topic, alarms and
    dashboard deployed, as deploy walks them; and that walk, to run again (``apply=False``: a plan)."""
    names = pipeline_names("alarmsit")
    tags = tagging.stage_tags(names)
    alarms, key = monitoring.alarm_names(names), alias_name(names.alerts_topic)
    walked = (
        Key(key, tags, alarms),
        Topic(names.alerts_topic, tags, alarms, key),
        *monitoring.stage_monitoring(names, tags),
    )

    def walk(*, apply: bool = True) -> dict[str, tuple[str, list[str]]]:
        arns: dict[str, str] = {}
        done = {}
        for resource in walked:
            action, arn = resource.ensure(aws if apply else aws.reader(), arns, apply=apply)
            arns[resource.name] = arn or ""
            action = action if apply else planned(action)
            done[resource.name] = (action.action, action.changes)
        return done

    assert {action for action, _ in walk().values()} == {"created"}
    return names, walk


def _quarantined(aws, names: PipelineNames, fraction: float) -> None:
    """What a batch with ``fraction`` of its rows quarantined publishes (among its other metrics)."""
    aws.client("cloudwatch").put_metric_data(
        Namespace=config.METRICS_NAMESPACE,
        MetricData=[
            {
                "MetricName": config.METRIC_QUARANTINED_FRACTION,
                "Dimensions": [{"Name": config.METRIC_DIMENSION, "Value": names.stage}],
                "Value": fraction,
            }
        ],
    )


def _subscribe(aws, names: PipelineNames) -> str:
    sqs, sns = aws.client("sqs"), aws.client("sns")
    queue = sqs.create_queue(QueueName=f"{names.stage}-alarm-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = topic_arn(aws, names.alerts_topic)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return queue


def _received(aws, queue: str) -> list[dict]:
    # The local AWS notifies within PutMetricData and SNS delivers within Publish: nothing to wait for.
    answer = aws.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def _failed_run(aws, names: PipelineNames) -> None:
    aws.client("cloudwatch").put_metric_data(
        Namespace=config.METRICS_NAMESPACE,
        MetricData=[
            {
                "MetricName": config.METRIC_FAILED_RUNS,
                "Dimensions": [{"Name": config.METRIC_DIMENSION, "Value": names.stage}],
                "Value": 1.0,
            }
        ],
    )


def test_a_quarantined_share_over_the_tolerance_alarms_and_notifies_the_topic(aws, local_aws: str, monitored) -> None:
    stage, _ = monitored
    cloudwatch = aws.client("cloudwatch")
    found = cloudwatch.describe_alarms(AlarmNames=list(monitoring.alarm_names(stage)))["MetricAlarms"]
    states = {alarm["AlarmName"]: alarm["StateValue"] for alarm in found}
    # No batch loaded yet: missing data is breaching for the no-loaded-batch alarm; the others see nothing.
    assert states == {stage.quarantine_alarm: "OK", stage.no_batch_alarm: "ALARM", stage.failed_runs_alarm: "OK"}
    queue = _subscribe(aws, stage)
    before = iam_audit.calls(local_aws)

    _quarantined(aws, stage, 0.2)  # a fifth of a batch's rows; the DAG tolerates none by default

    [alarm] = cloudwatch.describe_alarms(AlarmNames=[stage.quarantine_alarm])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [0.2 ")
    [message] = _received(aws, queue)
    assert message["AlarmName"] == stage.quarantine_alarm and message["AlarmArn"] == alarm["AlarmArn"]
    assert (message["OldStateValue"], message["NewStateValue"]) == ("OK", "ALARM")
    assert message["NewStateReason"] == alarm["StateReason"]
    trigger = message["Trigger"]
    assert (trigger["MetricName"], trigger["Namespace"]) == (
        config.METRIC_QUARANTINED_FRACTION,
        config.METRICS_NAMESPACE,
    )
    assert (trigger["ComparisonOperator"], trigger["Threshold"]) == (
        "GreaterThanThreshold",
        config.DEFAULT_MAX_QUARANTINE_FRACTION,
    )
    # Published as CloudWatch, which only the topic's policy lets in, encrypted with the stage's key, whose
    # policy lets CloudWatch use it for the stage's alarms.
    decided = iam_audit.calls_since(before, iam_audit.calls(local_aws))
    [publish] = [c for c in decided if c["action"] == "sns:Publish"]
    assert publish["principal"] == "cloudwatch.amazonaws.com" and publish["allowed"], publish
    assert "topic policy" in publish["policy"]
    used = {c["action"]: c for c in decided if c["action"].startswith("kms:")}
    assert set(used) == {"kms:GenerateDataKey", "kms:Decrypt"}, decided
    assert all(c["allowed"] and c["statement"] == "StageAlarmsPublishToTheTopic" for c in used.values()), used

    # A second breaching datapoint is no new transition: no second notification.
    _quarantined(aws, stage, 0.5)
    assert _received(aws, queue) == []
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[stage.quarantine_alarm])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"

    # Under the AWS-managed key, whose policy admits no service, CloudWatch's notification is refused, as on
    # AWS: the alarm changes state, nothing arrives.
    sns, topic = aws.client("sns"), topic_arn(aws, stage.alerts_topic)
    sns.set_topic_attributes(TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue="alias/aws/sns")
    before = iam_audit.calls(local_aws)
    _failed_run(aws, stage)
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[stage.failed_runs_alarm])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"
    assert _received(aws, queue) == []
    refused = [c for c in iam_audit.calls_since(before, iam_audit.calls(local_aws)) if not c["allowed"]]
    assert [(c["principal"], c["action"]) for c in refused] == [("cloudwatch.amazonaws.com", "kms:GenerateDataKey")]
    assert "no key policy allows" in refused[0]["reason"], refused
    key = alias_name(stage.alerts_topic)
    sns.set_topic_attributes(TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue=key)

    body = json.loads(cloudwatch.get_dashboard(DashboardName=stage.dashboard)["DashboardBody"])
    graphed = {m[1] for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]}
    assert graphed == {
        config.METRIC_ROWS_READ,
        config.METRIC_ROWS_LOADED,
        config.METRIC_ROWS_QUARANTINED,
        config.METRIC_QUARANTINED_FRACTION,
        config.METRIC_GLUE_LOAD_SECONDS,
        config.METRIC_DYNAMODB_RETRIES,
        config.METRIC_LATENCY_SECONDS,
        config.METRIC_BATCHES_LOADED,
        config.METRIC_FAILED_RUNS,
    }


def test_the_monitoring_is_converged_shown_and_destroyed(aws, monitored) -> None:
    """Deployed again unchanged (PutMetricAlarm and PutDashboard only on a difference), a changed alarm is
    planned and put back, status shows them with their states, and destroy removes them."""
    names, walk = monitored
    assert {action for action, _ in walk().values()} == {"unchanged"}
    cloudwatch = aws.client("cloudwatch")
    [spec] = [s for s in monitoring.stage_monitoring(names, {}) if s.name == names.failed_runs_alarm]
    cloudwatch.put_metric_alarm(**{**spec.definition(topic_arn(aws, names.alerts_topic)), "Threshold": 5.0})
    assert walk(apply=False)[names.failed_runs_alarm] == ("update", ["Threshold"])
    assert walk()[names.failed_runs_alarm] == ("updated", ["Threshold"])
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[names.failed_runs_alarm])["MetricAlarms"]
    assert alarm["Threshold"] == 1.0
    held = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
    assert tagging.from_list(held) == tagging.stage_tags(names)

    key, kms = alias_name(names.alerts_topic), aws.client("kms")
    key_id = kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
    shown = {r["name"]: r for r in status(aws, names)}
    assert shown[names.dashboard]["exists"] and shown[names.no_batch_alarm]["state"] == "ALARM"
    assert shown[key]["exists"] and shown[key]["resource"] == "kms_key"
    removed = {a.name: a.action for a in destroy(aws, names)}
    assert {removed[n] for n in (*monitoring.alarm_names(names), names.dashboard, names.alerts_topic)} == {"deleted"}
    # A key cannot be deleted at once: its alias goes and its deletion is scheduled after KMS's shortest window.
    assert removed[key] == "deleted"
    assert key not in {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert not {r["name"]: r for r in status(aws, names)}[key]["exists"]
    assert cloudwatch.list_dashboards(DashboardNamePrefix=names.dashboard)["DashboardEntries"] == []
    assert cloudwatch.describe_alarms(AlarmNames=list(monitoring.alarm_names(names)))["MetricAlarms"] == []
