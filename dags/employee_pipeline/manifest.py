"""The batch manifest: what one load of a batch read, kept, quarantined, wrote and removed.

The Glue job writes it last (its presence means the load succeeded); the DAG's checks and summary,
the local run and the benchmark read it. One definition for all of them: the JSON object on S3 has
exactly the fields below as its keys. Pure standard library, so the Glue job's zip vendors it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


class ManifestError(ValueError):
    """A manifest that lacks a field or holds one of the wrong type; the message names the key."""


@dataclass(frozen=True)
class ObjectCounts:
    """Rows of one shard object: read, and of those valid (the rest were quarantined)."""

    read: int
    valid: int


@dataclass(frozen=True)
class Removed:
    """What the load removed that earlier loads of the batch left."""

    dynamodb_items: int
    raw_objects: int
    quarantine_objects: int


@dataclass(frozen=True)
class Manifest:
    """One load of a batch. ``per_shard``: valid rows by shard number (as a string, the JSON key);
    ``objects``: counts by shard object key; ``timings``: seconds per step of the run."""

    batch_id: str
    load_id: str
    shards: int
    source_objects: int
    read: int
    valid: int
    quarantined: int
    written: int
    per_shard: dict[str, int]
    swept_shards: int
    removed: Removed
    quarantine_prefix: str
    quarantine_reasons: dict[str, int]
    objects: dict[str, ObjectCounts]
    dynamodb_retries: int
    job_run_id: str | None
    # Seconds per step of the run (load_s: the DynamoDB writes), for the benchmark.
    timings: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """The JSON object, keys in field order."""
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    @classmethod
    def parse(cls, data: object) -> Manifest:
        """The manifest a decoded JSON object holds; ManifestError naming the first bad key.

        Keys it does not know are left out (a reader keeps working when a field is added)."""
        if not isinstance(data, Mapping):
            raise ManifestError(f"a manifest is a JSON object, got {type(data).__name__}")
        return cls(**{field.name: _READERS[str(field.type)](data, field.name) for field in fields(cls)})

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            data = json.loads(text)
        except ValueError as err:
            raise ManifestError(f"a manifest is JSON: {err}") from None
        return cls.parse(data)


def _get(data: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in data:
        raise ManifestError(f"manifest key {path!r} is missing")
    return data[key]


def _wrong(path: str, expected: str, value: Any) -> ManifestError:
    return ManifestError(f"manifest key {path!r} must be {expected}, got {value!r}")


def _int(data: Mapping[str, Any], key: str, path: str | None = None) -> int:
    path = path or key
    value = _get(data, key, path)
    if type(value) is not int or value < 0:
        raise _wrong(path, "a count (an integer, 0 or more)", value)
    return value


def _str(data: Mapping[str, Any], key: str) -> str:
    value = _get(data, key, key)
    if not isinstance(value, str):
        raise _wrong(key, "a string", value)
    return value


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = _get(data, key, key)
    if value is not None and not isinstance(value, str):
        raise _wrong(key, "a string or null", value)
    return value


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = _get(data, key, key)
    if not isinstance(value, Mapping):
        raise _wrong(key, "an object", value)
    return value


def _counts(data: Mapping[str, Any], key: str) -> dict[str, int]:
    counts = _mapping(data, key)
    return {name: _int(counts, name, f"{key}.{name}") for name in counts}


def _seconds(data: Mapping[str, Any], key: str) -> dict[str, float]:
    timings = _mapping(data, key)
    for name, value in timings.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _wrong(f"{key}.{name}", "a number of seconds", value)
    return dict(timings)


def _objects(data: Mapping[str, Any], key: str) -> dict[str, ObjectCounts]:
    objects = {}
    for name, counts in _mapping(data, key).items():
        if not isinstance(counts, Mapping):
            raise _wrong(f"{key}.{name}", "an object", counts)
        objects[name] = ObjectCounts(*(_int(counts, f.name, f"{key}.{name}.{f.name}") for f in fields(ObjectCounts)))
    return objects


def _removed(data: Mapping[str, Any], key: str) -> Removed:
    removed = _mapping(data, key)
    return Removed(*(_int(removed, f.name, f"{key}.{f.name}") for f in fields(Removed)))


# A field's reader by its annotation (a string: annotations are postponed).
_READERS: dict[str, Callable[[Mapping[str, Any], str], Any]] = {
    "str": _str,
    "str | None": _optional_str,
    "int": _int,
    "dict[str, int]": _counts,
    "dict[str, float]": _seconds,
    "dict[str, ObjectCounts]": _objects,
    "Removed": _removed,
}
