"""The local standalone Airflow listens on 127.0.0.1 only, on the ports it is given, sized to the machine;
its REST client retries only the calls that are safe to send twice."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from local_run import airflow_standalone
from local_run.airflow_standalone import Standalone, executor_slots, standalone_env


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


def test_the_metadata_database_is_set_only_when_given() -> None:
    url = "postgresql+psycopg2://airflow@127.0.0.1:5999/airflow"
    assert standalone_env({}, Path("/home"), 8123, database_url=url)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == url
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in standalone_env({}, Path("/home"), 8123)


@pytest.fixture
def busy_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Standalone, list[str]]]:
    """A server answering each path's first request with 503, then 200; yields a client and the requests seen."""
    seen: list[str] = []
    answered: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(f"{self.command} {self.path}")
            busy = self.path not in answered
            answered.add(self.path)
            self.send_response(503 if busy else 200)
            self.end_headers()
            self.wfile.write(b'{"detail": "database is locked"}' if busy else b'{"ok": true}')

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    monkeypatch.setattr(airflow_standalone, "RETRY_DELAY_S", 0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        yield Standalone(proc=None, url=url, password="", log=Path(os.devnull)), seen  # type: ignore[arg-type]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_idempotent_call_is_retried_on_503(busy_once: tuple[Standalone, list[str]], method: str) -> None:
    client, seen = busy_once
    assert client._request(method, "/api/v2/thing", None, "token") == {"ok": True}
    assert seen == [f"{method} /api/v2/thing"] * 2


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_call_that_may_have_taken_effect_is_sent_once(busy_once: tuple[Standalone, list[str]], method: str) -> None:
    client, seen = busy_once
    with pytest.raises(RuntimeError, match=f"{method} /api/v2/backfills -> 503"):
        client._request(method, "/api/v2/backfills", {"dag_id": "d"}, "token")
    assert seen == [f"{method} /api/v2/backfills"]
