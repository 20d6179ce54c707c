"""No production file grows past 400 lines (README, Decisions): a file that does several jobs is split by job.

Production is every Python file git tracks outside ``tests/``: the DAG, plugins, Lambdas, Glue job,
provisioning, the local AWS, the local-run tooling and the benchmark (its minimal DAGs included).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400
NOT_PRODUCTION = "tests"
PRODUCTION_FOLDERS = {"bench", "dags", "glue", "infra", "lambdas", "local_aws", "local_run", "plugins"}


def _production_files() -> list[Path]:
    """The tracked Python files outside tests/ that the working tree has (a deletion not yet committed is gone)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    paths = [Path(name) for name in listed.split("\0") if name]
    return sorted(path for path in paths if path.parts[0] != NOT_PRODUCTION and (ROOT / path).is_file())


def _lines(path: Path) -> int:
    return len((ROOT / path).read_text(encoding="utf-8").splitlines())


def test_production_is_the_folders_named_here() -> None:
    """A new top-level folder of Python files is a decision: production, or a test folder."""
    assert {path.parts[0] if len(path.parts) > 1 else str(path) for path in _production_files()} == PRODUCTION_FOLDERS


def test_no_production_file_is_over_400_lines() -> None:
    sizes = {path: _lines(path) for path in _production_files()}
    offenders = {path: count for path, count in sizes.items() if count > MAX_LINES}
    assert not offenders, (
        f"{len(offenders)} production file(s) over {MAX_LINES} lines; split each by job:\n"
        + "\n".join(f"  {path.as_posix()}: {count} lines" for path, count in sorted(offenders.items()))
    )
