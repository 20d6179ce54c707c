"""Every IAM policy `infra` generates lints clean with parliament (every severity, community auditors too).

parliament 1.6.4 imports ``pkg_resources``, which setuptools 81 removed, and MWAA's constraints pin
setuptools 83 for the development lock; so parliament runs from its own small venv (setuptools < 81),
built once from the package index and cached in ``.venv-tools/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from employee_pipeline.config import pipeline_names
from infra import ROOT, iam, mwaa_role
from infra.session import AwsTarget
from tests import tool_venv

pytestmark = [pytest.mark.mwaa, pytest.mark.timeout(900)]

CACHE = ROOT / ".venv-tools"
PARLIAMENT = ("parliament==1.6.4", "setuptools<81")


@pytest.fixture(scope="module")
def parliament() -> Path:
    venv = CACHE / "parliament-1.6.4"
    executable = venv / "bin" / "parliament"
    if not executable.exists():
        env = dict(os.environ)
        uv = tool_venv.uv(CACHE, env)
        tool_venv.run([uv, "venv", "--quiet", "--no-project", venv], what="uv venv", timeout=300, env=env)
        tool_venv.run(
            [uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python", *PARLIAMENT],
            what="installing parliament",
            timeout=900,
            env=env,
        )
    return executable


def _policies() -> dict[str, dict[str, Any]]:
    target, names = AwsTarget(region="eu-west-1", _account="123456789012"), pipeline_names("prod", "acme-employees")
    policies = {f"{role} (inline)": policy for role, (_, policy) in iam.role_policies(target, names).items()}
    environment, bucket = mwaa_role.environment_name(names), mwaa_role.source_bucket_name(names)
    policies["mwaa execution (inline)"] = mwaa_role.execution_policy(target, names, environment, bucket)
    return policies


def _findings(parliament: Path, policy: dict[str, Any]) -> list[dict[str, Any]]:
    result = tool_venv.run(
        [
            parliament,
            "--string",
            json.dumps(policy),
            "--json",
            "--minimum_severity",
            "INFO",
            "--include-community-auditors",
        ],
        what="parliament",
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), tool_venv.tail(result.stderr)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip().startswith("{")]


def test_parliament_finds_what_it_should(parliament: Path) -> None:
    """A wrong policy does get findings: an empty answer means clean, not broken."""
    wrong = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    wrong["Statement"][0]["Resource"] = "arn:aws:s3:::bucket"  # GetObject needs an object ARN
    assert [f["issue"] for f in _findings(parliament, wrong)] == ["RESOURCE_MISMATCH"]


@pytest.mark.parametrize("name", sorted(_policies()))
def test_generated_policy_lints_clean(parliament: Path, name: str) -> None:
    assert _findings(parliament, _policies()[name]) == []
