"""The local standalone Airflow listens on 127.0.0.1 only, on the ports it is given, sized to the machine."""

from __future__ import annotations

from pathlib import Path

from local_run.airflow_standalone import executor_slots, standalone_env


def test_listens_on_loopback_on_the_given_ports() -> None:
    env = standalone_env({"KEEP": "1"}, Path("/home"), 8123, worker_log_port=9001, trigger_log_port=9002)
    assert env["KEEP"] == "1"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__API__PORT"] == "8123"
    assert env["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:8123"
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "9001"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "9002"
    assert env["AIRFLOW__CORE__PARALLELISM"] == str(executor_slots())


def test_executor_slots_follow_the_cores_with_room_for_a_waiting_sensor() -> None:
    assert [executor_slots(cpus) for cpus in (1, 2, 3, 8)] == [4, 4, 6, 16]
