"""The MWAA bundle: what the environment's source bucket receives, byte for byte the same for one checkout."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from employee_pipeline.config import DAG_ID, PREFIX_VARIABLE, STAGE_VARIABLE, pipeline_names
from infra import ROOT
from infra.__main__ import main
from infra.mwaa import bundle as mwaa
from infra.mwaa.bundle import SOURCE_BUCKET_LAYOUT, BundleError, SourceBucketLayout, build_bundle

NAMES = pipeline_names("prod")
DAG_FILE = "dags/employee_batch_pipeline.py"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    out = tmp_path / "bundle"
    build_bundle(out, NAMES)
    return out


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    first, second = build_bundle(tmp_path / "a", NAMES), build_bundle(tmp_path / "b", NAMES)
    assert first.files == second.files
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert set(_tree(tmp_path / "a")) == {f.path for f in first.files}
    for entry in first.files:
        body = (tmp_path / "a" / entry.path).read_bytes()
        assert (entry.size, entry.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert build_bundle(tmp_path / "c", pipeline_names("dev")).file("startup.sh") != first.file("startup.sh")


def test_plugins_zip_ignores_mtimes_modes_bytecode_and_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = tmp_path / "plugins"
    shutil.copytree(mwaa.PLUGIN_PACKAGE, plugins / mwaa.PLUGIN_PACKAGE.name)
    monkeypatch.setattr(mwaa, "PLUGINS", plugins)
    monkeypatch.setattr(mwaa, "PLUGIN_PACKAGE", plugins / mwaa.PLUGIN_PACKAGE.name)
    before = mwaa.plugins_zip()
    package = plugins / mwaa.PLUGIN_PACKAGE.name
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "count_check.cpython-311.pyc").write_bytes(b"\0")
    (package / "tests").mkdir()
    (package / "tests" / "helpers.py").write_text("x = 1\n")
    (package / "test_count_check.py").write_text("def test_x(): ...\n")
    for path in package.rglob("*.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
        path.chmod(0o600)
    assert mwaa.plugins_zip() == before


def test_plugins_zip_holds_the_operator_package_and_its_airflowignore_at_its_root(bundle_dir: Path) -> None:
    archive = zipfile.ZipFile(bundle_dir / "plugins.zip")
    sources = {f"employee_pipeline_ops/{p.name}" for p in mwaa.PLUGIN_PACKAGE.glob("*.py")}
    assert archive.namelist() == sorted({".airflowignore", *sources})
    # Airflow's plugin manager skips the package (it holds no AirflowPlugin; it is imported as a package).
    assert "employee_pipeline_ops/" in archive.read(".airflowignore").decode().splitlines()
    assert "employee_pipeline_ops/__init__.py" in sources
    for info in archive.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o644
        assert archive.read(info) == (mwaa.PLUGINS / info.filename).read_bytes()


def test_dags_folder_holds_the_dag_its_helpers_and_airflowignore(bundle_dir: Path) -> None:
    helpers = {f"dags/employee_pipeline/{p.name}" for p in (ROOT / "dags" / "employee_pipeline").glob("*.py")}
    dags = {path for path in _tree(bundle_dir) if path.startswith("dags/")}
    assert dags == {DAG_FILE, "dags/.airflowignore", *helpers}
    assert "dags/employee_pipeline/config.py" in helpers
    for path in dags:
        assert (bundle_dir / path).read_bytes() == (ROOT / path).read_bytes()
    assert (bundle_dir / "requirements.txt").read_bytes() == (ROOT / "requirements.txt").read_bytes()
    assert set(os.listdir(bundle_dir)) == {"dags", "plugins.zip", "requirements.txt", "startup.sh"}


def test_airflow_lists_only_the_dag_file(bundle_dir: Path) -> None:
    """The DAG processor's own file listing (it honours .airflowignore), for the bundle and for the repo's dags/."""
    from airflow._shared.module_loading.file_discovery import find_path_from_directory
    from airflow.utils.file import list_py_file_paths

    assert list_py_file_paths(bundle_dir / "dags", safe_mode=True) == [str(bundle_dir / DAG_FILE)]
    assert list_py_file_paths(ROOT / "dags", safe_mode=True) == [str(ROOT / DAG_FILE)]
    # The same patterns hold where an environment sets core.dag_ignore_file_syntax = regexp.
    listed = list(find_path_from_directory(bundle_dir / "dags", ".airflowignore", "regexp"))
    assert [p for p in listed if p.endswith(".py")] == [str(bundle_dir / DAG_FILE)]
    # Without the ignore file the helpers would be parsed as DAG files (they mention both airflow and dag).
    (bundle_dir / "dags" / ".airflowignore").unlink()
    helpers = {Path(p).name for p in list_py_file_paths(bundle_dir / "dags", safe_mode=True)} - {Path(DAG_FILE).name}
    assert {"config.py", "alerts.py"} <= helpers


_PARSE = """
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag

