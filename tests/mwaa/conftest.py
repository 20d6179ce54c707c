"""The MWAA bundle of each test module's stage (its ``pytest.mark.stage(NAME)``) and the cached Python 3.12
venv of MWAA's image."""

from __future__ import annotations

from pathlib import Path

import pytest

from employee_pipeline.config import pipeline_names
from infra.mwaa.bundle import build_bundle
from tests.mwaa import mwaa_airflow


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
