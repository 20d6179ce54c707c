"""Checks of a loaded batch against its manifest (pure functions; the DAG's tasks call them)."""

from __future__ import annotations

from typing import Any


class ManifestMismatchError(ValueError):
    """The Glue job's manifest does not account for what the writers wrote."""


class QuarantineThresholdError(ValueError):
    """More of the batch was quarantined than the run tolerates."""


def check_manifest(manifest: dict[str, Any], written: list[dict[str, Any]]) -> int:
    """Check that every shard object was read in full; return how many items DynamoDB must hold."""
    batch = manifest.get("batch_id")
    objects = manifest.get("objects", {})
    for result in written:
        location = f"s3://{result['bucket']}/{result['key']}"
        seen = objects.get(result["key"])
        if seen is None:
            raise ManifestMismatchError(f"batch {batch}: the Glue job did not read {location}")
        if seen["read"] != result["count"]:
            raise ManifestMismatchError(
                f"batch {batch}: the writer put {result['count']} records in {location} "
                f"but the Glue job read {seen['read']} rows from it"
            )
    read, valid, quarantined = manifest["read"], manifest["valid"], manifest["quarantined"]
    if read != valid + quarantined:
        raise ManifestMismatchError(f"batch {batch}: read {read} != valid {valid} + quarantined {quarantined}")
    if manifest["written"] != valid:
        raise ManifestMismatchError(f"batch {batch}: {valid} valid rows but {manifest['written']} written")
    return int(valid)


def check_quarantine(manifest: dict[str, Any], tolerated_fraction: float, bucket: str) -> float:
    """Fail when the quarantined fraction exceeds ``tolerated_fraction``; return the fraction."""
    read, quarantined = manifest["read"], manifest["quarantined"]
    fraction = quarantined / read if read else 0.0
    if fraction > tolerated_fraction:
        reasons = sorted(manifest.get("quarantine_reasons", {}).items(), key=lambda item: (-item[1], item[0]))
        top = ", ".join(f"{reason} x{count}" for reason, count in reasons[:3])
        raise QuarantineThresholdError(
            f"batch {manifest['batch_id']}: {quarantined} of {read} rows quarantined ({fraction:.2%}), "
            f"above the tolerated {tolerated_fraction:.2%}; see s3://{bucket}/{manifest['quarantine_prefix']} "
            f"(top reasons: {top})"
        )
    return fraction
