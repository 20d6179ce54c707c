"""pipeline_names refuses a stage and prefix whose names AWS would refuse, before any AWS call."""

from __future__ import annotations

import pytest

from employee_pipeline import config
from employee_pipeline.config import NAME_LIMITS, pipeline_names
from infra.__main__ import main

DEFAULT = pipeline_names()
BASE = len(f"{DEFAULT.prefix}-{DEFAULT.stage}")


def _parts(base: int) -> tuple[str, str]:
    """(stage, prefix) making a ``{prefix}-{stage}`` of ``base`` characters (each part at most 31)."""
    prefix = "p" * min(31, base - 2)
    return "s" * (base - 1 - len(prefix)), prefix


# (the name's field, its kind): every limit a stage and prefix of at most 31 characters each can exceed.
REACHABLE = [
    ("mwaa_execution_role", config.IAM_ROLE),
    ("generator_role", config.IAM_ROLE),
    ("writer_role", config.IAM_ROLE),
    ("glue_role", config.IAM_ROLE),
    ("artifacts_bucket", config.S3_BUCKET),
    ("mwaa_source_bucket", config.S3_BUCKET),
    ("data_bucket", config.S3_BUCKET),
    ("generator_function", config.LAMBDA_FUNCTION),
    ("writer_function", config.LAMBDA_FUNCTION),
]


def _name(field: str, stage: str, prefix: str) -> str:
    """The ``field`` name ``pipeline_names(stage, prefix)`` derives (without its checks)."""
    return getattr(DEFAULT, field).replace(f"{DEFAULT.prefix}-{DEFAULT.stage}", f"{prefix}-{stage}")


@pytest.mark.parametrize(("field", "kind"), REACHABLE)
def test_a_name_one_character_over_its_limit_is_refused_with_its_length_and_limit(field: str, kind: str) -> None:
    limit = NAME_LIMITS[kind]
    longest = limit - (len(getattr(DEFAULT, field)) - BASE)  # the longest {prefix}-{stage} this name allows
    assert longest < 63  # reachable with parts of 31 characters
    stage, prefix = _parts(longest)
    assert len(_name(field, stage, prefix)) == limit
    try:
        assert getattr(pipeline_names(stage, prefix), field) == _name(field, stage, prefix)
    except ValueError as err:  # a shorter limit is exceeded already, not this one
        assert repr(_name(field, stage, prefix)) not in str(err)
    stage, prefix = _parts(longest + 1)
    with pytest.raises(ValueError) as err:
        pipeline_names(stage, prefix)
    message = str(err.value)
    assert message.startswith(f"stage {stage!r} with prefix {prefix!r} makes names AWS refuses: ")
    assert (
        f"{kind} name {_name(field, stage, prefix)!r} is {limit + 1} characters, over the limit of {limit}" in message
    )
    assert "\n" not in message


def test_the_longest_valid_combination_passes_and_one_more_character_fails() -> None:
    stage, prefix = _parts(49)
    names = pipeline_names(stage, prefix)
    assert len(names.mwaa_execution_role) == NAME_LIMITS[config.IAM_ROLE]
    assert pipeline_names("s" * 31, DEFAULT.prefix).stage  # with the default prefix, any stage fits
    stage, prefix = _parts(50)
    with pytest.raises(ValueError, match=r"prefix and stage may have 48 characters together\)$"):
        pipeline_names(stage, prefix)


def test_the_longest_parts_break_only_the_limits_they_can_reach() -> None:
    with pytest.raises(ValueError) as err:
        pipeline_names("s" * 31, "p" * 31)
    kinds = {kind for kind in NAME_LIMITS if f"{kind} name " in str(err.value)}
    assert kinds == {config.IAM_ROLE, config.S3_BUCKET, config.LAMBDA_FUNCTION}


def test_every_name_has_a_limit() -> None:
    kinds = DEFAULT.kinds()
    assert set(kinds.values()) == set(NAME_LIMITS)
    named = set(DEFAULT.as_dict().values()) - {DEFAULT.stage, DEFAULT.prefix, DEFAULT.gsi}
    assert named <= set(kinds)
    assert f"/aws/lambda/{DEFAULT.writer_function}" in kinds


@pytest.mark.parametrize(
    ("stage", "prefix", "problem"),
    [
        ("dev", "1st-team", "MWAA environment name '1st-team-dev' must start with a letter"),
        ("dev-", "team", "S3 bucket name 'airflow-team-dev-' must end with a letter or digit"),
    ],
)
def test_names_mwaa_or_s3_refuse_for_their_first_or_last_character(stage: str, prefix: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as err:
        pipeline_names(stage, prefix)
    assert "characters together" not in str(err.value)


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--stage", "s" * 31, "--prefix", "p" * 31],
        ["deploy", "--plan", "--stage", "s" * 31, "--prefix", "p" * 31, "--endpoint-url", "http://127.0.0.1:9"],
        ["mwaa", "bundle", "--out", "unused", "--stage", "s" * 31, "--prefix", "p" * 31],
    ],
    ids=["status", "deploy", "mwaa-bundle"],
)
def test_the_cli_says_it_in_one_line_with_exit_code_2(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("infra.__main__.AwsTarget", lambda **_: pytest.fail("no AWS call before the names are valid"))
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: stage {'s' * 31!r} with prefix {'p' * 31!r}")
    assert "IAM role name" in err and "over the limit of 64" in err
