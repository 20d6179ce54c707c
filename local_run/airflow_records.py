"""What a local Airflow recorded about a DAG run: task times, XCom rows and task logs.

The metadata database is the home's SQLite, or the PostgreSQL ``local_run.postgres`` runs for the home.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from local_run import postgres


@dataclass(frozen=True)
class TaskSpan:
    """A task's first start and last end over all its map indexes; ``instances`` of them ran."""

    start: datetime
    end: datetime
    instances: int

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def _query(home: Path, sql: str, *params: object) -> list[tuple]:
    """``sql`` (portable, ``?`` parameters) on the home's metadata database."""
    url = postgres.url_of(home)
    if url is None:
        with closing(sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True)) as db:
            return db.execute(sql, params).fetchall()
    import psycopg2

    with closing(psycopg2.connect(url.replace("+psycopg2", ""))) as db, db.cursor() as cursor:
        cursor.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall()


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def run_ids(home: Path, dag_id: str) -> list[str]:
    """The DAG's runs, oldest first."""
    return [row[0] for row in _query(home, "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id", dag_id)]


def task_spans(home: Path, dag_id: str, run_id: str) -> dict[str, TaskSpan]:
    rows = _query(
        home,
        "SELECT task_id, MIN(start_date), MAX(end_date), COUNT(*) FROM task_instance "
        "WHERE dag_id = ? AND run_id = ? AND start_date IS NOT NULL AND end_date IS NOT NULL GROUP BY task_id",
        dag_id,
        run_id,
    )
    return {task: TaskSpan(_time(start), _time(end), count) for task, start, end, count in rows}


def xcom_bytes(home: Path, dag_id: str, run_id: str | None = None) -> dict[str, int]:
    """Bytes of every XCom row in the metadata database, by ``task[map_index].key``."""
    sql = "SELECT task_id, map_index, key, CAST(value AS TEXT) FROM xcom WHERE dag_id = ?"
    params: tuple[object, ...] = (dag_id,)
    if run_id is not None:
        sql, params = sql + " AND run_id = ?", (dag_id, run_id)
    rows = _query(home, sql, *params)
    return {f"{task}[{index}].{key}": len(value.encode()) if value else 0 for task, index, key, value in rows}


def xcom_values(home: Path, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> list[Any]:
    """The values as the metadata database holds them (a path, for one the XCom backend moved to S3)."""
    rows = _query(
        home,
        "SELECT CAST(value AS TEXT) FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ? "
        "ORDER BY map_index",
        dag_id,
        run_id,
        task_id,
        key,
    )
    return [json.loads(value) for (value,) in rows]


def rendered_fields(home: Path, dag_id: str, run_id: str) -> dict[str, str]:
    """Each task instance's rendered template fields as stored (JSON text), by ``task[map_index]``."""
    rows = _query(
        home,
        "SELECT task_id, map_index, CAST(rendered_fields AS TEXT) FROM rendered_task_instance_fields "
        "WHERE dag_id = ? AND run_id = ?",
        dag_id,
        run_id,
    )
    return {f"{task}[{index}]": str(fields) for task, index, fields in rows}


def per_task_instance(sizes: dict[str, int]) -> dict[str, int]:
    """Sum ``task[map_index].key`` sizes per task instance."""
    totals: dict[str, int] = defaultdict(int)
    for name, size in sizes.items():
        totals[name.rsplit(".", 1)[0]] += size
    return dict(totals)


def task_log_files(home: Path, dag_id: str, run_id: str) -> list[Path]:
    """The per-task-instance log files a scheduler-run Airflow wrote for the run (none for ``dags test``)."""
    return sorted((home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}").rglob("*.log"))
