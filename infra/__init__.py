"""Provisioning of the employee batch pipeline (boto3) and publishing it to Amazon MWAA.

``dags/`` and ``plugins/`` are importable through the venv (a ``.pth`` file the Makefile writes),
as they are on MWAA's ``sys.path``: the names and the data layout live with the DAG.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
