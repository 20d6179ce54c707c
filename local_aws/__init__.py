"""The local AWS: moto's server app plus executors that really run Lambda and Glue code.

moto alone never runs function or job code without Docker. ``install()`` plugs
two executors into moto 5.x (pinned exactly; the integration tests guard the
seams):

* ``LambdaFunction._invoke_lambda`` -> ``lambda_executor``: runs the handler
  from the deployed zip and layers in an isolated subprocess;
* ``FakeJob.start_job_run`` -> ``glue_executor``: runs the job script from
  emulated S3 with PySpark, RUNNING until it ends, then SUCCEEDED or FAILED.

For scale, ``dynamodb_index`` answers Query from the queried partition only; for
benchmarks, ``metrics`` counts every request and records Glue runs' and Lambda
invocations' time and peak memory, served at ``/_local/...`` and read with ``stats``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
