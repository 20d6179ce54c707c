"""The MWAA bundle as MWAA sees it: Python 3.12, MWAA's Airflow 3.3.1 image, and only the bundle's files.

A Python 3.12 venv is built from MWAA's constraints, the packages MWAA's image already has for this
DAG and the bundle's ``requirements.txt``, and nothing from the development lock. It is cached in
``.venv-mwaa-py312/`` under a key of its inputs, so only the first run (or a change of the
constraints or requirements) pays for it. An AIRFLOW_HOME is laid out as MWAA's: ``dags/`` is the
bundle's ``dags/``, ``plugins/`` the unzipped ``plugins.zip``, the environment what ``startup.sh``
exports, and the working directory the home, so nothing of the repository can be imported (both in
``mwaa_airflow``). That venv's own ``airflow`` then migrates a database, parses the dags folder into
it the way the DAG processor does, and is asked what it found.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from employee_pipeline.config import DAG_ID, DEPLOYMENT_VARIABLE, STAGE_VARIABLE, pipeline_names
from infra import ROOT
from infra.mwaa.bundle import variable_env_name
from tests.mwaa.mwaa_airflow import CONSTRAINTS, MwaaHome, MwaaVenv, json_output, lay_out_home
from tests.support.tool_venv import run as _run
from tests.support.tool_venv import tail as _tail

pytestmark = [pytest.mark.mwaa, pytest.mark.timeout(2400), pytest.mark.stage("prod")]
# Development-only packages of the lock: the venv must not have them (the DAG would import fine here and not on MWAA).
DEV_ONLY = ("pytest", "moto", "pyspark", "faker", "employee_pipeline", "employee_pipeline_ops", "infra")
DAG_FILE = "employee_batch_pipeline.py"
TASKS = (
    "plan",
    "claim_batch",
    "shard_events",
    "generate",
    "write",
    "wait_for_objects",
    "ingest",
    "read_manifest",
    "count_check",
    "quarantine_gate",
    "release_batch",
)


@pytest.fixture(scope="module")
def mwaa(bundle: Path, mwaa_venv: MwaaVenv, tmp_path_factory: pytest.TempPathFactory) -> MwaaHome:
    """AIRFLOW_HOME as on MWAA, the database migrated and the dags folder parsed into it."""
    result = lay_out_home(bundle, mwaa_venv, tmp_path_factory.mktemp("mwaa-home"))
    result.airflow("db", "migrate", timeout=900)
    reserialize = result.airflow("dags", "reserialize", timeout=900)
    return dataclasses.replace(result, reserialized=reserialize.stdout + reserialize.stderr)


# Run by the venv's Python in the MWAA home: what can be imported, what the DAG processor lists, what the DB holds.
_PROBE = r"""
import importlib.metadata, importlib.util, json, os, shutil, sys
from pathlib import Path

dev_only, control = json.loads(sys.argv[1]), Path(sys.argv[2])
out = {"executable": sys.executable, "version": list(sys.version_info[:3]), "cwd": os.getcwd(), "sys_path": sys.path}
# Before Airflow sets sys.path up, nothing of the repository (nor any development tool) is importable.
out["importable_before_airflow"] = sorted(m for m in dev_only if importlib.util.find_spec(m) is not None)

import airflow
from airflow.configuration import conf
from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.utils.file import list_py_file_paths

out["airflow"] = airflow.__version__
out["safe_mode"] = conf.getboolean("core", "dag_discovery_safe_mode")
out["ignore_syntax"] = conf.get("core", "dag_ignore_file_syntax")
bundle = DagBundlesManager().get_bundle("dags-folder")
bundle.initialize()
out["bundle_path"] = str(bundle.path)
# The DAG processor's file listing (DagFileProcessorManager._find_files_in_bundle), in both safe modes.
out["listed"] = {
    str(safe): sorted(str(Path(p).relative_to(bundle.path)) for p in list_py_file_paths(bundle.path, safe_mode=safe))
    for safe in (True, False)
}
# The control: the same folder without .airflowignore lists the helpers, so the listing above is a real check.
shutil.copytree(bundle.path, control)
(control / ".airflowignore").unlink()
out["listed_without_airflowignore"] = sorted(
    str(Path(p).relative_to(control)) for p in list_py_file_paths(control, safe_mode=True)
)

sys.path.append(str(bundle.path))  # as BundleDagBag does before it imports a DAG file
import employee_pipeline.config, employee_pipeline_ops.count_check  # noqa: E401,F401

out["modules"] = {
    name: module.__file__
    for name, module in sorted(sys.modules.items())
    if name.split(".")[0] in ("employee_pipeline", "employee_pipeline_ops") and getattr(module, "__file__", None)
}

from sqlalchemy import select
from airflow.models.dag import DagModel
from airflow.models.dagcode import DagCode
from airflow.models.dagwarning import DagWarning
from airflow.models.errors import ParseImportError
from airflow.models.serialized_dag import SerializedDagModel
from airflow.utils.session import create_session

with create_session() as session:
    out["dag_rows"] = [
        list(row)
        for row in session.execute(
            select(DagModel.dag_id, DagModel.bundle_name, DagModel.relative_fileloc, DagModel.is_stale)
        )
    ]
    out["serialized_dags"] = sorted(session.scalars(select(SerializedDagModel.dag_id)))
    out["dag_code_files"] = sorted(session.scalars(select(DagCode.fileloc)))
    out["parse_import_errors"] = [[e.filename, e.stacktrace] for e in session.scalars(select(ParseImportError))]
    out["dag_warnings"] = [[w.dag_id, str(w.warning_type), w.message] for w in session.scalars(select(DagWarning))]

