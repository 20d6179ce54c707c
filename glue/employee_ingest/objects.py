"""The batch's S3 objects: shard lines read in Spark tasks, quarantine parts written there; listing and
deleting on the driver."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from employee_ingest.clients import client
from employee_ingest.schema import EMPTY_OBJECT_LINE


def fetch_lines(bucket: str, key: str) -> Iterator[tuple[str, int, str, bool]]:
    """Executor side: the non-blank lines of one shard object, numbered from 1.

    An object with no record at all yields one ``empty_object`` marker, so an
    empty shard is reported instead of silently contributing nothing. A line that
    is not UTF-8 is flagged (quarantined as ``invalid_utf8``), never silently repaired.
    """
    body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    empty = True
    for line_no, raw in enumerate(body.splitlines(), start=1):
        try:
            line, invalid = raw.decode("utf-8"), False
        except UnicodeDecodeError:
            line, invalid = raw.decode("utf-8", errors="replace"), True
        if line.strip():
            empty = False
            yield key, line_no, line, invalid
    if empty:
        yield key, EMPTY_OBJECT_LINE, "", False


def write_quarantine_part(index: int, rows: Iterable[Any], bucket: str, prefix: str) -> Iterator[int]:
    """Executor side: one quarantine object per non-empty partition."""
    lines = [row.json for row in rows]
    if lines:
        client("s3").put_object(
            Bucket=bucket,
            Key=f"{prefix}part-{index:05d}.jsonl",
            Body=("\n".join(lines) + "\n").encode(),
            ContentType="application/x-ndjson",
        )
    yield len(lines)


def list_keys(s3: Any, bucket: str, prefix: str, suffix: str = ".jsonl") -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(suffix)]
    return sorted(keys)


def delete_keys(s3: Any, bucket: str, keys: list[str]) -> int:
    for key in keys:
        s3.delete_object(Bucket=bucket, Key=key)
    return len(keys)
