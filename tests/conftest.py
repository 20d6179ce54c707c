"""Fixtures every tier may use: a local SparkSession, the local AWS (started once per session), and a
module's stage deployed with its own Airflow (the e2e and browser tiers).

The implementations live in tests/support/; these are the thin fixtures around them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from local_aws import iam_gate
from tests.support import interrupts, stages
from tests.support.ports import free_port

if TYPE_CHECKING:
    from local_run.airflow_standalone import Standalone
    from tests.support.pipeline import Pipeline

# Never let a test reach a real AWS account, whatever the developer's shell has.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(
    {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
)
# Every local AWS the suite starts enforces IAM, whatever the shell says: a test that passes with IAM
# switched off proves nothing about AWS. (test_iam_enforced sets the switch for its own child only.)
os.environ.pop(iam_gate.SWITCH, None)


def pytest_configure(config: pytest.Config) -> None:
    interrupts.install()  # SIGTERM and SIGHUP tear down as Ctrl-C does


def pytest_unconfigure(config: pytest.Config) -> None:
    interrupts.restore()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    stages.check_marked(items)
    stages.group_by_stage(items)


_SHARED = pytest.StashKey[stages.SharedStages]()


@pytest.hookimpl(trylast=True)  # after the module's own fixtures are torn down
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    shared = item.config.stash.get(_SHARED, None)
    if shared is not None:
        stages.close_if_last(shared, item, nextitem)


@pytest.fixture(scope="session")
def shared_stages(request: pytest.FixtureRequest) -> Iterator[stages.SharedStages]:
    """Each stage's deployment and Airflow, shared by the modules that name that stage."""
    shared = request.config.stash[_SHARED] = stages.SharedStages()
    try:
        yield shared
    finally:
        shared.close_all()


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    # Python workers unpickle the job's functions by module name: they must find its package and the
    # shared modules it imports, glue/ and dags/ (on Glue: the job's --extra-py-files zip of both).
    root = Path(__file__).resolve().parents[1]
    job_paths = [str(root / "glue"), str(root / "dags")]
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [*job_paths, os.environ.get("PYTHONPATH")]))
    # py4j logs while the interpreter shuts down, after pytest closed its streams.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    session = (
        SparkSession.builder.master("local[1]")
        .appName("unit-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def local_aws() -> Iterator[str]:
    """The project's local AWS, as `python -m local_aws start` runs it; yields its endpoint."""
    from local_aws import stats
    from local_run.stage import running_local_aws

    with running_local_aws(free_port()) as endpoint:
        assert stats.iam_audit(endpoint)["enforced"], "the suite's local AWS must enforce IAM"
        yield endpoint


@pytest.fixture(scope="session")
def aws(local_aws: str) -> object:
    from infra.session import AwsTarget

    return AwsTarget(endpoint_url=local_aws)


@pytest.fixture(scope="module")
def module_stage(request: pytest.FixtureRequest) -> str:
    """The stage the test module deploys: its ``pytestmark`` carries ``pytest.mark.stage(NAME)``."""
    return stages.module_stage(request.node)


@pytest.fixture(scope="module")
def pipeline(
    module_stage: str, tmp_path_factory: pytest.TempPathFactory, local_aws: str, shared_stages: stages.SharedStages
) -> Pipeline:
    """A stage named by the test module's stage marker, deployed (with its MWAA execution role) into the
    session's local AWS, with a migrated AIRFLOW_HOME of its own."""
    from tests.support.pipeline import Pipeline

    def deployed() -> Pipeline:
        return Pipeline(module_stage, local_aws, tmp_path_factory.mktemp(f"airflow-{module_stage}"))

    return shared_stages.enter(module_stage, "pipeline", deployed)


@pytest.fixture(scope="module")
def airflow(pipeline: Pipeline, module_stage: str, shared_stages: stages.SharedStages) -> Standalone:
    """`airflow standalone` (a real scheduler, triggerer and API server) on the module's stage, the DAG unpaused.

    Its metadata database is a throwaway PostgreSQL, as on MWAA, stopped with it.
    """
    from tests.support.airflow import standalone

    return shared_stages.enter(module_stage, "airflow", lambda: standalone(pipeline))
