"""One statement taken out of a generated policy breaks the run the way AWS would, and says so.

For each role, one statement the run needs is removed from its inline policy; the run's failing task
reports IAM's AccessDenied naming the action and the resource (the run is stopped at the first failed
try: retries cannot fix a permission). The generator's only statement is its own log: on AWS, Lambda
then drops the function's log and the invocation succeeds, so the run succeeds and the audit shows the
refused log writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from employee_pipeline import layout
from infra.iam import INLINE_POLICY
from local_aws import stats
from tests.support import stages

pytestmark = [pytest.mark.e2e, pytest.mark.stage(stages.IAM_CUT)]  # "iamcut"

CONF = {"shards": 1, "records_per_shard": 5}


def _arn(pipeline: Any, service: str, resource: str) -> str:
    return f"arn:aws:{service}:us-east-1:{pipeline.aws.account_id}:{resource}"


@pytest.fixture
def without_statement(pipeline) -> Iterator[Any]:
    """``remove(role, sid)`` takes the statement out of the role's inline policy; the policy is restored after."""
    iam = pipeline.aws.client("iam")
    saved: dict[str, str] = {}

    def remove(role: str, sid: str) -> None:
        document = iam.get_role_policy(RoleName=role, PolicyName=INLINE_POLICY)["PolicyDocument"]
        saved[role] = json.dumps(document)
        kept = [s for s in document["Statement"] if s.get("Sid") != sid]
        assert len(kept) == len(document["Statement"]) - 1, f"{role} has no statement {sid}"
        if kept:
            cut = json.dumps({**document, "Statement": kept})
            iam.put_role_policy(RoleName=role, PolicyName=INLINE_POLICY, PolicyDocument=cut)
        else:  # IAM refuses a policy with no statement: the role is left with none
            iam.delete_role_policy(RoleName=role, PolicyName=INLINE_POLICY)

    yield remove
    for role, document in saved.items():
        iam.put_role_policy(RoleName=role, PolicyName=INLINE_POLICY, PolicyDocument=document)


def _fails_with_access_denied(pipeline, hour: datetime, name: str, task: str, action: str, resource: str) -> None:
    def first_failure(current: str, state: str) -> bool:
        return current.split("[")[0] == task and state in ("up_for_retry", "failed")

    result = pipeline.run(hour, CONF, name, kill_when=first_failure)
    assert not result.succeeded
    assert result.states.get(task, result.states.get(f"{task}[0]")) in ("up_for_retry", "failed"), result.states
    expected = f"is not authorized to perform: {action} on resource: {resource} "
    assert "AccessDenied" in result.text and expected in result.text, result.text[-6000:]


@pytest.mark.parametrize(
    ("role", "sid", "task", "action", "resource"),
    [
        ("writer_role", "WriteShards", "write", "s3:PutObject", "s3-raw"),
        ("glue_role", "HoldTheBatchLease", "ingest", "dynamodb:DescribeTable", "lease-table"),
        ("mwaa_execution_role", "CountTheBatch", "count_check", "dynamodb:Query", "index"),
    ],
)
def test_a_removed_statement_fails_the_run_with_access_denied_naming_action_and_resource(
    pipeline, without_statement, role: str, sid: str, task: str, action: str, resource: str
) -> None:
    hours = {"WriteShards": 1, "HoldTheBatchLease": 2, "CountTheBatch": 3}
    hour = datetime(2026, 3, 1, hours[sid], tzinfo=UTC)
    names = pipeline.names
    arns = {
        "s3-raw": f"arn:aws:s3:::{names.data_bucket}/{layout.raw_key(layout.batch_id_for(hour), 0)}",
        "lease-table": _arn(pipeline, "dynamodb", f"table/{names.lease_table}"),
        "index": _arn(pipeline, "dynamodb", f"table/{names.table}/index/{names.gsi}"),
    }
    without_statement(getattr(names, role), sid)
    _fails_with_access_denied(pipeline, hour, f"without-{sid}", task, action, arns[resource])


def test_without_its_log_statement_the_generator_runs_and_its_log_writes_are_refused(
    pipeline, without_statement, local_aws: str
) -> None:
    names = pipeline.names
    without_statement(names.generator_role, "WriteItsOwnLog")
    result = pipeline.run(datetime(2026, 3, 1, 4, tzinfo=UTC), CONF, "without-generator-log")
    assert result.succeeded, result.text[-5000:]
    refused = [
        c
        for c in stats.iam_audit(local_aws)["calls"]
        if not c["allowed"] and c["role"] and c["role"].endswith(f":role/{names.generator_role}")
    ]
    group = f"log-group:/aws/lambda/{names.generator_function}:log-stream:"
    assert {c["action"] for c in refused} == {"logs:CreateLogStream", "logs:PutLogEvents"}, refused
    assert all(group in c["resource"] for c in refused)
