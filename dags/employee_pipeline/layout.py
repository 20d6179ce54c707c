"""Batch ids, employee ids, the count index's shard keys and the S3 data layout.

A batch is one hour of data, identified as ``YYYYMMDDTHH`` (UTC). A shard is
one generator invocation inside a batch.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

BATCH_ID_FORMAT = "%Y%m%dT%H"
_BATCH_ID = re.compile(r"^\d{8}T\d{2}$")
_INDEX = re.compile(r"[0-9]+")  # not \d: that also matches non-ASCII digits
MAX_SHARDS = 1000
MAX_RECORDS_PER_SHARD = 5000  # ~1.3 MB of JSON: well under Lambda's 6 MB response limit

# The writer Lambda's environment variable naming the data bucket (infra sets it, the writer reads it).
DATA_BUCKET_ENV = "DATA_BUCKET"
RAW_PREFIX = "raw/employees"
QUARANTINE_PREFIX = "quarantine/employees"
MANIFEST_PREFIX = "manifests/employees"
# XComs of XCOM_THRESHOLD_BYTES or more (a generator's shard of records) are kept here by Airflow's
# object-storage XCom backend: the metadata database holds only their path. Expired after a day.
XCOM_PREFIX = "xcom"
XCOM_THRESHOLD_BYTES = 512
XCOM_RETENTION_DAYS = 1
XCOM_BACKEND = "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend"


def batch_id_for(moment: datetime) -> str:
    """The batch id of the hour that contains ``moment`` (converted to UTC)."""
    if moment.tzinfo is None:
        raise ValueError(f"batch time {moment!r} has no timezone")
    return moment.astimezone(UTC).strftime(BATCH_ID_FORMAT)


def parse_batch_id(batch_id: object) -> datetime:
    """The UTC start of the hour ``batch_id`` names; ValueError if malformed."""
    if not isinstance(batch_id, str) or not _BATCH_ID.match(batch_id):
        raise ValueError(f"batch_id {batch_id!r} is not of the form YYYYMMDDTHH")
    try:
        return datetime.strptime(batch_id, BATCH_ID_FORMAT).replace(tzinfo=UTC)
    except ValueError as err:
        raise ValueError(f"batch_id {batch_id!r} is not a real hour: {err}") from None


def emp_id_prefix(batch_id: str, shard: int) -> str:
    """What every emp_id of a shard starts with: ``{batch_id}-{shard:05d}-``."""
    return f"{batch_id}-{shard:05d}-"


def emp_id(batch_id: str, shard: int, index: int) -> str:
    """The id of record ``index`` of a shard: ``{batch_id}-{shard:05d}-{index:06d}``."""
    return f"{emp_id_prefix(batch_id, shard)}{index:06d}"


def is_emp_id_of(value: object, batch_id: str, shard: int) -> bool:
    """Whether ``value`` is an emp_id of this batch and shard: its prefix, then one or more ASCII digits.

    The table's key is ``emp_id`` alone, so a row carrying another hour's or shard's id would
    overwrite that row's item. The index may have any number of digits (the generator pads to 6),
    as in the Glue job's ``emp_id_mismatch`` rule.
    """
    prefix = emp_id_prefix(batch_id, shard)
    return isinstance(value, str) and value.startswith(prefix) and bool(_INDEX.fullmatch(value[len(prefix) :]))


def batch_shard_key(batch_id: str, shard: int) -> str:
    """The count index's partition key of a shard's items: ``{batch_id}#{shard}`` (``config.GSI_KEY``)."""
    return f"{batch_id}#{shard}"


def xcom_options(bucket: str, conn_id: str) -> dict[str, str]:
    """The Airflow configuration options (``section.key``) that keep large XComs in ``bucket``."""
    return {
        "core.xcom_backend": XCOM_BACKEND,
        "common.io.xcom_objectstorage_path": f"s3://{conn_id}@{bucket}/{XCOM_PREFIX}",
        "common.io.xcom_objectstorage_threshold": str(XCOM_THRESHOLD_BYTES),
        "common.io.xcom_objectstorage_compression": "gzip",
    }


def _partition(batch_id: str) -> str:
    hour = parse_batch_id(batch_id)
    return f"dt={hour:%Y-%m-%d}/hour={hour:%H}"


def raw_prefix(batch_id: str) -> str:
    """``raw/employees/dt=YYYY-MM-DD/hour=HH/``: every shard object of the batch."""
    return f"{RAW_PREFIX}/{_partition(batch_id)}/"


# A shard object's name, and the pattern that reads its shard number back from a key (the Glue job's
# rows count for the shard whose object holds them).
SHARD_OBJECT = "part-{shard:05d}.jsonl"
SHARD_OBJECT_PATTERN = r"part-(\d+)\.jsonl$"


def raw_key(batch_id: str, shard: int) -> str:
    """The object one shard writes: ``.../part-NNNNN.jsonl``."""
    return raw_prefix(batch_id) + SHARD_OBJECT.format(shard=shard)


def quarantine_prefix(batch_id: str) -> str:
    return f"{QUARANTINE_PREFIX}/{_partition(batch_id)}/"


def manifest_key(batch_id: str) -> str:
    return f"{MANIFEST_PREFIX}/{_partition(batch_id)}/manifest.json"


def glue_job_arguments(
    batch_id: str, bucket: str, table: str, *, shards: int, lease_table: str, lease_owner: str
) -> dict[str, str]:
    """The ingest job's run arguments for one batch (its ``parse_args`` reads them).

    ``shards`` says which objects are this run's (``part-00000`` up to ``shards - 1``); the job
    loads exactly those and removes whatever else an earlier run left under the batch's prefix.
    ``lease_owner`` is the DAG run holding the batch's lease in ``lease_table``.
    """
    return {
        "--batch_id": batch_id,
        "--bucket": bucket,
        "--source_prefix": raw_prefix(batch_id),
        "--shards": str(shards),
        "--max_shards": str(MAX_SHARDS),
        "--table": table,
        "--manifest_key": manifest_key(batch_id),
        "--quarantine_prefix": quarantine_prefix(batch_id),
        "--lease_table": lease_table,
        "--lease_owner": lease_owner,
    }
