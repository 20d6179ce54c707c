"""Trust-boundary guards: inputs that used to fail obscurely or pass silently."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from employee_pipeline.layout import DATA_BUCKET_ENV
from employee_pipeline.manifest import Manifest
from employee_pipeline.quality import QuarantineThresholdError, check_quarantine
from generator import events, records
from generator.events import InvalidEventError, parse_generate_event
from generator.handler import handler as generate
from tests.support.manifests import sample_manifest
from writer import handler as writer_handler
from writer.payload import InvalidPayloadError, parse_write_payload

BATCH = "20261125T14"
ROOT = Path(__file__).resolve().parents[2]


# --- generator: batch before the earliest hire date ---------------------------------------------


@pytest.mark.parametrize("batch_id", ["19991231T23", "19700101T00"])
def test_batch_before_earliest_hire_is_rejected_naming_field_value_and_date(batch_id: str) -> None:
    event = {"batch_id": batch_id, "shard": 0, "count": 1}
    with pytest.raises(InvalidEventError) as raised:
        parse_generate_event(event)
    message = str(raised.value)
    assert "'batch_id'" in message
    assert repr(batch_id) in message
    assert "2000-01-01" in message
    # The handler fails the same clear way instead of inside Faker.
    with pytest.raises(InvalidEventError, match="earliest hire date"):
        generate(event, None)


def test_batch_on_the_earliest_hire_day_is_accepted() -> None:
    result = generate({"batch_id": "20000101T00", "shard": 0, "count": 3}, None)
    assert {r["hire_date"] for r in result["records"]} == {"2000-01-01"}


def test_earliest_hire_has_one_definition() -> None:
    assert records.EARLIEST_HIRE is events.EARLIEST_HIRE


def test_event_validation_imports_without_faker() -> None:
    code = "import sys; sys.modules['faker'] = None; import generator.events"
    paths = [str(ROOT / p) for p in (".", "dags", "lambdas")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


# --- writer: strings UTF-8 cannot encode --------------------------------------------------------


def _payload(shard: int = 1, count: int = 3) -> dict:
    return generate({"batch_id": BATCH, "shard": shard, "count": count}, None)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda r: r.update(name="Ann \ud800"), r"records\[1\]\['name'\]"),
        (lambda r: r.update({"\udfff": "x"}), r"records\[1\] has a key"),
        (lambda r: r.update(tags=["ok", "\ud83d"]), r"records\[1\]\['tags'\]\[1\]"),
        (lambda r: r.update(extra={"\ud800k": 1}), r"records\[1\]\['extra'\] has a key"),
    ],
)
def test_record_that_is_not_utf8_is_refused_naming_index_and_field(change, where: str) -> None:
    payload = _payload()
    change(payload["records"][1])
    with pytest.raises(InvalidPayloadError, match=where) as raised:
        parse_write_payload(payload)
    message = str(raised.value)
    assert "UTF-8" in message
    message.encode()  # the error itself must be loggable/serialisable


def test_writer_handler_refuses_a_lone_surrogate_before_writing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_s3(service: str) -> None:
        raise AssertionError("nothing may be written")

    payload = _payload()
    payload["records"][0]["city"] = "\ud800"
    monkeypatch.setenv(DATA_BUCKET_ENV, "data")
    monkeypatch.setattr(writer_handler.boto3, "client", no_s3)
    with pytest.raises(InvalidPayloadError, match=r"records\[0\]\['city'\]"):
        writer_handler.handler(payload, None)


# --- writer: type-strict count and shard --------------------------------------------------------


@pytest.mark.parametrize("count", [True, 1.0, "1", None])
def test_count_must_be_a_real_int(count: object) -> None:
    payload = _payload(count=1)
    payload["count"] = count
    with pytest.raises(InvalidPayloadError, match=rf"'count' must be an integer, got {count!r}"):
        parse_write_payload(payload)


@pytest.mark.parametrize("shard", [True, 1.0, "1"])
def test_payload_shard_must_be_a_real_int(shard: object) -> None:
    payload = _payload(shard=1)
    payload["shard"] = shard
    with pytest.raises(InvalidPayloadError, match=rf"'shard' must be an integer .* got {shard!r}"):
        parse_write_payload(payload)


@pytest.mark.parametrize("shard", [True, 1.0, "1", None])
def test_record_shard_must_be_a_real_int(shard: object) -> None:
    payload = _payload(shard=1)
    payload["records"][2]["shard"] = shard
    with pytest.raises(InvalidPayloadError, match=rf"records\[2\] field 'shard' must be an integer, got {shard!r}"):
        parse_write_payload(payload)


# --- quality: tolerated quarantine fraction -----------------------------------------------------


def _manifest(read: int, quarantined: int) -> Manifest:
    return sample_manifest(batch_id=BATCH, read=read, quarantined=quarantined, quarantine_reasons={})


@pytest.mark.parametrize("tolerance", [math.nan, math.inf, -math.inf, -0.01, 1.01, True, "0.1"])
@pytest.mark.parametrize(("read", "quarantined"), [(0, 0), (12, 3), (12, 12)])
def test_bad_tolerance_is_rejected_whatever_the_batch(tolerance: object, read: int, quarantined: int) -> None:
    with pytest.raises(ValueError, match=r"max_quarantine_fraction must be a number in \[0, 1\]") as raised:
        check_quarantine(_manifest(read, quarantined), tolerance, "data")  # type: ignore[arg-type]
    assert not isinstance(raised.value, QuarantineThresholdError)


@pytest.mark.parametrize("tolerance", [0.0, 0, 1.0, 1])
def test_tolerance_bounds_are_accepted(tolerance: float) -> None:
    assert check_quarantine(_manifest(12, 0), tolerance, "data") == 0.0
