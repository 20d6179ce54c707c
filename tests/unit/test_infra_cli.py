"""``python -m infra``'s real parser: each command takes only its own options, and hands its handler what it needs."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest

from employee_pipeline.config import DEFAULT_PREFIX, PipelineNames, pipeline_names
from infra import cli
from infra.__main__ import main
from infra.mwaa.publish import POLL_S, PublishResult
from infra.mwaa.smoke import POLL_S as SMOKE_POLL_S
from infra.session import AwsTarget

COMMANDS = ("deploy", "destroy", "status", "cost", "mwaa")
STAGE = ["--stage", "prod"]
WHERE = {"stage": "prod", "prefix": DEFAULT_PREFIX, "endpoint_url": None, "region": None, "json": False}
NO_SMOKE = {"smoke": False, "unpause": False, "smoke_timeout": None}
NO_ENVIRONMENT = {"mwaa": False, **{o.lstrip("-").replace("-", "_"): None for o in cli.MWAA_SETTINGS}}
COST = {
    "records": 1_000_000,
    "records_per_shard": None,
    "environment_class": "mw1.small",
    "glue_workers": None,
    "glue_records_per_core_s": None,
    "mwaa_network": "nat",
    "json": False,
}


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.parse_args(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    listed = set(re.findall(r"^    (\S+)", capsys.readouterr().out, re.MULTILINE))
    assert listed == set(COMMANDS)
    with pytest.raises(SystemExit):
        main(["mwaa", "--help"])
    assert {"bundle", "publish", "smoke"} <= set(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["deploy", *STAGE], {**WHERE, "plan": False, "mwaa_execution_role": False, **NO_ENVIRONMENT}),
        (["destroy", *STAGE], {**WHERE, "poll": POLL_S}),
        (["status", *STAGE], WHERE),
        (["cost"], COST),
        (["mwaa", "bundle", "--out", "b", *STAGE], {"out": "b", "stage": "prod", "prefix": DEFAULT_PREFIX}),
        (
            ["mwaa", "publish", "--environment", "e", *STAGE],
            {**WHERE, "environment": "e", "source_bucket": None, "poll": POLL_S, **NO_SMOKE},
        ),
        (
            ["mwaa", "smoke", "--environment", "e", *STAGE],
            {**WHERE, "environment": "e", "poll": SMOKE_POLL_S, "unpause": False, "smoke_timeout": None},
        ),
    ],
    ids=["deploy", "destroy", "status", "cost", "mwaa-bundle", "mwaa-publish", "mwaa-smoke"],
)
def test_each_command_has_only_its_own_options(argv: list[str], expected: dict[str, Any]) -> None:
    args = vars(cli.parse_args(argv))
    command = args.pop("command")
    if command == "mwaa":
        assert args.pop("action") == argv[1]
    mwaa_names = {"mwaa_environment": None, "mwaa_source_bucket": None} if command in ("deploy", "status") else {}
    assert args == {"json": False, **expected, **mwaa_names}


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["cost", *STAGE], "--stage"),
        (["cost", "--prefix", "p"], "--prefix"),
        (["cost", "--plan"], "--plan"),
        (["cost", "--mwaa-execution-role"], "--mwaa-execution-role"),
        (["status", *STAGE, "--records", "7"], "--records"),
        (["status", *STAGE, "--plan"], "--plan"),
        (["status", *STAGE, "--mwaa-execution-role"], "--mwaa-execution-role"),
        (["destroy", *STAGE, "--plan"], "--plan"),
        (["destroy", *STAGE, "--mwaa-execution-role"], "--mwaa-execution-role"),
        (["destroy", *STAGE, "--mwaa-environment", "e"], "--mwaa-environment"),
        (["deploy", *STAGE, "--records", "7"], "--records"),
        (["deploy", *STAGE, "--out", "b"], "--out"),
        (["mwaa", "bundle", "--out", "b", *STAGE, "--endpoint-url", "http://x"], "--endpoint-url"),
        (["mwaa", "bundle", "--out", "b", *STAGE, "--environment", "e"], "--environment"),
        (["mwaa", "publish", "--environment", "e", *STAGE, "--out", "b"], "--out"),
        (["mwaa", "publish", "--environment", "e", *STAGE, "--plan"], "--plan"),
    ],
)
def test_an_option_of_another_command_is_a_usage_error_naming_it(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _usage_error(argv, capsys)
    command = " ".join(argv[:2] if argv[0] == "mwaa" else argv[:1])
    assert f"usage: python -m infra {command} " in err  # the command's own usage, listing what it takes
    assert f"python -m infra {command}: error: unrecognized arguments: {named}" in err


@pytest.mark.parametrize(
    ("argv", "named", "needed"),
    [
        (["deploy", *STAGE, "--mwaa-environment", "e"], "--mwaa-environment", "--mwaa-execution-role"),
        (["deploy", *STAGE, "--mwaa-source-bucket", "b", "--plan"], "--mwaa-source-bucket", "--mwaa-execution-role"),
        (["status", *STAGE, "--mwaa-environment", "e"], "--mwaa-environment", "--json"),
        (["status", *STAGE, "--mwaa-source-bucket", "b"], "--mwaa-source-bucket", "--json"),
        (["mwaa", "publish", "--environment", "e", *STAGE, "--unpause"], "--unpause", "--smoke"),
        (["mwaa", "publish", "--environment", "e", *STAGE, "--smoke-timeout", "60"], "--smoke-timeout", "--smoke"),
    ],
)
def test_an_option_without_its_companion_is_a_usage_error_naming_both(
    argv: list[str], named: str, needed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _usage_error(argv, capsys)
    command = " ".join(argv[:2]) if argv[0] == "mwaa" else argv[0]
    assert f"python -m infra {command}: error: argument {named}: only with {needed}" in err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        ([], "COMMAND"),
        (["plan", *STAGE], "'plan'"),  # deploy --plan, not a command of its own
        (["--json", "status", *STAGE], "unrecognized arguments: --json (a command's options follow it"),
        (["deploy"], "--stage"),
        (["destroy"], "--stage"),
        (["status"], "--stage"),
        (["mwaa"], "ACTION"),
        (["mwaa", "bundle", *STAGE], "--out"),
        (["mwaa", "publish", *STAGE], "--environment"),
        (["mwaa", "publish", "--environment", "e"], "--stage"),
        (["cost", "--environment-class", "mw9.huge"], "--environment-class"),
    ],
)
def test_a_missing_or_unknown_command_or_option_is_a_usage_error(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert named in _usage_error(argv, capsys)


def test_the_companion_rules_name_options_their_command_has() -> None:
    _, leaves = cli.build()
    for rule in cli.COMPANIONS:
        usage = {token.strip("[]") for token in leaves[rule.command].format_usage().split()}
        assert {rule.option, rule.needed} <= usage


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[AwsTarget]:
    """The targets the handlers build, with a fixed account: no AWS call (nor the endpoint's reachability probe)."""
    targets: list[AwsTarget] = []
    monkeypatch.setattr(AwsTarget, "check_reachable", lambda *_: None)

    def target(**kwargs: Any) -> AwsTarget:
        targets.append(AwsTarget(**kwargs, _account="123456789012"))
        return targets[-1]

    monkeypatch.setattr("infra.__main__.AwsTarget", target)
    monkeypatch.setattr("infra.mwaa.cli.AwsTarget", target)
    return targets


def test_deploy_hands_the_plan_and_the_execution_role_to_deploy(
    offline: list[AwsTarget], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []

    def deploy(target: AwsTarget, names: PipelineNames, **kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
        calls.append(kwargs)
        return [], {}

    monkeypatch.setattr("infra.__main__.deploy", deploy)
    where = ["--endpoint-url", "http://127.0.0.1:9", "--region", "eu-west-1"]
    assert main(["deploy", *STAGE, *where, "--plan", "--mwaa-execution-role", "--mwaa-environment", "env"]) == 0
    assert calls[-1] == {"apply": False, "mwaa": ("env", pipeline_names("prod").mwaa_source_bucket)}
    assert offline[-1].endpoint_url == "http://127.0.0.1:9" and offline[-1].region == "eu-west-1"
    header = f"deploy --plan stage 'prod' ({DEFAULT_PREFIX}) on http://127.0.0.1:9, region eu-west-1\n"
    assert capsys.readouterr().out.startswith(header)
    assert main(["deploy", *STAGE, "--json"]) == 0
    assert calls[-1] == {"apply": True, "mwaa": None}
    assert "plan" not in json.loads(capsys.readouterr().out)


def test_deploy_mwaa_hands_the_environment_to_deploy(
    offline: list[AwsTarget], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("infra.__main__.deploy", lambda target, names, **kw: calls.append(kw) or ([], {}))
    assert main(["deploy", *STAGE, "--mwaa", "--json"]) == 0
    spec = calls[-1]["environment"]
    names = pipeline_names("prod")
    assert (spec.environment, spec.source_bucket, spec.network) == (
        names.mwaa_environment,
        names.mwaa_source_bucket,
        "nat",
    )
    assert (spec.environment_class, spec.min_workers, spec.max_workers) == ("mw1.small", 1, 10)
    assert (spec.webserver_access_mode, spec.log_level, spec.poll_s) == ("PRIVATE_ONLY", "INFO", POLL_S)
    given = ["--mwaa-network", "endpoints", "--environment-class", "mw1.medium", "--max-workers", "3", "--poll", "1"]
    assert main(["deploy", *STAGE, "--mwaa", *given]) == 0
    spec = calls[-1]["environment"]
    assert (spec.network, spec.environment_class, spec.max_workers, spec.poll_s) == ("endpoints", "mw1.medium", 3, 1)
    assert main(["deploy", *STAGE, "--mwaa", "--subnet-ids", "subnet-a, subnet-b", "--security-group-ids", "sg-1"]) == 0
    spec = calls[-1]["environment"]
    assert (spec.network, spec.subnet_ids, spec.security_group_ids) == ("existing", ("subnet-a", "subnet-b"), ("sg-1",))
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mwaa-network", "endpoints"], "argument --mwaa-network: only with --mwaa"),
        (["--mwaa", "--subnet-ids", "a,b"], "argument --subnet-ids: only with --security-group-ids"),
        (
            ["--mwaa", "--subnet-ids", "a,b", "--security-group-ids", "s", "--mwaa-network", "nat"],
            "not with --subnet-ids",
        ),
        (["--mwaa-environment", "e"], "only with --mwaa-execution-role or --mwaa"),
    ],
)
def test_deploy_mwaa_options_need_mwaa(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert message in _usage_error(["deploy", *STAGE, *argv], capsys)


def test_destroy_and_status_get_the_stage_and_status_the_role_names(
    offline: list[AwsTarget], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stages: list[str] = []
    monkeypatch.setattr("infra.__main__.destroy", lambda target, names, poll_s: stages.append(names.stage) or [])
    monkeypatch.setattr("infra.__main__.status", lambda target, names: stages.append(names.stage) or [])
    assert main(["destroy", "--stage", "gone"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 resources: "
    named = ["--mwaa-environment", "custom-env", "--mwaa-source-bucket", "airflow-custom"]
    assert main(["status", "--stage", "seen", "--json", *named]) == 0
    assert stages == ["gone", "seen"]
    policy = json.dumps(json.loads(capsys.readouterr().out)["mwaa_execution_role"]["policy"])
    assert "environment/custom-env" in policy and "arn:aws:s3:::airflow-custom" in policy


def test_cost_hands_every_estimate_option_to_the_estimate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[Any, ...]] = []
    monkeypatch.setattr("infra.cost.estimate", lambda *args, **kw: seen.append((*args, kw)) or {"ok": True})
    argv = ["--records", "50000", "--records-per-shard", "1000", "--environment-class", "mw1.medium"]
    assert main(["cost", *argv, "--glue-workers", "3", "--glue-records-per-core-s", "900", "--json"]) == 0
    options = {"glue_workers": 3, "glue_records_per_core_s": 900.0, "network": "nat"}
    assert seen == [(50000, 1000, "mw1.medium", options)]
    assert json.loads(capsys.readouterr().out) == {"ok": True}


def test_mwaa_bundle_and_publish_get_their_options(
    offline: list[AwsTarget], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[Any, ...]] = []

    class Done:
        def as_dict(self) -> dict[str, Any]:
            return {}

    monkeypatch.setattr("infra.mwaa.cli.build_bundle", lambda out, names: calls.append((out, names.prefix)) or Done())
    monkeypatch.setattr(
        "infra.mwaa.cli.publish",
        lambda target, names, environment, bucket, say, poll_s: (
            calls.append((environment, bucket, poll_s)) or PublishResult(environment, bucket, status="AVAILABLE")
        ),
    )
    assert main(["mwaa", "bundle", "--out", str(tmp_path), *STAGE, "--prefix", "myorg", "--json"]) == 0
    where = ["--endpoint-url", "http://127.0.0.1:9"]
    publish = ["mwaa", "publish", "--environment", "e", *STAGE, "--source-bucket", "airflow-b", "--poll", "0.5"]
    assert main([*publish, *where, "--json"]) == 0
    assert calls == [(tmp_path, "myorg"), ("e", "airflow-b", 0.5)]
    assert offline[-1].endpoint_url == "http://127.0.0.1:9"


def test_every_command_has_its_own_parser() -> None:
    _, leaves = cli.build()
    assert set(leaves) == {"deploy", "destroy", "status", "cost", "mwaa bundle", "mwaa publish", "mwaa smoke"}
    assert all(isinstance(leaf, argparse.ArgumentParser) for leaf in leaves.values())
