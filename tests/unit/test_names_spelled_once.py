"""Every shared name and default is spelled once, in ``config`` or ``layout``: a new copy fails here.

The Python sources of the DAG, plugins/, infra/, lambdas/, glue/, local_run/ and bench/ are parsed, and
the strings they use (docstrings aside) are compared with the values config and layout define (the Glue
job imports them from the copy of the package its zip ships); local_aws emulates AWS and imports nothing
of the project, so it is only searched for the project's own names.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from employee_pipeline import config, layout
from infra import ROOT

SHARED_MODULES = (ROOT / "dags" / "employee_pipeline" / "config.py", ROOT / "dags" / "employee_pipeline" / "layout.py")
SCANNED = ("dags", "plugins", "infra", "lambdas", "glue", "local_run", "bench")

# Names only this project gives: no other source may spell them, the local AWS included.
PROJECT_NAMES = {
    "config.DAG_ID": config.DAG_ID,
    "config.DEFAULT_PREFIX": config.DEFAULT_PREFIX,
    "config.STAGE_VARIABLE": config.STAGE_VARIABLE,
    "config.PREFIX_VARIABLE": config.PREFIX_VARIABLE,
    "config.DEPLOYMENT_VARIABLE": config.DEPLOYMENT_VARIABLE,
    "config.GSI_NAME": config.GSI_NAME,
    "config.GSI_KEY": config.GSI_KEY,
    "layout.DATA_BUCKET_ENV": layout.DATA_BUCKET_ENV,
    "layout.RAW_PREFIX": layout.RAW_PREFIX,
    "layout.QUARANTINE_PREFIX": layout.QUARANTINE_PREFIX,
    "layout.MANIFEST_PREFIX": layout.MANIFEST_PREFIX,
    "layout.XCOM_BACKEND": layout.XCOM_BACKEND,
    "layout.BATCH_ID_FORMAT": layout.BATCH_ID_FORMAT,
}
# Names AWS or Airflow also use: the project's sources take them from config, the local AWS has its own.
SHARED_NAMES = {
    "config.AWS_CONN_ID": config.AWS_CONN_ID,
    "config.LAMBDA_LOG_GROUP_PREFIX": config.LAMBDA_LOG_GROUP_PREFIX,
}
# Attribute names that are also the record's, the event's or the manifest's fields ("batch_id" is a field of
# each): a copy is a constant defined with one, a parameter's default, or a key of a DynamoDB ``Key=``.
FIELD_LIKE_NAMES = {
    "config.TABLE_KEY": config.TABLE_KEY,
    "config.LOAD_ATTRIBUTE": config.LOAD_ATTRIBUTE,
    "config.LEASE_KEY": config.LEASE_KEY,
}
# How each derived resource name ends (``{prefix}-{stage}-data``, ``airflow-{prefix}-{stage}``): only
# pipeline_names puts a stage's names together.
_SAMPLE = config.pipeline_names("stage", "prefix")
NAME_AFFIXES = {
    f"PipelineNames.{field}": value.replace("prefix-stage", "")
    for field, value in _SAMPLE.as_dict().items()
    if "prefix-stage" in value and value != "prefix-stage"
}
# The DAG's Param defaults: the demo and the Makefile take them from config.
PARAM_DEFAULTS = {"shards": config.DEFAULT_SHARDS, "records_per_shard": config.DEFAULT_RECORDS_PER_SHARD}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: prose may name anything."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _strings(tree: ast.AST) -> Iterator[tuple[ast.Constant, bool]]:
    """Every string constant that is no docstring, and whether it is a literal part of an f-string."""
    docstrings = _docstrings(tree)
    in_fstring = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node, id(node) in in_fstring


def _spells(text: str, value: str) -> bool:
    """Whether ``text`` is ``value``, a path under it, or (a word-like name) holds it as a whole word."""
    if text == value or ("/" in value and text.startswith(value.rstrip("/") + "/")):
        return True
    word = re.fullmatch(r"[\w-]+", value) and re.search(rf"(?<![\w.-]){re.escape(value)}(?![\w.-])", text)
    return bool(word)


def _defined_copies(tree: ast.AST) -> Iterator[ast.Constant]:
    """Constants a module or class defines with a string, parameter defaults, and keys of a ``Key=`` dict."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef):
            for statement in node.body:
                if isinstance(statement, ast.Assign | ast.AnnAssign) and isinstance(statement.value, ast.Constant):
                    yield statement.value
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from (d for d in (*node.args.defaults, *node.args.kw_defaults) if isinstance(d, ast.Constant))
        elif isinstance(node, ast.keyword) and node.arg == "Key" and isinstance(node.value, ast.Dict):
            yield from (k for k in node.value.keys if isinstance(k, ast.Constant))


