"""The one ``pkg_resources`` call parliament 1.6.4 makes, on ``importlib.resources``.

setuptools 81 removed ``pkg_resources`` and MWAA's constraints pin setuptools 83, so the development
venv has none. The lint test puts this folder on parliament's ``PYTHONPATH`` (only there).
"""

from __future__ import annotations

from importlib.resources import files


def resource_filename(package: str, name: str) -> str:
    return str(files(package) / name)
