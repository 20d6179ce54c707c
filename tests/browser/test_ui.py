"""The local Airflow UI, as a person uses it: log in, trigger a run with edited params, start a backfill.

The hours are relative to now, away from the hour the scheduled run (made when the DAG is unpaused)
processes, so every batch asserted here is written by the UI's runs only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from employee_pipeline import layout
from employee_pipeline.config import DAG_ID
from employee_pipeline.waiting import wait_until
from local_run import airflow_standalone

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture skips, or fails under CI, with the reason
    expect = None

# The scheduler tier's stage: its deployment and its Airflow serve both modules, this one first.
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.stage("scheduler")]

DAG = DAG_ID
TRIGGERED = {"shards": 3, "records_per_shard": 7}
BACKFILLED = {"shards": 2, "records_per_shard": 5}
RUNS_TIMEOUT_S = 420
ENDED = ("success", "failed")


def _paste_date(page: Any, box: Any, when: datetime) -> None:
    """Set a date field. Typed text reaches the form after a 1 s debounce; a paste at once, with its offset."""
    page.evaluate("text => navigator.clipboard.writeText(text)", when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    box.focus()
    box.press("ControlOrMeta+V")
    expect(box).to_have_value(when.strftime("%Y-%m-%dT%H:%M"))  # shown in the UI's timezone, UTC


def _fill_params(dialog: Any, params: dict[str, int]) -> None:
    for name, value in params.items():
        field = dialog.get_by_role("spinbutton", name=name, exact=True)
        field.fill(str(value))
        expect(field).to_have_value(str(value))


def _log_in(page: Any, airflow: airflow_standalone.Standalone) -> None:
    page.goto(airflow.url)
    page.get_by_label("Username").fill(airflow_standalone.USER)
    page.get_by_label("Password").fill(airflow.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Dags", exact=True)).to_be_visible()


def _open_trigger_dialog(page: Any, airflow: airflow_standalone.Standalone) -> Any:
    # From the DAG's page: on a run's page the same button prefills the dialog from that run, re-rendering it.
    page.goto(f"{airflow.url}/dags/{DAG}")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=f"Trigger Dag - {DAG}")).to_be_visible()
    return dialog


def _trigger_single_run(
    page: Any, airflow: airflow_standalone.Standalone, logical_date: datetime, params: dict[str, int]
) -> None:
    dialog = _open_trigger_dialog(page, airflow)
    _paste_date(page, dialog.get_by_role("textbox", name="Logical Date"), logical_date)
    _fill_params(dialog, params)
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    expect(page.get_by_text("Dag Run Triggered").first).to_be_visible()  # the toast (rendered twice)


def _start_backfill(
    page: Any, airflow: airflow_standalone.Standalone, first: datetime, last: datetime, params: dict[str, int]
) -> None:
    dialog = _open_trigger_dialog(page, airflow)
    dialog.get_by_text("Backfill", exact=True).click()  # the radio card (its input is visually hidden)
    expect(dialog.get_by_role("heading", name=f"Run Backfill - {DAG}")).to_be_visible()
    _paste_date(page, dialog.get_by_role("textbox", name="From"), first)
    _paste_date(page, dialog.get_by_role("textbox", name="To"), last)
    hours = int((last - first) / timedelta(hours=1)) + 1
    expect(dialog.get_by_text(f"{hours} runs will be triggered.")).to_be_visible()  # the UI's dry run
    _fill_params(dialog, params)
    # Airflow 3.3.1's form sends its params with a backfill only when this is ticked; else the DAG's defaults.
    dialog.get_by_text("Override parameters on existing runs").click()
    expect(dialog.get_by_role("checkbox", name="Override parameters on existing runs")).to_be_checked()
    dialog.get_by_role("button", name="Run Backfill").click()
    expect(page.get_by_text("Backfill generated").first).to_be_visible()


def _instant(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def _wait_for_every_run(airflow: airflow_standalone.Standalone) -> list[dict[str, Any]]:
    """Every run of the DAG ended and every backfill completed; their runs, oldest hour first."""
    seen: dict[str, Any] = {}

    def ended() -> list[dict[str, Any]] | None:
        seen["runs"] = airflow.api("GET", f"/api/v2/dags/{DAG}/dagRuns?limit=100&order_by=logical_date")["dag_runs"]
        seen["backfills"] = airflow.api("GET", f"/api/v2/backfills?dag_id={DAG}")["backfills"]
        runs_ended = all(run["state"] in ENDED for run in seen["runs"])
        return seen["runs"] if runs_ended and all(b["completed_at"] for b in seen["backfills"]) else None

    try:
        return wait_until(ended, timeout=RUNS_TIMEOUT_S, message="every run ended", error=AssertionError)
    except AssertionError as err:
        going = {run["dag_run_id"]: run["state"] for run in seen["runs"] if run["state"] not in ENDED}
        raise AssertionError(f"{err}; runs still going: {going}; backfills: {seen['backfills']}") from None


def test_trigger_with_edited_params_then_a_two_hour_backfill_from_the_ui(chromium, airflow, pipeline, page) -> None:
    # `chromium` comes first: without a browser the test skips before the local AWS and Airflow start.
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    triggered_hour = hour - timedelta(hours=24)
    backfilled_hours = [hour - timedelta(hours=48), hour - timedelta(hours=47)]

    _log_in(page, airflow)
    # A manual run with logical date L processes the hour before L.
    _trigger_single_run(page, airflow, triggered_hour + timedelta(hours=1), TRIGGERED)
    _start_backfill(page, airflow, backfilled_hours[0], backfilled_hours[-1], BACKFILLED)

    runs = _wait_for_every_run(airflow)
    (manual,) = [run for run in runs if run["run_type"] == "manual"]
    assert manual["state"] == "success", manual
    assert manual["conf"].items() >= TRIGGERED.items(), manual["conf"]
    assert _instant(manual["data_interval_start"]) == triggered_hour
    batch = layout.batch_id_for(triggered_hour)
    per_shard = TRIGGERED["records_per_shard"]
    # Exactly shards x records_per_shard items: each edited shard full, and nothing beyond the last one.
    assert pipeline.count(batch, TRIGGERED["shards"] + 1) == {
        **dict.fromkeys(range(TRIGGERED["shards"]), per_shard),
        TRIGGERED["shards"]: 0,
    }
    assert pipeline.manifest(batch).written == TRIGGERED["shards"] * per_shard

    backfilled = [run for run in runs if run["run_type"] == "backfill"]
    assert [(_instant(run["data_interval_start"]), run["state"]) for run in backfilled] == [
        (backfilled_hour, "success") for backfilled_hour in backfilled_hours
    ]
    assert all(run["conf"].items() >= BACKFILLED.items() for run in backfilled), backfilled
    for backfilled_hour in backfilled_hours:
        batch = layout.batch_id_for(backfilled_hour)
        assert pipeline.count(batch, BACKFILLED["shards"]) == dict.fromkeys(
            range(BACKFILLED["shards"]), BACKFILLED["records_per_shard"]
        )
        assert pipeline.manifest(batch).written == BACKFILLED["shards"] * BACKFILLED["records_per_shard"]
