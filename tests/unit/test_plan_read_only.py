"""A plan's clients only read (infra/session.py): what they let through, checked against botocore's models,
and what they refuse, refused before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import botocore.session
import pytest
from botocore.stub import Stubber

from employee_pipeline.config import pipeline_names
from infra import deploy as deploy_module
from infra.__main__ import main
from infra.actions import Action
from infra.session import READ_OPERATIONS, READ_SERVICES, AwsTarget, WriteRefused, is_read

# Nothing listens here: a request that reached the wire would fail with a connection error.
NOWHERE = "http://127.0.0.1:9"
MODELS = botocore.session.get_session()


@pytest.fixture
def target() -> AwsTarget:
    return AwsTarget(region="us-east-1", endpoint_url=NOWHERE, _account="123456789012")


def _sent(client: Any) -> list[str]:
    """The operations ``client`` sends from now on (recorded at before-send, the last step before the wire)."""
    sent: list[str] = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.context["operation_name"]))
    return sent


@pytest.mark.parametrize("service", sorted(READ_SERVICES))
def test_what_a_reader_lets_through_is_a_read_in_the_service_model(service: str) -> None:
    model = MODELS.get_service_model(service)
    reads = [op for op in model.operation_names if is_read(service, op)]
    assert reads, f"{service}: no read operation"
    if model.protocol.startswith("rest"):  # methods mean something: a read is a GET or a HEAD
        methods = {op: model.operation_model(op).http["method"] for op in reads}
        assert {op: m for op, m in methods.items() if m not in ("GET", "HEAD")} == {}
    # A creation takes an idempotency token (CreateGlossary, TransactWriteItems...): no read does.
    tokens = [
        op
        for op in reads
        if (shape := model.operation_model(op).input_shape)
        and any(member.metadata.get("idempotencyToken") for member in shape.members.values())
    ]
    assert tokens == []
    writes = [op for op in model.operation_names if op.startswith(("Create", "Put", "Update", "Delete", "Tag"))]
    assert not any(is_read(service, op) for op in writes)


def test_the_reads_named_one_by_one_are_operations_of_the_models() -> None:
    for service, operation in READ_OPERATIONS:
        assert operation in MODELS.get_service_model(service).operation_names, (service, operation)


def test_a_service_whose_model_is_not_checked_is_refused_whole() -> None:
    assert not is_read("sqs", "ListQueues")
    assert not is_read("ecs", "DescribeClusters")


@pytest.mark.parametrize(
    ("service", "call", "kwargs", "name"),
    [
        ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b""}, "s3:PutObject"),
        ("s3", "create_bucket", {"Bucket": "b"}, "s3:CreateBucket"),
        ("iam", "put_role_policy", {"RoleName": "r", "PolicyName": "p", "PolicyDocument": "{}"}, "iam:PutRolePolicy"),
        ("lambda", "tag_resource", {"Resource": "arn", "Tags": {"k": "v"}}, "lambda:TagResource"),
        ("dynamodb", "update_table", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST"}, "dynamodb:UpdateTable"),
        ("sns", "create_topic", {"Name": "t"}, "sns:CreateTopic"),
        ("sqs", "list_queues", {}, "sqs:ListQueues"),
    ],
)
def test_a_reader_refuses_every_other_operation_before_sending_it(
    target: AwsTarget, service: str, call: str, kwargs: dict[str, Any], name: str
) -> None:
    client = target.reader().client(service)
    sent = _sent(client)
    with pytest.raises(WriteRefused) as refused:
        getattr(client, call)(**kwargs)
    operation = name.split(":")[1]
    assert str(refused.value) == (
        f"{name} refused: a plan (deploy --plan) must not change AWS, and {operation} is not a read"
    )
    assert sent == []


def test_a_reader_refuses_a_write_with_invalid_parameters_as_a_write(target: AwsTarget) -> None:
    with pytest.raises(WriteRefused, match="s3:PutObject refused"):
        target.reader().client("s3").put_object()


def test_a_readers_resource_refuses_too(target: AwsTarget) -> None:
    with pytest.raises(WriteRefused, match="dynamodb:PutItem refused"):
        target.reader().resource("dynamodb").Table("t").put_item(Item={"k": "v"})


def test_a_reader_sends_reads(target: AwsTarget) -> None:
    client = target.reader().client("s3")
    with Stubber(client) as stub:
        stub.add_response("head_bucket", {}, {"Bucket": "b"})
        stub.add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": "b"})
        client.head_bucket(Bucket="b")
        assert client.get_bucket_versioning(Bucket="b")["Status"] == "Enabled"


def test_a_reader_is_the_same_target_and_leaves_it_writing(target: AwsTarget) -> None:
    reader = target.reader()
    assert reader.session is target.session and reader.account_id == target.account_id
    assert (reader.region_name, reader.endpoint_url) == (target.region_name, target.endpoint_url)
    assert reader.read_only and not target.read_only
    client = target.client("s3")
    with Stubber(client) as stub:
        stub.add_response("put_object", {}, {"Bucket": "b", "Key": "k", "Body": b""})
        client.put_object(Bucket="b", Key="k", Body=b"")


@dataclass(frozen=True)
class Unguarded:
    """A resource whose ensure forgot its ``if apply:``: it writes whatever ``apply`` says."""

    name: str = "alerts"
    kind: ClassVar[str] = "sns_topic"
    owned: ClassVar[bool] = True

    def ensure(self, target: AwsTarget, arns: Any, *, apply: bool) -> tuple[Action, str | None]:
        target.client("sns").create_topic(Name=self.name)
        return Action(self.kind, self.name, "created"), None


def test_a_plan_walks_with_a_reader_so_a_forgotten_guard_fails_it(
    target: AwsTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deploy_module, "stage_resources", lambda *_: (Unguarded(),))
    with pytest.raises(WriteRefused, match=r"sns:CreateTopic refused: a plan \(deploy --plan\) must not change AWS"):
        deploy_module.deploy(target, pipeline_names("unit"), apply=False)
    assert not target.read_only


def test_the_cli_says_which_write_a_plan_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(deploy_module, "stage_resources", lambda *_: (Unguarded(),))
    monkeypatch.setattr(AwsTarget, "check_reachable", lambda *_: None)  # NOWHERE is never contacted
    assert main(["deploy", "--plan", "--stage", "unit", "--endpoint-url", NOWHERE]) == 1
    assert capsys.readouterr().err == (
        "error: deploy failed: sns:CreateTopic refused: a plan (deploy --plan) must not change AWS, "
        "and CreateTopic is not a read\n"
    )
