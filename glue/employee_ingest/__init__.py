"""The ingest Glue job's code, shipped to Glue as a zip with ``--extra-py-files`` (``infra.packaging``).

``glue/ingest_employees.py`` is the job's script: a short driver over these modules.

* ``args``: the job's arguments;
* ``schema``: the record schema and the raw line rows;
* ``rules``: DynamoDB's per-item limits and the record rules' bounds (pure Python);
* ``transforms``: pure ``DataFrame -> DataFrame`` steps (parse, classify, items, quarantine rows);
* ``clients``, ``objects``, ``writes``, ``sweep``, ``fence``: the I/O, all through boto3 inside Spark
  tasks, so the job runs unchanged on Glue and on a local SparkSession;
* ``load``: one load of a batch, step by step, ending in its manifest;
* ``errors``: an executor's failure as its own exception line.

Shared names and key formats come from ``employee_pipeline`` (config, layout, manifest), which the
zip vendors beside this package.
"""
