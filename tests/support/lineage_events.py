"""What each task of a DAG run reported in its OpenLineage events, written by the client's file transport
(``local_run.openlineage.file_transport``)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

# (namespace, name) of one dataset.
Dataset = tuple[str, str]


def task_datasets(path: Path, dag_id: str, event_type: str = "COMPLETE") -> dict[str, dict[str, set[Dataset]]]:
    """Per task id, the union over its task instances (map indexes) of the inputs and outputs its
    ``event_type`` events name. A task's job is named ``{dag_id}.{task_id}``."""
    found: dict[str, dict[str, set[Dataset]]] = defaultdict(lambda: {"inputs": set(), "outputs": set()})
    for line in path.read_text().splitlines():
        event = json.loads(line)
        job = event.get("job", {}).get("name", "")
        if event.get("eventType") != event_type or not job.startswith(f"{dag_id}."):
            continue
        task = found[job.removeprefix(f"{dag_id}.")]
        for side in ("inputs", "outputs"):
            task[side] |= {(dataset["namespace"], dataset["name"]) for dataset in event.get(side) or []}
    return dict(found)
