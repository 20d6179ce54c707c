"""What provisioning reports per resource (infra/actions.py): the kinds and how an action is shown."""

from __future__ import annotations

import json

from employee_pipeline.config import pipeline_names
from infra import resources
from infra.actions import CREATED, UPDATED, Action, Kind, outcome, planned
from infra.mwaa.environment import MwaaSpec, mwaa_resources
from infra.session import AwsTarget


def test_a_kind_is_shown_as_its_plain_value() -> None:
    action = Action(Kind.LAMBDA_FUNCTION, "f", UPDATED, ["code"])
    as_text = Action("lambda_function", "f", UPDATED, ["code"])
    assert json.dumps(action.as_dict(), sort_keys=True) == json.dumps(as_text.as_dict(), sort_keys=True)
    assert json.dumps(action.as_dict(), sort_keys=True) == (
        '{"action": "updated", "changes": ["code"], "name": "f", "resource": "lambda_function"}'
    )
    assert action.line() == as_text.line() == "  updated    lambda_function   f (code)"
    assert planned(action).line() == "  update     lambda_function   f (code)"
    assert f"{Kind.S3_BUCKET}" == str(Kind.S3_BUCKET) == "s3_bucket"


def test_an_action_equals_one_named_with_the_plain_string() -> None:
    made = outcome(Kind.IAM_ROLE, "r", False, [])
    assert made == Action("iam_role", "r", CREATED)
    assert {(made.resource, made.name): made}[("iam_role", "r")] is made


def test_every_described_resource_is_of_a_kind() -> None:
    target = AwsTarget(region="eu-west-1", _account="123456789012")
    names = pipeline_names("unit")
    described = resources.stage_resources(target, names, ("env", "airflow-env"))
    described += mwaa_resources(names, MwaaSpec.default(names), names.mwaa_execution_role, every_network=True)
    assert {r.kind for r in described} == {kind.value for kind in Kind}
