"""The parts of the local MWAA's Airflow that decide alone: the on/off switch, which plugin import errors fail an
environment, and the resolver's reason (the integration test runs the whole)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local_aws.mwaa_airflow import TAG, AirflowLauncher, Running, StartFailed, check_plugin_errors, check_tag, switch_on
from local_aws.mwaa_errors import ValidationException
from local_aws.mwaa_venv import MwaaHome, MwaaVenv, resolver_reason

# uv 0.13's stderr for a package the index does not have.
UV_NO_SOLUTION = """  \u00d7 No solution found when resolving dependencies:
  \u2570\u2500\u25b6 Because no-such-package was not found in the package registry and you require
      no-such-package, we can conclude that your requirements are unsatisfiable.
"""


def test_the_tag_overrides_the_servers_setting() -> None:
    assert switch_on("on") and not switch_on("off")
    with pytest.raises(ValueError, match="LOCAL_AWS_MWAA_AIRFLOW"):
        switch_on("maybe")
    on, off = AirflowLauncher("http://127.0.0.1:1", default_on=True), AirflowLauncher("http://127.0.0.1:1", False)
    assert on.wanted({}) and not on.wanted({TAG: "off"})
    assert not off.wanted({}) and off.wanted({TAG: "on"})
    with pytest.raises(ValidationException, match=f"Tag {TAG}=yes: expected on or off"):
        check_tag({TAG: "yes"})


class _Standalone:
    """Answers GET /api/v2/plugins/importErrors as Airflow 3.3.1 does (PluginImportErrorCollectionResponse)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors

    def api(self, method: str, path: str) -> dict[str, Any]:
        assert (method, path) == ("GET", "/api/v2/plugins/importErrors")
        return {"import_errors": self.errors, "total_entries": len(self.errors)}


def _running(home: Path, errors: list[dict[str, str]]) -> Running:
    venv = MwaaVenv(home / "venv", 0.0, reused=True)
    return Running(MwaaHome(home, {}, venv, {}), {}, _Standalone(errors))


def test_a_plugin_import_error_fails_the_environment(tmp_path: Path) -> None:
    source = str(tmp_path / "plugins" / "ops" / "check.py")
    running = _running(tmp_path, [{"source": source, "error": "No module named 'pandas_extra'"}])
    with pytest.raises(StartFailed) as failed:
        check_plugin_errors(running)
    assert (failed.value.code, failed.value.message) == (
        "PluginImportError",
        "Broken plugin: [plugins/ops/check.py] No module named 'pandas_extra'",
    )


def test_the_resolvers_reason_is_one_line_without_its_drawing() -> None:
    assert resolver_reason(UV_NO_SOLUTION) == (
        "No solution found when resolving dependencies: Because no-such-package was not found in the package "
        "registry and you require no-such-package, we can conclude that your requirements are unsatisfiable."
    )
