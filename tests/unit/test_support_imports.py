"""Test support lives in tests/support/: no test file imports a conftest, another test module, or a private name.

A conftest is pytest's to load (importing one registers its fixtures and hooks a second time, under
another name); what two places share goes to tests/support/ instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
CONFTEST = "conftest"  # spelled apart in the examples below, so a grep for such imports finds none here


def _tests_module(module: str) -> bool:
    return module == "tests" or module.startswith("tests.")


def _kind(name: str, *, in_tests: bool) -> str | None:
    """What a module (or a name imported from a tests module) is, if it may not be imported: else None."""
    if name == "conftest":
        return "a conftest"
    if in_tests and name.startswith("test_"):
        return "a test module"
    if in_tests and name.startswith("_") and not name.startswith("__"):
        return "a private name"
    return None


def offences(source: str) -> list[str]:
    """Each import of a conftest, a test module or a private name of a tests module in ``source``."""
    tree = ast.parse(source)
    found = []
    tests_aliases: set[str] = set()  # names bound to a module (or anything) under tests/
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                in_tests = _tests_module(alias.name)
                found += [
                    f"line {node.lineno}: import {alias.name} ({kind})"
                    for part in alias.name.split(".")
                    if (kind := _kind(part, in_tests=in_tests))
                ]
                if in_tests:
                    tests_aliases.add(alias.asname or alias.name.partition(".")[0])
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            in_tests = node.level > 0 or _tests_module(module)
            where = "." * node.level + module
            found += [
                f"line {node.lineno}: from {where} import ... ({kind})"
                for part in module.split(".")
                if part and (kind := _kind(part, in_tests=in_tests))
            ]
            for alias in node.names:
                if kind := _kind(alias.name, in_tests=in_tests):
                    found.append(f"line {node.lineno}: from {where} import {alias.name} ({kind})")
                if in_tests:
                    tests_aliases.add(alias.asname or alias.name)
    found += [
        f"line {node.lineno}: {node.value.id}.{node.attr} (a private name of another module)"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in tests_aliases
        and _kind(node.attr, in_tests=True) == "a private name"
    ]
    return found


@pytest.mark.parametrize(
    "source",
    [
        f"from tests.e2e.{CONFTEST} import pipeline",
        f"from tests.{CONFTEST} import free_port",
        f"from tests import {CONFTEST}",
        f"import tests.integration.{CONFTEST}",
        f"from .{CONFTEST} import finished_run",
        f"from . import {CONFTEST}",
        "from tests.e2e import test_iam_statement_removed",
        "import tests.e2e.test_scheduler as scheduler",
        "from tests.support.glue import _private",
        "from tests.support import interrupts\ninterrupts._interrupted",
        "import tests.integration.helpers as t\nt._plan()",
    ],
)
def test_the_check_finds_each_kind_of_offence(source: str) -> None:
    assert offences(source)


def test_the_check_lets_support_imports_and_aliases_through() -> None:
    assert not offences(
        "from tests.support.glue import finished_run\n"
        "from tests.support.tool_venv import run as _run\n"
        "from tests.mwaa import mwaa_airflow\n"
        "import pytest\npytest._private_of_pytest\n"
    )


def test_no_test_file_imports_a_conftest_a_test_module_or_a_private_name() -> None:
    found = {
        str(path.relative_to(TESTS.parent)): offences(path.read_text())
        for path in sorted(TESTS.rglob("*.py"))
        if path.resolve() != Path(__file__).resolve()
    }
    found = {path: lines for path, lines in found.items() if lines}
    assert not found, f"move what is shared to tests/support/ and import it from there: {found}"
