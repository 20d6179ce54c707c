"""Lambda entry point: generator output -> ``raw/employees/.../part-NNNNN.jsonl``."""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3

from employee_pipeline.layout import DATA_BUCKET_ENV, raw_key

from .jsonl import to_jsonl
from .payload import parse_write_payload

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event: Any, context: Any) -> dict[str, Any]:
    request = parse_write_payload(event)
    bucket = os.environ.get(DATA_BUCKET_ENV)
    if not bucket:
        raise RuntimeError(f"environment variable {DATA_BUCKET_ENV} is not set")
    key = raw_key(request.batch_id, request.shard)
    # Same batch and shard -> same key and bytes: a rerun is an idempotent overwrite.
    boto3.client("s3").put_object(
        Bucket=bucket, Key=key, Body=to_jsonl(request.records), ContentType="application/x-ndjson"
    )
    logger.info("wrote %d records to s3://%s/%s", len(request.records), bucket, key)
    return {
        "bucket": bucket,
        "key": key,
        "count": len(request.records),
        "batch_id": request.batch_id,
        "shard": request.shard,
    }
