"""Provisioning of the employee batch pipeline (boto3) and publishing it to Amazon MWAA.

The stage's resources are described once, as data, in ``infra.resources``. ``employee_pipeline``
(``dags/``) and ``employee_pipeline_ops`` (``plugins/``) are importable because the venv installs the
project (pyproject.toml), as they are on MWAA's ``sys.path``: the names and the data layout live with the DAG.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
