"""The calls the pipeline really makes, as the local AWS's IAM saw them, against the generated policies.

Every call of every e2e run is allowed for the principal that made it (no refusal anywhere but in the
stage whose policies ``test_iam_statement_removed`` cuts on purpose), and every statement of every
generated policy allowed at least one observed call, or says below why no local run makes that call.
This module runs after the other e2e modules (see conftest), so the audit holds all their runs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from employee_pipeline.config import PipelineNames
from infra import iam, mwaa_role
from local_aws import stats
from tests.support import stages

pytestmark = [pytest.mark.e2e, pytest.mark.stage("iamaudit")]

CONF = {"shards": 2, "records_per_shard": 10}
# Statements no local run can use, and why.
UNUSED_LOCALLY = {
    "glue": {
        "GlueJobMetrics": "Glue's runtime publishes the job's metrics (--enable-metrics); the local executor runs "
        "the script only",
    },
    "mwaa": {
        "MwaaPublishMetrics": "MWAA's own Airflow metrics",
        "MwaaNoBucketListing": "a Deny: it refuses, and tests/unit/test_iam_coverage.py proves it does",
        "MwaaReadSourceBucket": "MWAA reads its source bucket; the local Airflow reads dags/ from disk",
        "MwaaReadSourceObjects": "MWAA reads its source bucket; the local Airflow reads dags/ from disk",
        "MwaaLogs": "MWAA ships Airflow's logs to CloudWatch; the local Airflow logs to files",
        "MwaaDescribeLogGroups": "MWAA ships Airflow's logs to CloudWatch",
        "MwaaPublicAccessBlockCheck": "MWAA checks its source bucket's public access block",
        "MwaaMetrics": "MWAA's own Airflow metrics",
        "MwaaCeleryQueues": "MWAA's Celery executor queues; the local Airflow runs tasks in process",
        "MwaaQueueEncryption": "KMS through SQS happens only on MWAA's Celery queues",
    },
}
KINDS = {"generator_role": "generator", "writer_role": "writer", "glue_role": "glue", "mwaa_execution_role": "mwaa"}
WHOLE_TIER = {"test_pipeline_run", "test_recovery", "test_replacement", "test_bad_input", "test_scheduler"}


def _kind(role_arn: str, names: PipelineNames) -> str | None:
    """generator, writer, glue or mwaa: the generated role ``role_arn`` is, whatever the stage."""
    role = role_arn.rsplit("/", 1)[1]
    for attribute, kind in KINDS.items():
        if role.endswith(getattr(names, attribute).removeprefix(f"{names.prefix}-{names.stage}")):
            return kind
    return None


def _policies(aws, names: PipelineNames) -> dict[str, dict]:
    generated = {KINDS[a]: iam.role_policies(aws, names)[getattr(names, a)][1] for a in list(KINDS)[:3]}
    environment, bucket = mwaa_role.default_environment(names)
    generated["mwaa"] = mwaa_role.execution_policy(aws, names, environment, bucket)
    return generated


def test_every_call_of_every_run_was_allowed_for_its_role(pipeline, local_aws: str) -> None:
    result = pipeline.run(datetime(2026, 2, 1, 9, tzinfo=UTC), CONF, "audited")
    assert result.succeeded, result.text[-5000:]
    audit = stats.iam_audit(local_aws)
    assert audit["enforced"] is True
    cut = f"-{stages.IAM_CUT}-"
    refused = [line for line in stats.refusals(audit) if cut not in line]
    assert not refused, "\n".join(refused)
    names = pipeline.names
    made = {_kind(c["role"], names) for c in audit["calls"] if c["role"] and f"-{names.stage}-" in c["role"]}
    assert made >= {"generator", "writer", "glue", "mwaa"}, made


def test_every_statement_is_used_by_a_run_or_says_why_not(pipeline, local_aws: str, request) -> None:
    modules = {item.module.__name__.rpartition(".")[2] for item in request.session.items}
    if not modules >= WHOLE_TIER:
        pytest.skip(f"needs the audit of the whole e2e tier ({sorted(WHOLE_TIER - modules)} not collected)")
    names = pipeline.names
    used: dict[str, set[str]] = {kind: set() for kind in KINDS.values()}
    for call in stats.iam_audit(local_aws)["calls"]:
        if call["allowed"] and call["role"] and call["policy"] and "inline policy" in call["policy"]:
            kind = _kind(call["role"], names)
            if kind:
                used[kind].add(call["statement"])
    unexplained = []
    for kind, policy in _policies(pipeline.aws, names).items():
        for statement in policy["Statement"]:
            sid = statement["Sid"]
            reason = UNUSED_LOCALLY.get(kind, {}).get(sid)
            if sid not in used[kind] and not reason:
                unexplained.append(f"{kind}: {sid} allowed no call and says no reason")
            if sid in used[kind] and reason:
                unexplained.append(f"{kind}: {sid} is used, yet listed as unused ({reason})")
    assert not unexplained, "\n".join(unexplained)
