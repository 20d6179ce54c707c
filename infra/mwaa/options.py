"""The Airflow configuration options ``publish`` sends to MWAA, and the environment variables MWAA makes of them.

What AWS documents:

* The MWAA API (``AirflowConfigurationOptions`` of CreateEnvironment/UpdateEnvironment; shapes
  ``ConfigKey``/``ConfigValue`` of botocore's ``mwaa`` model): a key is 1-64 characters matching
  ``[a-z]+([a-z0-9._]*[a-z0-9_]+)?``, a value 1-65536 printable ASCII characters (``[ -~]+``).
* The MWAA user guide ("Apache Airflow configuration options", configuring-env-variables): MWAA
  attaches each option to the Airflow containers as an environment variable; an option
  ``foo.user`` becomes ``AIRFLOW__FOO__USER``.

That translation is documented for ``section.key`` only. A section that itself holds a dot
(``common.io``) passes the key pattern, but which variable MWAA would make of
``common.io.xcom_objectstorage_path`` is documented nowhere. Airflow reads a dotted section's
options from the variable whose section part has its dots replaced by underscores
(``AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH``; ``_env_var_name`` of its configuration
parser), so such an option is sent as ``common_io.xcom_objectstorage_path``: one dot, the
documented translation, and exactly the variable Airflow reads.
"""

from __future__ import annotations

import re

from employee_pipeline.config import AWS_CONN_ID, PipelineNames
from employee_pipeline.layout import xcom_options

KEY_PATTERN = "[a-z]+([a-z0-9._]*[a-z0-9_]+)?"
KEY_MAX_LENGTH = 64
VALUE_PATTERN = "[ -~]+"
VALUE_MAX_LENGTH = 65536
ENV_VAR_PREFIX = "AIRFLOW__"


def option_key(option: str) -> str:
    """The MWAA key of the Airflow option ``section.key``: ``common.io.x`` -> ``common_io.x``."""
    section, _, key = option.rpartition(".")
    if not section or not key:
        raise ValueError(f"Airflow option {option!r} is not of the form section.key")
    return f"{section.replace('.', '_')}.{key}"


def check_option(key: str, value: str) -> None:
    """ValueError unless MWAA's API accepts ``key`` = ``value`` and translates ``key`` as documented."""
    if not 1 <= len(key) <= KEY_MAX_LENGTH or not re.fullmatch(KEY_PATTERN, key):
        raise ValueError(
            f"MWAA configuration option key {key!r}: must be 1-{KEY_MAX_LENGTH} characters matching {KEY_PATTERN}"
        )
    if key.count(".") != 1:
        raise ValueError(
            f"MWAA configuration option key {key!r}: MWAA documents the translation of section.key only "
            "(one dot); write the section's dots as underscores"
        )
    if not isinstance(value, str) or not 1 <= len(value) <= VALUE_MAX_LENGTH or not re.fullmatch(VALUE_PATTERN, value):
        raise ValueError(
            f"MWAA configuration option {key}: the value must be 1-{VALUE_MAX_LENGTH} printable ASCII characters"
        )


def configuration_options(names: PipelineNames) -> dict[str, str]:
    """The ``AirflowConfigurationOptions`` the pipeline needs, keyed as MWAA documents them."""
    options = {option_key(option): value for option, value in xcom_options(names.data_bucket, AWS_CONN_ID).items()}
    for key, value in options.items():
        check_option(key, value)
    return options


def environment_variables(options: dict[str, str]) -> dict[str, str]:
    """What MWAA attaches to Airflow's containers for ``options``: ``section.key`` -> ``AIRFLOW__SECTION__KEY``.

    A key MWAA's API would refuse, or whose translation MWAA does not document, is a ValueError.
    """
    for key, value in options.items():
        check_option(key, value)
    return {env_var_name(key): value for key, value in options.items()}


def env_var_name(key: str) -> str:
    """The variable MWAA makes of the option ``key`` (``section.key``): ``AIRFLOW__SECTION__KEY``."""
    section, name = key.split(".")
    return f"{ENV_VAR_PREFIX}{section.upper()}__{name.upper()}"
