"""The pipeline's datasets as OpenLineage names them, for the operators' ``get_openlineage_facets_*`` hooks.

Names follow OpenLineage's dataset naming: an S3 object is namespace ``s3://{bucket}``, name its key
(a prefix names a set of objects whose keys are not known in advance). The spec names no DynamoDB
dataset; a table is named like the spec's AWS Glue table, by its ARN: namespace
``arn:aws:dynamodb:{region}:{account}``, name ``table/{table}``.

The naming functions are pure. ``operator_lineage`` is the only one that needs the OpenLineage provider,
imported when it is called (the provider's own pattern): without the provider it returns None. Without
a transport (``[openlineage] transport``) the provider is disabled and never calls the hooks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

# (namespace, name) of one dataset.
DatasetName = tuple[str, str]

# A Lambda result larger than this is data (the generator's records), not a report of what was written.
MAX_RESULT_CHARS = 4096


def s3_object(bucket: str, key: str) -> DatasetName:
    """An S3 object, or a set of objects under a key prefix."""
    return f"s3://{bucket}", key


def dynamodb_table(region: str, account: str, table: str) -> DatasetName:
    """A DynamoDB table: together its namespace and name spell the table's ARN."""
    return f"arn:aws:dynamodb:{region}:{account}", f"table/{table}"


# The run arguments the ingest job's datasets are named from.
INGEST_ARGUMENTS = frozenset({"--bucket", "--batch_id", "--shards", "--table", "--quarantine_prefix", "--manifest_key"})


def glue_ingest(
    script_args: Mapping[str, str], region: str, account: str
) -> tuple[list[DatasetName], list[DatasetName]]:
    """The ingest job's inputs (the batch's raw objects) and outputs (the table, the quarantine, the manifest),
    from its run arguments (``layout.glue_job_arguments``)."""
    # Imported here: glue_job (the triggerer loads it with the plugins folder only) imports this module.
    from employee_pipeline import layout

    if not INGEST_ARGUMENTS.issubset(script_args):
        return [], []  # not the ingest job's arguments: nothing known
    bucket, batch_id = script_args["--bucket"], script_args["--batch_id"]
    inputs = [s3_object(bucket, layout.raw_key(batch_id, shard)) for shard in range(int(script_args["--shards"]))]
    outputs = [
        dynamodb_table(region, account, script_args["--table"]),
        s3_object(bucket, script_args["--quarantine_prefix"]),
        s3_object(bucket, script_args["--manifest_key"]),
    ]
    return inputs, outputs


def lambda_written(result: Any) -> list[DatasetName]:
    """The object a Lambda reports it wrote (the writer's ``{"bucket": ..., "key": ...}``); none otherwise."""
    if not isinstance(result, str) or len(result) > MAX_RESULT_CHARS or not result.startswith("{"):
        return []
    try:
        written = json.loads(result)
    except ValueError:
        return []
    if not isinstance(written, dict) or not written.get("bucket") or not written.get("key"):
        return []
    return [s3_object(str(written["bucket"]), str(written["key"]))]


def s3_objects(bucket: str, keys: str | Iterable[str]) -> list[DatasetName]:
    """Each of ``keys`` in ``bucket`` (a sensor's ``bucket_key``: one key or a list)."""
    return [s3_object(bucket, key) for key in ([keys] if isinstance(keys, str) else keys)]


def operator_lineage(inputs: Iterable[DatasetName] = (), outputs: Iterable[DatasetName] = ()) -> Any:
    """The provider's ``OperatorLineage`` of these datasets; None when the OpenLineage provider is not installed."""
    try:
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    return OperatorLineage(
        inputs=[Dataset(namespace=namespace, name=name) for namespace, name in inputs],
        outputs=[Dataset(namespace=namespace, name=name) for namespace, name in outputs],
    )