def _copies_default(node: ast.expr, param: object) -> bool:
    """Whether ``node`` is the literal of Param ``param``'s default."""
    default = PARAM_DEFAULTS.get(param) if isinstance(param, str) else None
    return default is not None and isinstance(node, ast.Constant) and type(node.value) is int and node.value == default


def _param_default_copies(tree: ast.AST) -> Iterator[tuple[str, ast.Constant]]:
    """A Param default given as its literal (``"shards": Param(2, ...)``), or an option of that name
    defaulting to it (``add_argument("--shards", default=2)``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                param = key.value if isinstance(key, ast.Constant) else None
                if isinstance(value, ast.Call) and value.args and _copies_default(value.args[0], param):
                    yield str(param), value.args[0]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            option = str(node.args[0].value).lstrip("-").replace("-", "_")
            for keyword in node.keywords:
                if keyword.arg == "default" and _copies_default(keyword.value, option):
                    yield option, keyword.value


def copies(source: str, *, project_names_only: bool = False) -> list[str]:
    """``line: what it copies`` for each copy in ``source`` of a name or default config or layout spells."""
    tree = ast.parse(source)
    found = []
    everywhere = PROJECT_NAMES if project_names_only else {**PROJECT_NAMES, **SHARED_NAMES}
    for node, in_fstring in _strings(tree):
        hits = [name for name, value in everywhere.items() if _spells(node.value, value)]
        found += [f"{node.lineno}: {name}" for name in hits]
        if in_fstring and not project_names_only:
            found += [f"{node.lineno}: {name}" for name, affix in NAME_AFFIXES.items() if node.value == affix]
    if not project_names_only:
        for node in _defined_copies(tree):
            found += [f"{node.lineno}: {name}" for name, value in FIELD_LIKE_NAMES.items() if node.value == value]
        for param, node in _param_default_copies(tree):
            found.append(f"{node.lineno}: the {param} Param default")
    return sorted(set(found), key=lambda line: (int(line.split(":")[0]), line))


def _sources(*folders: str) -> list[Path]:
    paths = (p for folder in folders for p in sorted((ROOT / folder).rglob("*.py")))
    return [p for p in paths if p not in SHARED_MODULES and "__pycache__" not in p.parts]


@pytest.mark.parametrize("path", _sources(*SCANNED), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_spells_a_name_config_or_layout_defines(path: Path) -> None:
    assert copies(path.read_text()) == [], f"{path.relative_to(ROOT)}: import these from config or layout"


def test_the_local_aws_spells_none_of_the_projects_names() -> None:
    found = {
        str(path.relative_to(ROOT)): hits
        for path in _sources("local_aws")
        if (hits := copies(path.read_text(), project_names_only=True))
    }
    assert found == {}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('LEASE_KEY = "batch_id"', ["1: config.LEASE_KEY"]),
        (
            'def f(*, key_name="batch_shard", load_attribute="load_id"): ...',
            ["1: config.GSI_KEY", "1: config.LOAD_ATTRIBUTE"],
        ),
        ('client.get_item(TableName=t, Key={"emp_id": e})', ["1: config.TABLE_KEY"]),
        ('x = f"{batch}#{shard}" if o else "batch_shard-index"', ["1: config.GSI_NAME"]),
        ('GROUP = f"/aws/lambda/{name}"', ["1: config.LAMBDA_LOG_GROUP_PREFIX"]),
        ('key = f"raw/employees/{part}"', ["1: layout.RAW_PREFIX"]),
        ('os.environ["DATA_BUCKET"]', ["1: layout.DATA_BUCKET_ENV"]),
        ('print("DAG employee_batch_pipeline is up")', ["1: config.DAG_ID"]),
        ('role = f"{names.prefix}-{names.stage}-mwaa-execution"', ["1: PipelineNames.mwaa_execution_role"]),
        ('bucket = f"airflow-{base}"', ["1: PipelineNames.mwaa_source_bucket"]),
        ('params = {"shards": Param(2, type="integer")}', ["1: the shards Param default"]),
        (
            'parser.add_argument("--records-per-shard", type=int, default=500)',
            ["1: the records_per_shard Param default"],
        ),
        # Fields that share a name with an attribute, prose, and names taken from config are no copies.
        ('event = {"batch_id": b, "emp_id": e, "load_id": run}; fields = ("batch_id", "shard")', []),
        ('"""Counts the batch_shard GSI under raw/employees."""\nKEY = config.GSI_KEY', []),
        ('DAG_FILE = ROOT / "dags" / "employee_batch_pipeline.py"', []),  # the file is named for its DAG
        ('parser.add_argument("--shards", type=int, default=config.DEFAULT_SHARDS)', []),
    ],
)
def test_a_new_copy_is_found(source: str, expected: list[str]) -> None:
    assert copies(source) == expected


def test_every_derived_name_has_an_affix_to_look_for() -> None:
    derived = {f for f, v in _SAMPLE.as_dict().items() if f not in ("stage", "prefix", "gsi")}
    assert {name.removeprefix("PipelineNames.") for name in NAME_AFFIXES} == derived - {"mwaa_environment"}
    assert _SAMPLE.mwaa_environment == "prefix-stage"  # the base itself: nothing is added to it


def test_the_makefile_leaves_the_demo_defaults_to_the_dag() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert not re.search(r"^\s*(SHARDS|RECORDS_PER_SHARD)\s*[:?]?=\s*\d", makefile, re.MULTILINE)


def _module_imports(path: Path) -> set[str]:
    """What a module imports when it is imported: its top-level imports (``TYPE_CHECKING`` blocks aside)."""
    imported = set()
    for statement in ast.parse(path.read_text()).body:
        if isinstance(statement, ast.Import):
            imported |= {alias.name for alias in statement.names}
        elif isinstance(statement, ast.ImportFrom) and statement.module:
            imported.add(statement.module)
            imported |= {f"{statement.module}.{alias.name}" for alias in statement.names}
    return imported


def test_the_triggerers_imports_need_no_dags_folder() -> None:
    """The triggerer imports a trigger's module with only the plugins folder on ``sys.path`` (the dags
    folder is added where a DAG file is parsed), so no plugin module it loads imports the DAG's package
    at module level; tasks may (batch_lease reads config's lease key when it runs)."""
    from airflow.triggers.base import BaseTrigger

    import employee_pipeline_ops

    package = Path(employee_pipeline_ops.__file__).parent
    modules = {f"employee_pipeline_ops.{p.stem}": p for p in package.glob("*.py")}
    modules["employee_pipeline_ops"] = modules.pop("employee_pipeline_ops.__init__")
    triggers = set()
    for name in modules:
        module = importlib.import_module(name)
        triggers |= {
            name
            for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, BaseTrigger) and obj.__module__ == name
        }
    assert triggers, "no trigger found in the plugins: this test checks nothing"
    loaded, todo = set(), ["employee_pipeline_ops", *triggers]
    while todo:
        name = todo.pop()
        if name in loaded or name not in modules:
            continue
        loaded.add(name)
        todo += list(_module_imports(modules[name]))
    needs_dags = {
        name: sorted(i for i in _module_imports(modules[name]) if i.split(".")[0] == "employee_pipeline")
        for name in loaded
    }
    assert {name: found for name, found in needs_dags.items() if found} == {}
