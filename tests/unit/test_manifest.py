"""The batch manifest's one definition: the JSON the Glue job writes, parsed back, and bad input named."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from employee_pipeline.manifest import Manifest, ManifestError, ObjectCounts, Removed
from tests.support.manifests import manifest_fields, sample_manifest

# The keys of the manifest on S3, in the order the job writes them (readers of the JSON rely on these).
KEYS = [
    "batch_id",
    "load_id",
    "shards",
    "source_objects",
    "read",
    "valid",
    "quarantined",
    "written",
    "per_shard",
    "swept_shards",
    "removed",
    "quarantine_prefix",
    "quarantine_reasons",
    "objects",
    "dynamodb_retries",
    "job_run_id",
    "timings",
]


def test_the_json_has_exactly_the_manifests_keys_in_order() -> None:
    document = json.loads(sample_manifest().to_json())
    assert list(document) == KEYS
    assert list(document["removed"]) == ["dynamodb_items", "raw_objects", "quarantine_objects"]
    assert document["objects"]["raw/a.jsonl"] == {"read": 5, "valid": 5}


def test_a_manifest_round_trips_through_its_json() -> None:
    manifest = sample_manifest()
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert Manifest.from_json(manifest.to_json().encode()) == manifest
    assert Manifest.parse(manifest.as_dict()) == manifest
    assert manifest.to_json() == json.dumps(manifest_fields(), indent=2)  # as the job wrote it before
    assert manifest.objects["raw/b.jsonl"] == ObjectCounts(read=7, valid=4)
    assert manifest.removed == Removed(dynamodb_items=0, raw_objects=0, quarantine_objects=0)


def test_a_manifest_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample_manifest().read = 1  # type: ignore[misc]


def test_a_load_without_a_run_id_has_a_null_job_run_id() -> None:
    assert sample_manifest(job_run_id=None).job_run_id is None


def test_keys_a_reader_does_not_know_are_left_out() -> None:
    """The DAG's read_manifest adds ``expected`` to what it hands on; a new field never breaks a reader."""
    assert Manifest.parse({**manifest_fields(), "expected": 9}) == sample_manifest()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({k: v for k, v in manifest_fields().items() if k != "written"}, "manifest key 'written' is missing"),
        (manifest_fields(read="12"), "manifest key 'read' must be a count (an integer, 0 or more), got '12'"),
        (manifest_fields(read=True), "manifest key 'read' must be a count"),
        (manifest_fields(valid=-1), "manifest key 'valid' must be a count"),
        (manifest_fields(shards=2.0), "manifest key 'shards' must be a count"),
        (manifest_fields(batch_id=None), "manifest key 'batch_id' must be a string, got None"),
        (manifest_fields(job_run_id=7), "manifest key 'job_run_id' must be a string or null, got 7"),
        (manifest_fields(per_shard=[5, 4]), "manifest key 'per_shard' must be an object"),
        (manifest_fields(per_shard={"0": "5"}), "manifest key 'per_shard.0' must be a count"),
        (manifest_fields(quarantine_reasons={"x": None}), "manifest key 'quarantine_reasons.x' must be a count"),
        (manifest_fields(removed={"dynamodb_items": 0, "raw_objects": 0}), "'removed.quarantine_objects' is missing"),
        (manifest_fields(objects={"raw/a.jsonl": 5}), "manifest key 'objects.raw/a.jsonl' must be an object"),
        (manifest_fields(objects={"k": {"read": 5}}), "manifest key 'objects.k.valid' is missing"),
        (manifest_fields(timings={"total_s": "4"}), "manifest key 'timings.total_s' must be a number of seconds"),
        (manifest_fields(timings={"total_s": float("nan")}), "manifest key 'timings.total_s' must be a number"),
    ],
)
def test_bad_input_is_refused_naming_the_key(fields: dict, message: str) -> None:
    with pytest.raises(ManifestError, match=re.escape(message)):
        Manifest.parse(fields)


@pytest.mark.parametrize(
    ("text", "message"),
    [("[1, 2]", "a manifest is a JSON object, got list"), ("{not json", "a manifest is JSON: ")],
)
def test_a_document_that_is_no_manifest_is_refused(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        Manifest.from_json(text)
