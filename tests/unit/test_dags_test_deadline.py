"""``local_run.dags_test`` mends Airflow 3.3.1's ``dags test`` crash on a DAG with a Deadline Alert
(apache/airflow#73428)."""

from __future__ import annotations

import pytest
from airflow.models.deadline_alert import DeadlineAlert
from airflow.serialization.definitions.deadline import SerializedReferenceModels

from local_run import dags_test

ENCODED = {"name": "freshness", "reference": {"reference_type": "DagRunQueuedAtDeadline"}}


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DeadlineAlert, "get_by_id", DeadlineAlert.__dict__["get_by_id"])  # restored afterwards
    dags_test._patch_deadline_lookup()


def test_unpatched_lookup_of_an_encoded_alert_is_airflows_crash() -> None:
    with pytest.raises(Exception, match="'dict' object has no attribute 'hex'"):
        DeadlineAlert.get_by_id(ENCODED)


def test_an_encoded_alert_is_read_as_itself(patched: None) -> None:
    alert = DeadlineAlert.get_by_id(ENCODED)
    # What DagRun.update_state asks of it: whether the reference is the run's, so the run's deadlines are pruned.
    assert alert.reference_class in SerializedReferenceModels.TYPES.DAGRUN


def test_an_id_is_still_looked_up_in_the_table(patched: None) -> None:
    with pytest.raises(Exception) as raised:
        DeadlineAlert.get_by_id("0195f6a8-0000-7000-8000-000000000000")
    assert "hex" not in str(raised.value)  # the database lookup ran (and found no table or no row)
