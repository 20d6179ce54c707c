"""Glue 5.0 Spark job: ingest one hourly batch of employees from S3 into DynamoDB.

The job's script: it parses the arguments, owns the SparkSession and names a failure by its cause.
The work is in the ``employee_ingest`` package, which Glue puts on the Python path of the driver and
of every executor from the job's ``--extra-py-files`` zip (built by ``infra.packaging``, with the
``employee_pipeline`` modules it shares with the DAG):

* the job records itself as the load of the DAG run holding the batch's lease (one writer per
  batch; a load started beside another of the same run is refused), and confirms that lease
  before every step that changes the batch, in the executors before they write as well;
* executors fetch exactly this run's shard objects (``part-00000`` .. ``shards - 1``);
* every line is parsed against the record schema in PERMISSIVE mode and checked, including that
  its ``emp_id`` is one of its batch and shard and every per-item limit DynamoDB enforces; a bad
  line goes to ``quarantine/`` with its reason, never dropped;
* valid rows are de-duplicated on ``emp_id`` and upserted per partition with ``BatchWriteItem``,
  each item tagged with this load's id (the job run id);
* what earlier runs of the batch left is removed: items of the batch written by another load, in
  exactly the shards earlier loads had (the lease keeps every load's shard count; a first load
  reads nothing back), then the shard objects this run did not write;
* the manifest (``employee_pipeline.manifest.Manifest``) is written last, so its presence means
  the load succeeded.

A failure outside the data (a missing table, permissions, throttling past the retry budget, a lost
lease) fails the run; its error names the cause in its first line, unwrapped from Spark's JVM wrappers.
"""

from __future__ import annotations

import json
import sys

from pyspark.sql import SparkSession

from employee_ingest.args import parse_args
from employee_ingest.errors import IngestError, python_cause
from employee_ingest.load import run


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    spark = SparkSession.builder.appName(f"ingest-employees-{args.batch_id}").getOrCreate()
    try:
        manifest = run(spark, args)
    except Exception as err:
        cause = python_cause(err)
        if cause is None:
            raise
        # Glue reports the last exception: make it the cause, not Py4J's wrapper.
        raise IngestError(cause) from None
    finally:
        spark.stop()
    print(f"manifest: {json.dumps(manifest.as_dict(), sort_keys=True)}")


if __name__ == "__main__":
    main()
