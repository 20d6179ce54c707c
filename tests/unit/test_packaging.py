from __future__ import annotations

import ast
import io
import os
import site
import subprocess
import sys
import zipfile

import pytest

from infra import packaging


def _names(artifact: packaging.Artifact) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(artifact.body)).namelist()


@pytest.mark.parametrize("function", ["generator", "writer"])
def test_lambda_zip_is_deterministic_and_self_contained(function: str) -> None:
    first, second = packaging.lambda_zip(function), packaging.lambda_zip(function)
    assert first.body == second.body
    names = _names(first)
    assert f"{function}/handler.py" in names
    assert "employee_pipeline/layout.py" in names
    assert not any(n.endswith(".pyc") or "__pycache__" in n for n in names)
    assert not any(n.startswith("faker/") for n in names)  # Faker ships in the layer


def test_source_change_changes_the_hash(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = packaging.deterministic_zip({"a.py": b"x = 1\n"})
    assert packaging.deterministic_zip({"a.py": b"x = 1\n"}) == before
    assert packaging.deterministic_zip({"a.py": b"x = 2\n"}) != before


def test_layer_holds_the_pinned_faker_under_python() -> None:
    layer = packaging.faker_layer_zip()
    names = _names(layer)
    assert "python/faker/__init__.py" in names
    assert any(n.startswith("python/faker-40.63.0.dist-info/") for n in names)
    assert not any(n.endswith(("/RECORD", "/INSTALLER")) for n in names)
    assert packaging.faker_layer_zip().body == layer.body


def test_layer_refuses_a_version_mismatch(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    pins = tmp_path / "requirements.txt"
    pins.write_text("Faker==0.0.1\n")
    monkeypatch.setattr(packaging, "LAYER_REQUIREMENTS", pins)
    with pytest.raises(packaging.PackagingError, match=r"pins Faker==0\.0\.1 but this environment has"):
        packaging.faker_layer_zip()


def test_layer_requires_exact_pins(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    pins = tmp_path / "requirements.txt"
    pins.write_text("Faker>=30\n")
    monkeypatch.setattr(packaging, "LAYER_REQUIREMENTS", pins)
    with pytest.raises(packaging.PackagingError, match="not pinned"):
        packaging.faker_layer_zip()


def test_layer_pin_matches_the_lock() -> None:
    lock = (packaging.ROOT / "requirements" / "dev.lock").read_text().lower()
    for name, version in packaging.layer_requirements():
        assert f"{name.lower()}=={version}" in lock


def _zip_files(artifact: packaging.Artifact) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(artifact.body))
    return {name: archive.read(name) for name in archive.namelist()}


def test_glue_package_zip_is_deterministic_and_holds_the_package_and_the_shared_modules() -> None:
    first, second = packaging.glue_package_zip(), packaging.glue_package_zip()
    assert first.body == second.body
    assert first.name == "employee_ingest.zip"
    files = _zip_files(first)
    package = {
        f"employee_ingest/{path.name}": path.read_bytes() for path in sorted(packaging.GLUE_PACKAGE.glob("*.py"))
    }
    shared = {
        f"employee_pipeline/{module}": (packaging.SHARED_PACKAGE / module).read_bytes()
        for module in ("__init__.py", "layout.py", "config.py", "manifest.py")
    }
    assert files == {**package, **shared}  # exactly these, as they are in the checkout
    assert "employee_ingest/__init__.py" in files and "employee_ingest/load.py" in files
    assert not any(n.endswith(".pyc") or "__pycache__" in n for n in files)
    # The driver script itself ships as ScriptLocation, not in the zip.
    assert not any(n.endswith("ingest_employees.py") for n in files)
    infos = zipfile.ZipFile(io.BytesIO(first.body)).infolist()
    assert {info.date_time for info in infos} == {packaging.ZIP_DATE}
    assert [info.filename for info in infos] == sorted(files)


def test_a_glue_package_change_changes_the_zip(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    before = packaging.glue_package_zip()
    copy = tmp_path / "employee_ingest"
    copy.mkdir()
    for path in packaging.GLUE_PACKAGE.glob("*.py"):
        (copy / path.name).write_bytes(path.read_bytes())
    (copy / "rules.py").write_bytes((copy / "rules.py").read_bytes() + b"# edited\n")
    monkeypatch.setattr(packaging, "GLUE_PACKAGE", copy)
    assert packaging.glue_package_zip().sha256_hex != before.sha256_hex


def test_the_glue_package_zip_needs_its_package(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(packaging, "GLUE_PACKAGE", tmp_path / "employee_ingest")
    with pytest.raises(packaging.PackagingError, match="no Python package at"):
        packaging.glue_package_zip()


def _module_level_imports(source: str) -> set[str]:
    tree = ast.parse(source)
    names = set()
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            names |= {alias.name.split(".")[0] for alias in statement.names}
        elif isinstance(statement, ast.ImportFrom) and statement.module and statement.level == 0:
            names.add(statement.module.split(".")[0])
    return names


def test_the_shared_modules_the_zips_vendor_import_only_the_standard_library() -> None:
    """They are imported on Glue and in Lambda, where neither Airflow nor anything else of the project is."""
    for module in packaging.GLUE_SHARED_MODULES:
        imported = _module_level_imports((packaging.SHARED_PACKAGE / module).read_text())
        outside = {name for name in imported if name not in sys.stdlib_module_names} - {
            "__future__",
            "employee_pipeline",
        }
        assert outside == set(), f"{module} imports {outside} at module level"


def test_the_jobs_imports_resolve_from_the_zip_alone(tmp_path) -> None:
    """Every module of the package imports with only the zip and the interpreter's libraries (PySpark,
    boto3) on the path, as on Glue: nothing it needs is left out of the zip."""
    archive = tmp_path / "employee_ingest.zip"
    archive.write_bytes(packaging.glue_package_zip().body)
    modules = sorted(f"employee_ingest.{path.stem}" for path in packaging.GLUE_PACKAGE.glob("*.py"))
    check = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(archive)!r}), module.__file__\n"
        "import employee_pipeline.manifest as m\n"
        f"assert m.__file__.startswith({str(archive)!r}), m.__file__\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", check],
        env={"PYTHONPATH": os.pathsep.join([str(archive), *site.getsitepackages()]), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
