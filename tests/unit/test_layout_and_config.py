from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from employee_pipeline import layout
from employee_pipeline.config import pipeline_names


def test_batch_id_is_the_utc_hour() -> None:
    moment = datetime(2026, 11, 25, 15, 59, tzinfo=timezone(timedelta(hours=1)))
    assert layout.batch_id_for(moment) == "20261125T14"


def test_batch_id_needs_a_timezone() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        layout.batch_id_for(datetime(2026, 11, 25, 14))


@pytest.mark.parametrize("bad", ["2026112514", "20261125T24", "20261301T00", 20261125, None, "20261125T1"])
def test_malformed_batch_ids_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="batch_id"):
        layout.parse_batch_id(bad)


def test_keys_follow_the_data_layout() -> None:
    assert layout.raw_prefix("20261125T04") == "raw/employees/dt=2026-11-25/hour=04/"
    assert layout.raw_key("20261125T04", 7) == "raw/employees/dt=2026-11-25/hour=04/part-00007.jsonl"
    assert layout.quarantine_prefix("20261125T04") == "quarantine/employees/dt=2026-11-25/hour=04/"
    assert layout.manifest_key("20261125T04") == "manifests/employees/dt=2026-11-25/hour=04/manifest.json"


@pytest.mark.parametrize("shard", [0, 7, 12345, 99999])
def test_the_shard_object_pattern_reads_back_the_shard_of_its_raw_key(shard: int) -> None:
    found = re.search(layout.SHARD_OBJECT_PATTERN, layout.raw_key("20261125T04", shard))
    assert found is not None and int(found.group(1)) == shard
    assert re.search(layout.SHARD_OBJECT_PATTERN, layout.raw_key("20261125T04", shard) + ".tmp") is None


def test_every_name_derives_from_stage_and_prefix() -> None:
    names = pipeline_names("prod", "acme-hr")
    values = [v for k, v in names.as_dict().items() if k not in ("stage", "prefix", "gsi")]
    mwaa = {"mwaa_environment": "acme-hr-prod", "mwaa_source_bucket": "airflow-acme-hr-prod"}
    assert all(v.startswith("acme-hr-prod-") for k, v in names.as_dict().items() if v in values and k not in mwaa)
    assert {k: getattr(names, k) for k in mwaa} == mwaa
    assert len(set(values)) == len(values)


@pytest.mark.parametrize("stage", ["", "Prod", "a_b", "x" * 40, "-dev"])
def test_invalid_stage_is_rejected_by_name(stage: str) -> None:
    with pytest.raises(ValueError, match="invalid stage"):
        pipeline_names(stage)
