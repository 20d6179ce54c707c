"""Provisioning (boto3) and the local AWS emulator of the employee batch pipeline."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The names and layout live with the DAG (dags/ is on MWAA's sys.path); make them
# importable here the same way.
for _folder in (ROOT / "dags", ROOT / "plugins"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
