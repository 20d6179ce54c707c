"""The throwaway PostgreSQL of the real-scheduler tiers and `make airflow`: it answers, and leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import psutil
import pytest

from local_run import postgres


@pytest.fixture
def bin_dir() -> Path:
    try:
        return postgres.binaries()
    except postgres.PostgresError as err:
        if os.environ.get("CI") == "true":  # CI installs it (.ci/run): a skip there would hide the tiers' database
            pytest.fail(f"{err}, and CI must have it")
        pytest.skip(str(err))


def _query(url: str, sql: str) -> tuple:
    import psycopg2

    db = psycopg2.connect(url.replace("+psycopg2", ""))
    try:
        with db.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()
    finally:
        db.close()


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE  # a zombie has ended; init reaps it in its own time
    except psutil.NoSuchProcess:
        return False


@pytest.mark.integration
@pytest.mark.parametrize("interrupted", [False, True], ids=["returns", "interrupted"])
def test_starts_answers_then_stops_leaving_no_process(bin_dir: Path, tmp_path: Path, interrupted: bool) -> None:
    started = time.monotonic()
    ending = pytest.raises(KeyboardInterrupt) if interrupted else contextlib.nullcontext()
    with ending, postgres.running(tmp_path) as server:
        assert time.monotonic() - started < 30
        assert _query(server.url, "SELECT current_database(), 1 + 1") == (postgres.DATABASE, 2)
        assert postgres.url_of(tmp_path) == server.url  # where airflow_records finds it
        postmaster = psutil.Process(int((server.data / "postmaster.pid").read_text().split()[0]))
        family = [postmaster, *postmaster.children(recursive=True)]
        assert len(family) > 1  # the server and its background workers
        if interrupted:  # Ctrl-C, or SIGTERM as the test session turns it
            raise KeyboardInterrupt
    assert not [process for process in family if _alive(process)]
    assert not server.root.exists()
    assert postgres.url_of(tmp_path) is None


def test_missing_binaries_name_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(postgres.glob, "glob", lambda pattern: [])
    with pytest.raises(postgres.PostgresError, match="apt-get install postgresql"):
        postgres.binaries()
