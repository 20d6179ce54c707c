"""The MWAA bundle of each test module's stage (its ``pytest.mark.stage(NAME)``), the cached Python 3.12
venv of MWAA's image, and the stage deployed with ``deploy --mwaa`` (shared by the modules naming the stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from employee_pipeline.config import pipeline_names
from infra.mwaa.bundle import build_bundle
from tests.mwaa import mwaa_airflow
from tests.support import stages
from tests.support.infra_cli import deployed_with_mwaa


@pytest.fixture(scope="module")
def bundle(module_stage: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle built for the test module's stage (its startup.sh exports that stage)."""
    out = tmp_path_factory.mktemp("mwaa") / "bundle"
    build_bundle(out, pipeline_names(module_stage))
    return out


@pytest.fixture(scope="module")
def mwaa_venv(bundle: Path, pytestconfig: pytest.Config) -> mwaa_airflow.MwaaVenv:
    """One venv for every stage: its key is the bundle's requirements.txt, which no stage changes."""
    built = mwaa_airflow.mwaa_venv(bundle)
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        how = "reused" if built.reused else "built"
        with capture.global_and_fixture_disabled():  # shown in the run's output, not captured
            reporter.write_line(
                f"\nMWAA Python 3.12 venv {how}: {built.root.name}, first build {built.built_seconds:.0f} s"
            )
    return built


@pytest.fixture(scope="module")
def environment(
    local_aws: str, aws: Any, mwaa_venv: mwaa_airflow.MwaaVenv, module_stage: str, shared_stages: stages.SharedStages
) -> dict[str, Any]:
    """``deploy --stage STAGE --mwaa``'s JSON output: the stage, its network and its AVAILABLE environment,
    made once for the modules that name the stage and destroyed after the last of them (unless one did)."""
    return shared_stages.enter(module_stage, "mwaa", lambda: deployed_with_mwaa(local_aws, aws, module_stage))