dags = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=dags, bundle_path=dags, bundle_name="dags-folder", load_op_links=False)
print(json.dumps({
    "dag_ids": sorted(bag.dag_ids),
    "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "parsed": sorted(str(stat.file) for stat in bag.dagbag_stats),
    "modules": {m: sys.modules[m].__file__ for m in ("employee_pipeline.config", "employee_pipeline_ops.count_check")},
}))
"""


def test_dagbag_over_the_bundle_finds_the_one_dag(bundle_dir: Path, tmp_path: Path) -> None:
    """As MWAA runs it: dags/ is the DAGs folder, plugins.zip unzipped as the plugins folder, the repo unseen."""
    plugins = tmp_path / "plugins"
    zipfile.ZipFile(bundle_dir / "plugins.zip").extractall(plugins)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON"))}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(bundle_dir / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
    )
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", _PARSE, str(bundle_dir / "dags")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    assert parsed["dag_ids"] == [DAG_ID]
    assert parsed["import_errors"] == {}
    assert [Path(p).name for p in parsed["parsed"]] == [Path(DAG_FILE).name]
    assert Path(parsed["modules"]["employee_pipeline.config"]).is_relative_to(bundle_dir / "dags")
    assert Path(parsed["modules"]["employee_pipeline_ops.count_check"]).is_relative_to(plugins)


def _source(script: Path, shell: str, before: str = "true") -> dict[str, str]:
    """Source the script as MWAA does (bash) or with /bin/sh; the variables and flags it leaves behind."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    probe = f'{before}; . "{script}"; printf "flags=%s\\n" "$-"; env'
    result = subprocess.run([shell, "-c", probe], capture_output=True, text=True, timeout=30, check=True)
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_startup_script_sets_the_stage_variable(tmp_path: Path, shell: str) -> None:
    build_bundle(tmp_path / "default", NAMES)
    script = tmp_path / "default" / "startup.sh"
    assert script.read_text().startswith("#!/bin/sh\n")
    assert "export AIRFLOW_VAR_EMPLOYEE_PIPELINE_STAGE='prod'\n" in script.read_text()
    env = _source(script, shell)
    assert env["AIRFLOW_VAR_EMPLOYEE_PIPELINE_STAGE"] == "prod"
    assert "AIRFLOW_VAR_EMPLOYEE_PIPELINE_PREFIX" not in env  # the default prefix needs no Variable
    assert env["AIRFLOW_VAR_EMPLOYEE_PIPELINE_DEPLOYMENT"] == NAMES.mwaa_environment  # lease owners name it
    assert "e" not in env["flags"] and "u" not in env["flags"]  # sourced: the strict mode does not leak

    build_bundle(tmp_path / "custom", pipeline_names("qa-2", "myorg-employees"))
    env = _source(tmp_path / "custom" / "startup.sh", shell, before="set -eu")
    assert env["AIRFLOW_VAR_EMPLOYEE_PIPELINE_STAGE"] == "qa-2"
    assert env["AIRFLOW_VAR_EMPLOYEE_PIPELINE_PREFIX"] == "myorg-employees"
    assert env["AIRFLOW_VAR_EMPLOYEE_PIPELINE_DEPLOYMENT"] == "myorg-employees-qa-2"
    assert "e" in env["flags"] and "u" in env["flags"]  # and the caller's own is kept


def test_startup_variables_are_the_ones_airflow_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.secrets.environment_variables import EnvironmentVariablesBackend

    monkeypatch.setenv(mwaa.variable_env_name(STAGE_VARIABLE), "prod")
    monkeypatch.setenv(mwaa.variable_env_name(PREFIX_VARIABLE), "myorg")
    assert EnvironmentVariablesBackend().get_variable(STAGE_VARIABLE) == "prod"
    assert EnvironmentVariablesBackend().get_variable(PREFIX_VARIABLE) == "myorg"


