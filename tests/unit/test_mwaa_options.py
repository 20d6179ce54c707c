"""MWAA configuration options: keys in the form MWAA's API accepts and documents, variables Airflow reads."""

from __future__ import annotations

import botocore.session
import pytest
from airflow.configuration import conf

from employee_pipeline.config import pipeline_names
from employee_pipeline.layout import xcom_options
from infra.mwaa import options
from infra.mwaa.options import configuration_options, environment_variables


def test_the_constraints_are_the_mwaa_models() -> None:
    shapes = botocore.session.get_session().get_service_model("mwaa").shape_for("AirflowConfigurationOptions")
    assert shapes.key.metadata["pattern"] == options.KEY_PATTERN
    assert (shapes.key.metadata["min"], shapes.key.metadata["max"]) == (1, options.KEY_MAX_LENGTH)
    assert shapes.value.metadata["pattern"] == options.VALUE_PATTERN
    assert (shapes.value.metadata["min"], shapes.value.metadata["max"]) == (1, options.VALUE_MAX_LENGTH)


def test_every_key_is_section_dot_key_within_the_pattern() -> None:
    sent = configuration_options(pipeline_names("dev"))
    assert set(sent) == {
        "core.xcom_backend",
        "common_io.xcom_objectstorage_path",
        "common_io.xcom_objectstorage_threshold",
        "common_io.xcom_objectstorage_compression",
    }
    for key, value in sent.items():
        options.check_option(key, value)
        assert key.count(".") == 1


def test_the_variables_are_the_ones_airflow_reads_for_each_option() -> None:
    names = pipeline_names("dev")
    variables = environment_variables(configuration_options(names))
    wanted = {}
    for option, value in xcom_options(names.data_bucket, "aws_default").items():
        section, key = option.rsplit(".", 1)
        wanted[conf._env_var_name(section, key)] = value
    assert variables == wanted
    assert variables["AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD"] == "512"


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("common.io.xcom_objectstorage_path", "s3://b/x", "one dot"),  # undocumented translation
        ("Core.parallelism", "8", "matching"),
        ("core.", "8", "matching"),
        ("core." + "x" * 60, "8", "1-64"),
        ("core.parallelism", "", "printable"),
        ("core.parallelism", "caf\u00e9", "printable"),
        ("core", "8", "one dot"),
    ],
)
def test_a_key_or_value_mwaa_refuses_or_does_not_document_is_refused(key: str, value: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        environment_variables({key: value})
