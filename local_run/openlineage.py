"""The OpenLineage provider beside the venv, for the runs that report lineage.

``make venv`` installs ``requirements/openlineage.lock`` into ``.venv/openlineage``, not into the venv:
installed there, every parse of a DAG that imports the amazon provider's Glue operator would also import
OpenLineage's client (requirements/openlineage.in). A run that reports lineage puts the folder first on its
``PYTHONPATH`` and names a transport; every other run parses and runs as MWAA's image does, without it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

PROVIDER_DIR = Path(sys.prefix, "openlineage")
TRANSPORT_ENV = "AIRFLOW__OPENLINEAGE__TRANSPORT"


def provider_dir() -> Path:
    """``.venv/openlineage``; FileNotFoundError naming ``make venv`` when it was never installed."""
    if not (PROVIDER_DIR / "airflow" / "providers" / "openlineage").is_dir():
        raise FileNotFoundError(f"the OpenLineage provider is not installed in {PROVIDER_DIR}: run `make venv`")
    return PROVIDER_DIR


def file_transport(path: Path) -> str:
    """The ``[openlineage] transport`` value that appends every event, one JSON line each, to ``path``."""
    return json.dumps({"type": "file", "log_file_path": str(path), "append": True})


def reporting_env(env: dict[str, str], transport: str) -> dict[str, str]:
    """``env`` (Airflow's environment) with the provider on the path and ``transport`` set."""
    path = os.pathsep.join(filter(None, [str(provider_dir()), env.get("PYTHONPATH")]))
    return {**env, "PYTHONPATH": path, TRANSPORT_ENV: transport}