@pytest.mark.parametrize("field,value", [("stage", "prod'; rm -rf ~; '"), ("stage", "Prod"), ("prefix", "my org")])
def test_a_bad_stage_or_prefix_is_rejected_before_anything_is_written(tmp_path: Path, field: str, value: str) -> None:
    names = dataclasses.replace(NAMES, **{field: value})
    with pytest.raises(ValueError, match=f"invalid {field}"):
        mwaa.startup_script(names)
    with pytest.raises(ValueError, match=f"invalid {field}"):
        build_bundle(tmp_path / "out", names)
    assert not (tmp_path / "out").exists()


def test_cli_rejects_a_bad_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mwaa", "bundle", "--out", str(tmp_path / "out"), "--stage", "Prod"]) == 2
    assert "invalid stage 'Prod'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_foreign_directory_is_refused_and_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "work"
    (foreign / "dags").mkdir(parents=True)
    (foreign / "dags" / "mine.py").write_text("x = 1\n")  # looks like part of a bundle, but has no startup.sh of ours
    with pytest.raises(BundleError, match=rf"refusing to write the bundle into {foreign}: it is not empty"):
        build_bundle(foreign, NAMES)
    (foreign / "startup.sh").write_text("#!/bin/sh\necho someone else's\n")
    assert main(["mwaa", "bundle", "--out", str(foreign), "--stage", "prod"]) == 1
    assert f"refusing to write the bundle into {foreign}" in capsys.readouterr().err
    assert _tree(foreign) == {"dags/mine.py": b"x = 1\n", "startup.sh": b"#!/bin/sh\necho someone else's\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]  # no staging folder left behind

    (tmp_path / "file").write_text("")
    with pytest.raises(BundleError, match="not a directory"):
        build_bundle(tmp_path / "file", NAMES)
    with pytest.raises(BundleError, match="inside"):
        build_bundle(ROOT / "dags" / "bundle", NAMES)


def test_an_empty_directory_or_an_earlier_bundle_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    first = build_bundle(out, NAMES)
    (out / "dags" / "renamed_since.py").write_text("x = 1\n")
    second = build_bundle(out, NAMES)
    assert second == first
    assert set(_tree(out)) == {f.path for f in first.files}  # nothing stale survives
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_bucket_keys_follow_the_mwaa_convention(tmp_path: Path) -> None:
    bundle_dir = tmp_path / "bundle"
    bundle = build_bundle(bundle_dir, NAMES)
    objects = bundle.objects()
    assert {"plugins.zip", "requirements.txt", "startup.sh", DAG_FILE, "dags/.airflowignore"} <= set(objects)
    assert {key for key in objects if "/" in key} == {f.path for f in bundle.files if f.path.startswith("dags/")}
    assert SOURCE_BUCKET_LAYOUT.environment_paths() == {
        "DagS3Path": "dags",
        "PluginsS3Path": "plugins.zip",
        "RequirementsS3Path": "requirements.txt",
        "StartupScriptS3Path": "startup.sh",
    }
    custom = SourceBucketLayout(dags="airflow/dags", plugins="airflow/plugins.zip")
    assert custom.key(DAG_FILE) == "airflow/dags/employee_batch_pipeline.py"
    assert custom.key("plugins.zip") == "airflow/plugins.zip"
    with pytest.raises(ValueError, match="not a file of the MWAA bundle"):
        SOURCE_BUCKET_LAYOUT.key("bundle.json")
    startup = bundle.file("startup.sh")
    digest = hashlib.sha256((bundle_dir / "startup.sh").read_bytes()).digest()
    assert startup.sha256_b64 == base64.b64encode(digest).decode()


def test_cli_prints_every_file_with_size_sha256_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["mwaa", "bundle", "--out", str(out), "--stage", "prod", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["stage"] == "prod" and printed["root"] == str(out)
    assert printed["files"] == [f.as_dict() for f in build_bundle(out, NAMES).files]
    assert main(["mwaa", "bundle", "--out", str(out), "--stage", "prod"]) == 0
    text = capsys.readouterr().out
    assert f"mwaa bundle stage 'prod' (employee-pipeline) in {out}" in text
    plugins = zipfile.ZipFile(io.BytesIO((out / "plugins.zip").read_bytes()))
    assert plugins.testzip() is None
    assert hashlib.sha256((out / "plugins.zip").read_bytes()).hexdigest() in text
