from __future__ import annotations

import pytest

from employee_pipeline.config import PipelineNames, pipeline_names
from infra.deploy import deploy

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def stage(aws) -> PipelineNames:
    """Stage `it`, deployed once into the session's local AWS."""
    names = pipeline_names("it")
    deploy(aws, names)
    return names
