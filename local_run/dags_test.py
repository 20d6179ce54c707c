"""``airflow dags test`` for a DAG with a Deadline Alert: ``python -m local_run.dags_test DAG_ID DATE ...``.

Airflow 3.3.1's ``dags test`` crashes once a run with a deadline succeeds (apache/airflow#73428): its
scheduler DAG is an in-memory serialization round trip, so ``dag.deadline`` holds encoded alerts, and
``DagRun.update_state`` looks each up as a ``deadline_alert`` row id. Here an encoded alert is read as
itself (the fix proposed upstream, apache/airflow#73430); an id is looked up as before. The scheduler,
and so MWAA, never meets encoded alerts there.
"""

from __future__ import annotations

import sys
from typing import Any


def _patch_deadline_lookup() -> None:
    from airflow.models.deadline_alert import DeadlineAlert

    lookup = DeadlineAlert.get_by_id.__func__  # type: ignore[attr-defined]

    def get_by_id(cls: type[DeadlineAlert], deadline_alert_id: Any, **kwargs: Any) -> DeadlineAlert:
        if isinstance(deadline_alert_id, dict):  # an encoded alert: never added to the session
            return cls(reference=deadline_alert_id["reference"])
        return lookup(cls, deadline_alert_id, **kwargs)

    DeadlineAlert.get_by_id = classmethod(get_by_id)  # type: ignore[method-assign,assignment]


def main() -> None:
    _patch_deadline_lookup()
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", "dags", "test", *sys.argv[1:]]
    sys.exit(airflow_main())


if __name__ == "__main__":
    main()
