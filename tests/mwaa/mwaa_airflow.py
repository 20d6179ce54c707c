"""MWAA's Airflow on this machine for the tests: ``local_aws.mwaa_venv`` (the Python 3.12 venv of MWAA's image,
AIRFLOW_HOME laid out as MWAA's) fed from a bundle folder, a missing Python 3.12 a skip (a failure on CI)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.mwaa.bundle import DAGS_DIR, PLUGINS_ZIP, REQUIREMENTS_TXT, STARTUP_SH
from local_aws import mwaa_venv as venvs
from local_aws.mwaa_venv import CONSTRAINTS, MwaaHome, MwaaVenv
from tests.support.tool_venv import tail

__all__ = ["CONSTRAINTS", "MwaaHome", "MwaaVenv", "json_output", "lay_out_home", "mwaa_venv"]


def mwaa_venv(bundle: Path) -> MwaaVenv:
    """The cached venv for ``bundle``'s requirements.txt, built first if needed (skipped without a Python 3.12)."""
    try:
        return venvs.mwaa_venv((bundle / REQUIREMENTS_TXT).read_text())
    except venvs.MissingPythonError as missing:
        if os.environ.get("CI") == "true":  # CI's machines have it: a skip there would hide the check
            pytest.fail(f"{missing}, and CI must run this test")
        pytest.skip(str(missing))


def lay_out_home(bundle: Path, venv: MwaaVenv, home: Path) -> MwaaHome:
    """AIRFLOW_HOME ``home`` as on MWAA: the bundle's dags, its unzipped plugins and what its startup.sh exports."""
    return venvs.lay_out_home(home, venv, bundle / DAGS_DIR, bundle / PLUGINS_ZIP, bundle / STARTUP_SH)


def json_output(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON document an ``airflow ... -o json`` command printed (log lines around it are skipped)."""
    for line in reversed(result.stdout.splitlines()):
        if line.strip().startswith(("[", "{")):
            return json.loads(line)
    pytest.fail(f"no JSON in the output of {shlex.join(result.args)}\n--- stdout\n{tail(result.stdout)}")
