"""DAG parse time against the floor: a minimal DAG with the same three provider operators (and the
same plus one ``@task``).

Each parse runs as the DAG processor parses a file: in a fresh Python process with Airflow and
its settings already loaded (not timed), then ``DagBag`` of that one file (timed). The two files
are parsed alternately in the same run and compared by their medians. As for the DAG processor,
which re-parses unchanged files, bytecode is cached (in the temporary home, whatever
PYTHONDONTWRITEBYTECODE says) and filled by one untimed parse of each file first.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from employee_pipeline.config import DAG_ID
from local_run import ROOT
from local_run.airflow_env import airflow_env

DAG_FILE = ROOT / "dags" / "employee_batch_pipeline.py"
MINIMAL_DAG_FILE = ROOT / "bench" / "minimal_dag" / "minimal_dag.py"
TASKFLOW_DAG_FILE = ROOT / "bench" / "minimal_dag" / "minimal_taskflow_dag.py"
DAG_IDS = {
    DAG_FILE: DAG_ID,
    MINIMAL_DAG_FILE: "minimal_provider_operators",
    TASKFLOW_DAG_FILE: "minimal_with_taskflow",
}
# Only parsed, never contacted.
ENDPOINT_URL = "http://127.0.0.1:4566"

# Runs in the child. sys.argv: the file, its expected DAG id.
_PARSE = """
import sys, time
import airflow
from airflow import settings
from airflow.dag_processing.dagbag import DagBag

# The dags folder is on sys.path the way the DAG processor's bundle puts it (plugins: settings).
sys.path.append(settings.DAGS_FOLDER)
start = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])  # no include_examples in Airflow 3: LOAD_EXAMPLES=False
elapsed = time.perf_counter() - start
assert not bag.import_errors, bag.import_errors
assert list(bag.dag_ids) == [sys.argv[2]], bag.dag_ids
print(elapsed)
"""


def parse_seconds(path: Path, env: dict[str, str]) -> float:
    """Seconds ``DagBag`` takes to parse ``path`` in a fresh interpreter with Airflow loaded."""
    done = subprocess.run(
        [sys.executable, "-c", _PARSE, str(path), DAG_IDS[path]],
        env=env,
        cwd=env["AIRFLOW_HOME"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"parsing {path} failed:\n{done.stderr[-3000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def measure(repeats: int = 7) -> dict[str, Any]:
    """Median parse seconds of the DAG and of the minimal DAG, parsed alternately ``repeats`` times each."""
    samples: dict[Path, list[float]] = {DAG_FILE: [], MINIMAL_DAG_FILE: [], TASKFLOW_DAG_FILE: []}
    with tempfile.TemporaryDirectory(prefix="parse-time-") as home:
        env = airflow_env(Path(home), ENDPOINT_URL)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(home) / "pycache")
        for path in samples:
            parse_seconds(path, env)
        for _ in range(repeats):
            for path in samples:
                samples[path].append(parse_seconds(path, env))
    dag_s, minimal_s = statistics.median(samples[DAG_FILE]), statistics.median(samples[MINIMAL_DAG_FILE])
    taskflow_s = statistics.median(samples[TASKFLOW_DAG_FILE])
    return {
        "dag_s": round(dag_s, 4),
        "minimal_s": round(minimal_s, 4),
        "ratio": round(dag_s / minimal_s, 3),
        "minimal_taskflow_s": round(taskflow_s, 4),
        "ratio_to_taskflow": round(dag_s / taskflow_s, 3),
        "repeats": repeats,
        "dag_samples": [round(s, 4) for s in samples[DAG_FILE]],
        "minimal_samples": [round(s, 4) for s in samples[MINIMAL_DAG_FILE]],
        "minimal_taskflow_samples": [round(s, 4) for s in samples[TASKFLOW_DAG_FILE]],
    }


if __name__ == "__main__":
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    print(json.dumps(measure(repeats), indent=2))
