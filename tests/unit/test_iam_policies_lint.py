"""Every IAM policy `infra` generates lints clean with parliament (every severity, community auditors too).

parliament is in the development lock. It imports ``pkg_resources``, which setuptools 81 removed (MWAA's
constraints pin setuptools 83), so it runs with ``tests/parliament_compat`` on its path, which gives it
the one call it makes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from employee_pipeline.config import pipeline_names
from infra import iam, mwaa_role
from infra.session import AwsTarget

COMPAT = Path(__file__).resolve().parents[1] / "parliament_compat"


def _policies() -> dict[str, dict[str, Any]]:
    target, names = AwsTarget(region="eu-west-1", _account="123456789012"), pipeline_names("prod", "acme-employees")
    policies = {f"{role} (inline)": policy for role, (_, policy) in iam.role_policies(target, names).items()}
    environment, bucket = names.mwaa_environment, names.mwaa_source_bucket
    policies["mwaa execution (inline)"] = mwaa_role.execution_policy(target, names, environment, bucket)
    return policies


def _findings(policy: dict[str, Any]) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(COMPAT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "parliament.cli",
            "--string",
            json.dumps(policy),
            "--json",
            "--minimum_severity",
            "INFO",
            "--include-community-auditors",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    findings = [json.loads(line) for line in result.stdout.splitlines() if line.strip().startswith("{")]
    # parliament exits 1 on findings and on a crash too: exit 1 with no finding is a broken parliament.
    assert result.returncode == (1 if findings else 0), result.stderr[-2000:]
    return findings


def test_parliament_finds_what_it_should() -> None:
    """A wrong policy does get findings: an empty answer means clean, not broken."""
    wrong = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    wrong["Statement"][0]["Resource"] = "arn:aws:s3:::bucket"  # GetObject needs an object ARN
    assert [f["issue"] for f in _findings(wrong)] == ["RESOURCE_MISMATCH"]


POLICIES = _policies()


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_generated_policy_lints_clean(name: str) -> None:
    assert _findings(POLICIES[name]) == []
