"""deploy --plan cannot change AWS: it walks with clients that refuse every operation that is not a read."""

from __future__ import annotations

import pytest

from employee_pipeline.config import PipelineNames, pipeline_names
from infra import mwaa_role, storage
from infra.deploy import deploy, status
from infra.log_groups import GLUE_SHARED_GROUPS
from infra.session import WriteRefused, is_read
from local_aws import stats

pytestmark = pytest.mark.integration


def _served(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, int]:
    """``service:Operation`` -> requests the local AWS served between two snapshots of its counts."""
    return {
        f"{service}:{operation}": count - before.get(service, {}).get(operation, 0)
        for service, operations in after.items()
        for operation, count in operations.items()
        if count != before.get(service, {}).get(operation, 0)
    }


def _writes(served: dict[str, int]) -> dict[str, int]:
    return {call: n for call, n in served.items() if not is_read(*call.split(":"))}


def _plan(aws, local_aws: str, names: PipelineNames) -> tuple[list, dict[str, int]]:
    before = stats.request_counts(local_aws)
    actions, _ = deploy(aws, names, apply=False, mwaa=mwaa_role.default_environment(names))
    return actions, _served(before, stats.request_counts(local_aws))


def test_a_plan_of_a_new_stage_sends_only_reads(aws, local_aws: str) -> None:
    names = pipeline_names("readonlynew")
    actions, served = _plan(aws, local_aws, names)
    assert served and _writes(served) == {}
    # The account-wide Glue log groups exist already when an earlier stage created them.
    assert {a.action for a in actions if a.name not in GLUE_SHARED_GROUPS} == {"create"}
    assert not any(r["exists"] for r in status(aws, names))


def test_a_plan_of_a_deployed_stage_sends_only_reads(aws, local_aws: str, stage: PipelineNames) -> None:
    actions, served = _plan(aws, local_aws, stage)
    assert served and _writes(served) == {}
    assert {a.action for a in actions} == {"unchanged"}


def test_a_forgotten_guard_fails_the_plan_and_changes_nothing(
    aws, local_aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bucket's ensure that ignores ``apply`` (as a missing ``if apply:`` would): its first write is
    refused before it is sent, the plan fails, and AWS is as it was."""
    names = pipeline_names("readonlyguard")
    unguarded = storage.ensure_bucket
    monkeypatch.setattr(
        storage,
        "ensure_bucket",
        lambda target, bucket, expire=None, *, tags=None, apply=True: unguarded(
            target, bucket, expire, tags=tags, apply=True
        ),
    )
    before = stats.request_counts(local_aws)
    with pytest.raises(WriteRefused, match=r"s3:CreateBucket refused: a plan \(deploy --plan\) must not change AWS"):
        deploy(aws, names, apply=False)
    assert _writes(_served(before, stats.request_counts(local_aws))) == {}
    assert not any(r["exists"] for r in status(aws, names))
    assert not aws.read_only  # the plan's reader is its own: the target deploy writes with is unchanged