out["distributions"] = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}
print("PROBE " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def probe(mwaa: MwaaHome, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    control = tmp_path_factory.mktemp("control") / "dags"
    result = _run(
        [mwaa.venv.python, "-c", _PROBE, json.dumps(DEV_ONLY), control],
        what="probing the MWAA home with the venv's Python",
        timeout=300,
        env=mwaa.env,
        cwd=mwaa.home,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, f"no probe output\n--- stdout\n{_tail(result.stdout)}\n--- stderr\n{_tail(result.stderr)}"
    return json.loads(lines[-1].removeprefix("PROBE "))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_venv_is_mwaas_python_with_mwaas_pins_and_no_dev_packages(probe: dict[str, Any]) -> None:
    assert probe["version"][:2] == [3, 12]
    assert probe["airflow"] == "3.3.1"
    assert probe["importable_before_airflow"] == []
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, _, version = line.partition("==")
            pins[_canonical(name.strip())] = version.strip()
    installed = {_canonical(name): version for name, version in probe["distributions"].items()}
    assert {"apache-airflow-providers-amazon", "aiobotocore", "s3fs"} <= set(installed)
    off_pin = {name: (found, pins[name]) for name, found in installed.items() if pins.get(name, found) != found}
    assert off_pin == {}, "installed versions that differ from MWAA's constraints (installed, pinned)"


def test_the_home_is_laid_out_as_on_mwaa_and_the_repository_is_out_of_reach(
    mwaa: MwaaHome, probe: dict[str, Any], module_stage: str
) -> None:
    home = mwaa.home.resolve()
    assert Path(probe["cwd"]).resolve() == home
    assert Path(probe["bundle_path"]).resolve() == home / "dags"
    # The default prefix needs no Variable; lease owners name the environment.
    assert mwaa.exports == {
        variable_env_name(STAGE_VARIABLE): module_stage,
        variable_env_name(DEPLOYMENT_VARIABLE): pipeline_names(module_stage).mwaa_environment,
    }
    assert "PYTHONPATH" not in mwaa.env
    repo_roots = {ROOT.resolve(), (ROOT / "dags").resolve(), (ROOT / "plugins").resolve()}
    assert not {Path(p).resolve() for p in probe["sys_path"] if p} & repo_roots
    modules = probe["modules"]
    assert {"employee_pipeline.config", "employee_pipeline_ops.count_check"} <= set(modules)
    for name, path in modules.items():
        where = home / ("plugins" if name.startswith("employee_pipeline_ops") else "dags")
        assert Path(path).resolve().is_relative_to(where), f"{name} was imported from {path}, not from {where}"


def test_airflow_reports_no_import_errors(mwaa: MwaaHome, probe: dict[str, Any]) -> None:
    result = mwaa.airflow("dags", "list-import-errors", "-o", "json", check=False)
    assert result.returncode == 0, f"import errors:\n{_tail(result.stdout)}\n--- stderr\n{_tail(result.stderr)}"
    assert json_output(result) == []
    assert probe["parse_import_errors"] == []
    assert probe["dag_warnings"] == []


def test_the_dag_has_its_tasks(mwaa: MwaaHome, probe: dict[str, Any]) -> None:
    result = mwaa.airflow("tasks", "list", DAG_ID)
    listed = [line.strip() for line in result.stdout.splitlines() if re.fullmatch(r"[A-Za-z0-9_.-]+", line.strip())]
    assert listed == sorted(TASKS), f"stdout:\n{_tail(result.stdout)}"
    assert probe["serialized_dags"] == [DAG_ID]


def test_only_the_dag_file_is_parsed_as_a_dag_file(mwaa: MwaaHome, probe: dict[str, Any]) -> None:
    assert (probe["safe_mode"], probe["ignore_syntax"]) == (True, "glob")  # Airflow's defaults, as on MWAA
    assert probe["listed"] == {"True": [DAG_FILE], "False": [DAG_FILE]}
    helpers = {f"employee_pipeline/{p.name}" for p in (mwaa.home / "dags" / "employee_pipeline").glob("*.py")}
    assert helpers & set(probe["listed_without_airflowignore"]), "the control should list the helper modules"

    # What reserialize stored: one DAG, from the DAG file, in the dags-folder bundle; nothing from a helper.
    assert probe["dag_rows"] == [[DAG_ID, "dags-folder", DAG_FILE, False]]
    assert [Path(f).name for f in probe["dag_code_files"]] == [DAG_FILE]

    # The DagBag loading stats (`airflow dags report`): the files parsed, each with its DAGs and tasks.
    report = json_output(mwaa.airflow("dags", "report", "-o", "json"))
    # (The JSON output carries the counts as strings.)
    assert [(row["file"], int(row["dag_num"]), int(row["task_num"]), row["dags"]) for row in report] == [
        (DAG_FILE, 1, len(TASKS), [DAG_ID])
    ]
    # Parsing the folder said nothing about a helper module (no "assumed to contain no DAGs", no import error).
    said = mwaa.reserialized
    assert not [line for line in said.splitlines() if "employee_pipeline/" in line], _tail(said)
    assert "Error loading DAG" not in said, _tail(said)


def test_airflow_reads_the_stage_variable_startup_sh_exports(mwaa: MwaaHome, module_stage: str) -> None:
    result = mwaa.airflow("variables", "get", STAGE_VARIABLE)
    assert result.stdout.strip().splitlines()[-1] == module_stage
