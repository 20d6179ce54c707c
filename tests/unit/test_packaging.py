from __future__ import annotations

import io
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
