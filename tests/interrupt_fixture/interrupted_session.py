"""Run only by tests/integration/test_interrupt.py, in a child pytest that it then interrupts.

Not named ``test_*``: the suite does not collect it. With the local AWS running a Glue job (PySpark:
driver, JVM, workers) and a Lambda invocation, it blocks in ``run_dag`` on a stand-in ``airflow``
until the parent signals it. Markers in ``INTERRUPT_FIXTURE_DIR`` tell the parent how far it got.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from employee_pipeline.waiting import wait_until
from infra.iam import ensure_role
from infra.packaging import deterministic_zip
from infra.session import AwsTarget
from local_run import dag_run
from local_run.dag_run import run_dag

WORK = os.environ.get("INTERRUPT_FIXTURE_DIR")
BUCKET = "interrupt-fixture"
IN_FLIGHT_TIMEOUT_S = 60

SPARK_GLUE_SCRIPT = b"""
import sys, time
from pathlib import Path
from pyspark.sql import SparkSession

marker = sys.argv[sys.argv.index("--MARKER") + 1]
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()

def work(row):
    Path(marker).write_text("running")
    time.sleep(600)
    return row

spark.sparkContext.parallelize([1], 1).map(work).collect()
"""

# No Spark, for speed; its child leaves the group, as PySpark's worker daemon does.
PLAIN_GLUE_SCRIPT = b"""
import subprocess, sys, time
from pathlib import Path

subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
Path(sys.argv[sys.argv.index("--MARKER") + 1]).write_text("running")
time.sleep(600)
"""

LAMBDA_HANDLER = b"""
import time
from pathlib import Path

def handler(event, context):
    Path(event["marker"]).write_text("running")
    time.sleep(600)
"""

# Stands in for `airflow dags test`: a task process in its group, then it blocks.
FAKE_AIRFLOW = """#!{python}
import os, subprocess, sys, time
from pathlib import Path

subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print("[DAG TEST] starting", flush=True)
Path(os.environ["FAKE_AIRFLOW_MARKER"]).write_text(str(os.getpid()))
time.sleep(600)
"""


def _wait_for(path: Path) -> None:
    wait_until(path.exists, timeout=IN_FLIGHT_TIMEOUT_S, interval=0.2, message=f"{path.name} not written")


def start_glue_and_lambda(endpoint_url: str, work: Path, glue_script: bytes) -> None:
    """Start a run of ``glue_script`` and a sleeping Lambda; return once both run (their markers are in ``work``)."""
    clients = {
        name: boto3.client(
            name, endpoint_url=endpoint_url, config=Config(read_timeout=900, retries={"max_attempts": 0})
        )
        for name in ("s3", "glue", "lambda", "iam")
    }
    clients["s3"].create_bucket(Bucket=BUCKET)
    clients["s3"].put_object(Bucket=BUCKET, Key="job.py", Body=glue_script)
    # Glue and Lambda run as this role: it must trust them and let the job read its script.
    read_script = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/job.py"}
    _, role = ensure_role(
        AwsTarget(endpoint_url=endpoint_url),
        "interrupt-fixture",
        ["glue.amazonaws.com", "lambda.amazonaws.com"],
        {"Version": "2012-10-17", "Statement": [read_script]},
    )
    clients["glue"].create_job(
        Name="interrupt-fixture", Role=role, Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/job.py"}
    )
    clients["glue"].start_job_run(JobName="interrupt-fixture", Arguments={"--MARKER": str(work / "glue")})
    clients["lambda"].create_function(
        FunctionName="interrupt-fixture",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": deterministic_zip({"handler.py": LAMBDA_HANDLER})},
        Timeout=600,
    )
    # Invoke blocks until the handler returns: in a thread, so the caller can go on.
    threading.Thread(
        target=clients["lambda"].invoke,
        kwargs={"FunctionName": "interrupt-fixture", "Payload": json.dumps({"marker": str(work / "lambda")})},
        daemon=True,
    ).start()
    _wait_for(work / "glue")
    _wait_for(work / "lambda")


@pytest.mark.skipif(WORK is None, reason="run by tests/integration/test_interrupt.py")
def test_blocks_until_interrupted(local_aws: str) -> None:
    work = Path(str(WORK))
    start_glue_and_lambda(local_aws, work, SPARK_GLUE_SCRIPT)
    bin_dir = work / "bin"
    bin_dir.mkdir()
    airflow = bin_dir / "airflow"
    airflow.write_text(FAKE_AIRFLOW.format(python=sys.executable))
    airflow.chmod(airflow.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_AIRFLOW_MARKER": str(work / "airflow")}
    dag_run.DAGS_TEST = (str(airflow), "dags", "test")  # the stand-in instead of `airflow dags test`
    (work / "ready.json").write_text(json.dumps({"endpoint_url": local_aws}))
    run_dag(env, datetime(2026, 1, 1, tzinfo=UTC), {}, work / "dag.log", progress=lambda _: None)
    pytest.fail("run_dag returned: the stand-in airflow should block until the parent interrupts us")
