"""Checks of a loaded batch against its manifest (pure functions; the DAG's tasks call them)."""

from __future__ import annotations

from typing import Any

from employee_pipeline.manifest import Manifest


class ManifestMismatchError(ValueError):
    """The Glue job's manifest does not account for what the writers wrote."""


class QuarantineThresholdError(ValueError):
    """More of the batch was quarantined than the run tolerates."""


def check_manifest(manifest: Manifest, written: list[dict[str, Any]], load_id: str) -> int:
    """Check that the manifest is ``load_id``'s and that it read exactly the objects the writers wrote, in full.

    Returns how many items DynamoDB must hold.
    """
    batch = manifest.batch_id
    if manifest.load_id != load_id:
        raise ManifestMismatchError(
            f"batch {batch}: the manifest was written by load {manifest.load_id!r}, not by this run's "
            f"Glue job run {load_id!r} (another run of the same hour wrote after it)"
        )
    objects = manifest.objects
    extra = sorted(set(objects) - {result["key"] for result in written})
    if extra:
        raise ManifestMismatchError(f"batch {batch}: the Glue job read objects this run did not write: {extra}")
    for result in written:
        location = f"s3://{result['bucket']}/{result['key']}"
        seen = objects.get(result["key"])
        if seen is None:
            raise ManifestMismatchError(f"batch {batch}: the Glue job did not read {location}")
        if seen.read != result["count"]:
            raise ManifestMismatchError(
                f"batch {batch}: the writer put {result['count']} records in {location} "
                f"but the Glue job read {seen.read} rows from it"
            )
    read, valid, quarantined = manifest.read, manifest.valid, manifest.quarantined
    if read != valid + quarantined:
        raise ManifestMismatchError(f"batch {batch}: read {read} != valid {valid} + quarantined {quarantined}")
    if manifest.written != valid:
        raise ManifestMismatchError(f"batch {batch}: {valid} valid rows but {manifest.written} written")
    if sum(manifest.per_shard.values()) != valid or len(manifest.per_shard) != len(written):
        raise ManifestMismatchError(
            f"batch {batch}: per-shard counts {manifest.per_shard} do not add up to {valid} valid rows "
            f"over {len(written)} shards"
        )
    return int(valid)


def top_reasons(manifest: Manifest, limit: int = 3) -> list[tuple[str, int]]:
    """The manifest's most frequent quarantine reasons with their counts, most frequent first."""
    reasons = manifest.quarantine_reasons.items()
    return sorted(reasons, key=lambda item: (-item[1], item[0]))[:limit]


def check_quarantine(manifest: Manifest, tolerated_fraction: float, bucket: str) -> float:
    """Fail when the quarantined fraction exceeds ``tolerated_fraction``; return the fraction."""
    # Defence in depth behind the DAG's Param: a NaN or > 1 tolerance would pass every batch, a
    # negative one fail every batch. The range test also rejects NaN and inf (NaN fails any comparison).
    if (
        isinstance(tolerated_fraction, bool)
        or not isinstance(tolerated_fraction, int | float)
        or not 0.0 <= tolerated_fraction <= 1.0
    ):
        raise ValueError(f"max_quarantine_fraction must be a number in [0, 1], got {tolerated_fraction!r}")
    read, quarantined = manifest.read, manifest.quarantined
    fraction = quarantined / read if read else 0.0
    if fraction > tolerated_fraction:
        top = ", ".join(f"{reason} x{count}" for reason, count in top_reasons(manifest))
        raise QuarantineThresholdError(
            f"batch {manifest.batch_id}: {quarantined} of {read} rows quarantined ({fraction:.2%}), "
            f"above the tolerated {tolerated_fraction:.2%}; see s3://{bucket}/{manifest.quarantine_prefix} "
            f"(top reasons: {top})"
        )
    return fraction
