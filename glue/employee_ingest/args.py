"""The job's arguments, as ``employee_pipeline.layout.glue_job_arguments`` gives them for one batch."""

from __future__ import annotations

import argparse

from employee_pipeline.layout import raw_prefix

REQUIRED = (
    "batch_id",
    "bucket",
    "source_prefix",
    "table",
    "manifest_key",
    "quarantine_prefix",
    "lease_table",
    "lease_owner",
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Read the job arguments; Glue's own (--JOB_ID, --TempDir, --extra-py-files, ...) are ignored."""
    parser = argparse.ArgumentParser(prog="ingest_employees")
    for name in REQUIRED:
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--shards", type=int, required=True)
    parser.add_argument("--max_shards", type=int, required=True)
    parser.add_argument("--JOB_RUN_ID", default=None)
    args, _ = parser.parse_known_args(argv)
    if not 1 <= args.shards <= args.max_shards:
        parser.error(f"--shards must be between 1 and --max_shards ({args.max_shards}), got {args.shards}")
    try:
        prefix = raw_prefix(args.batch_id)
    except ValueError as err:
        parser.error(f"--batch_id: {err}")
    # The shard objects are layout.raw_key(batch_id, shard): they must be under the prefix the job lists.
    if args.source_prefix != prefix:
        parser.error(f"--source_prefix must be batch {args.batch_id}'s {prefix!r}, got {args.source_prefix!r}")
    return args
