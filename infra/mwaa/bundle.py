"""The MWAA bundle: a folder laid out exactly as the environment's source bucket receives it.

    dags/              the DAG files, the helper package ``employee_pipeline/`` and ``.airflowignore``
    plugins.zip        ``plugins/employee_pipeline_ops/`` at the zip's root
    requirements.txt   the repository's ``requirements.txt``
    startup.sh         exports the Airflow Variables that select the stage (and the prefix)

The same checkout and stage always give the same bytes (the zip is built like the Lambda zips:
sorted entries, fixed timestamps and permissions, no bytecode), so a publish step can compare each
file's sha256 with the bucket's object and upload only what changed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from employee_pipeline.config import (
    DEFAULT_PREFIX,
    DEPLOYMENT_VARIABLE,
    PREFIX_VARIABLE,
    STAGE_VARIABLE,
    PipelineNames,
    pipeline_names,
)
from infra import ROOT
from infra.packaging import PackagingError, deterministic_zip

DAGS = ROOT / "dags"
HELPER_PACKAGE = DAGS / "employee_pipeline"
AIRFLOWIGNORE = DAGS / ".airflowignore"
PLUGINS = ROOT / "plugins"
PLUGINS_AIRFLOWIGNORE = PLUGINS / ".airflowignore"
PLUGIN_PACKAGE = PLUGINS / "employee_pipeline_ops"
REQUIREMENTS = ROOT / "requirements.txt"

# The bundle's entries (paths relative to its root).
DAGS_DIR = "dags"
PLUGINS_ZIP = "plugins.zip"
REQUIREMENTS_TXT = "requirements.txt"
STARTUP_SH = "startup.sh"
_ENTRIES = frozenset({DAGS_DIR, PLUGINS_ZIP, REQUIREMENTS_TXT, STARTUP_SH})
# The startup script's second line: how a folder is recognised as an earlier bundle that may be replaced.
STARTUP_MARKER = "# MWAA startup script of the employee batch pipeline, written by `python -m infra mwaa bundle`."


class BundleError(PackagingError):
    """The bundle cannot be built from this checkout or written where asked."""


@dataclass(frozen=True)
class SourceBucketLayout:
    """Where each bundle file goes in the environment's source bucket (MWAA's convention by default).

    The values are also what the environment is configured with: ``environment_paths()``.
    """

    dags: str = "dags"
    plugins: str = PLUGINS_ZIP
    requirements: str = REQUIREMENTS_TXT
    startup_script: str = STARTUP_SH

    def key(self, path: str) -> str:
        """The object key of the bundle file at ``path`` (relative to the bundle root, POSIX)."""
        singles = {PLUGINS_ZIP: self.plugins, REQUIREMENTS_TXT: self.requirements, STARTUP_SH: self.startup_script}
        if path in singles:
            return singles[path]
        head, sep, rest = path.partition("/")
        if head == DAGS_DIR and sep and rest:
            return f"{self.dags.rstrip('/')}/{rest}"
        raise ValueError(f"{path!r} is not a file of the MWAA bundle")

    def environment_paths(self) -> dict[str, str]:
        """The environment's source-bucket settings (CreateEnvironment / UpdateEnvironment parameters)."""
        return {
            "DagS3Path": self.dags,
            "PluginsS3Path": self.plugins,
            "RequirementsS3Path": self.requirements,
            "StartupScriptS3Path": self.startup_script,
        }


SOURCE_BUCKET_LAYOUT = SourceBucketLayout()


@dataclass(frozen=True)
class BundleFile:
    path: str  # relative to the bundle root, POSIX, e.g. "dags/employee_pipeline/config.py"
    size: int
    sha256: str  # hex

    @classmethod
    def of(cls, path: str, body: bytes) -> BundleFile:
        return cls(path=path, size=len(body), sha256=hashlib.sha256(body).hexdigest())

    @property
    def sha256_b64(self) -> str:
        """The hash as S3 reports it (``ChecksumSHA256``)."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()

    def as_dict(self, layout: SourceBucketLayout = SOURCE_BUCKET_LAYOUT) -> dict[str, object]:
        return {"path": self.path, "key": layout.key(self.path), "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Bundle:
    root: Path
    stage: str
    prefix: str
    files: tuple[BundleFile, ...]  # sorted by path

    def file(self, path: str) -> BundleFile:
        for entry in self.files:
            if entry.path == path:
                return entry
        raise KeyError(path)

    def objects(self, layout: SourceBucketLayout = SOURCE_BUCKET_LAYOUT) -> dict[str, BundleFile]:
        """Object key -> file. Publishing syncs ``dags/``: keys under ``layout.dags`` absent here are stale."""
        return {layout.key(entry.path): entry for entry in self.files}

    def as_dict(self, layout: SourceBucketLayout = SOURCE_BUCKET_LAYOUT) -> dict[str, object]:
        return {
            "root": str(self.root),
            "stage": self.stage,
            "prefix": self.prefix,
            "files": [entry.as_dict(layout) for entry in self.files],
            "environment": layout.environment_paths(),
        }


def _excluded(relative: Path) -> bool:
    """Bytecode and tests never ship."""
    name = relative.name
    return (
        any(part in {"__pycache__", "tests", "test"} for part in relative.parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def _python_sources(package: Path, base: Path) -> dict[str, bytes]:
    """``package``'s .py files keyed by their POSIX path relative to ``base``."""
    if not (package / "__init__.py").is_file():
        raise BundleError(f"no Python package at {package} (expected __init__.py)")
    return {
        path.relative_to(base).as_posix(): path.read_bytes()
        for path in sorted(package.rglob("*.py"))
        if not _excluded(path.relative_to(base))
    }


def dag_files() -> dict[str, bytes]:
    """What the environment's dags folder receives, keyed by path relative to the bundle root."""
    dags = {path.name: path.read_bytes() for path in sorted(DAGS.glob("*.py")) if not _excluded(Path(path.name))}
    if not dags:
        raise BundleError(f"no DAG files in {DAGS}")
    if not AIRFLOWIGNORE.is_file():
        raise BundleError(f"{AIRFLOWIGNORE} is missing: without it Airflow parses the helper modules as DAG files")
    files = {**dags, **_python_sources(HELPER_PACKAGE, DAGS), AIRFLOWIGNORE.name: AIRFLOWIGNORE.read_bytes()}
    return {f"{DAGS_DIR}/{name}": body for name, body in files.items()}


def plugins_zip() -> bytes:
    """The operator package ``employee_pipeline_ops/`` and the ``.airflowignore`` that keeps Airflow's plugin
    manager from importing its modules one by one, at the zip's root (MWAA unzips it into its plugins folder)."""
    if not PLUGINS_AIRFLOWIGNORE.is_file():
        raise BundleError(
            f"{PLUGINS_AIRFLOWIGNORE} is missing: without it Airflow lists the operator modules as plugin import errors"
        )
    sources = _python_sources(PLUGIN_PACKAGE, PLUGINS)
    return deterministic_zip({**sources, PLUGINS_AIRFLOWIGNORE.name: PLUGINS_AIRFLOWIGNORE.read_bytes()})


def _shell_quote(value: str) -> str:
    """Always single-quoted, so the script reads the same whatever the value."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def variable_env_name(variable: str) -> str:
    """The environment variable Airflow reads as the Variable ``variable``."""
    return f"AIRFLOW_VAR_{variable.upper()}"


def startup_script(names: PipelineNames) -> bytes:
    """``startup.sh``: export the Airflow Variables the DAG reads at run time.

    MWAA sources the script with bash on every Airflow component before Airflow starts and passes
    the variables it exports on to Airflow. As it is sourced, the strict mode is undone at the end:
    the caller's ``-e`` and ``-u`` stay as they were.
    """
    names = pipeline_names(names.stage, names.prefix)  # the names go into a shell script: validate again
    exports = {
        variable_env_name(STAGE_VARIABLE): names.stage,
        # Lease owners name the environment, so two environments on one stage never mistake each other's runs.
        variable_env_name(DEPLOYMENT_VARIABLE): names.mwaa_environment,
    }
    if names.prefix != DEFAULT_PREFIX:
        exports[variable_env_name(PREFIX_VARIABLE)] = names.prefix
    lines = [
        "#!/bin/sh",
        STARTUP_MARKER,
        f"# Stage {names.stage}, prefix {names.prefix}. Rebuild the bundle rather than editing this file.",
        "# Airflow reads AIRFLOW_VAR_<NAME> as the Variable <name>, ahead of Variables stored in its database.",
        "# MWAA sources this file: the caller's -e and -u are restored at the end.",
        "employee_pipeline_flags=$-",
        "set -eu",
        *(f"export {name}={_shell_quote(value)}" for name, value in exports.items()),
        'case "$employee_pipeline_flags" in *e*) ;; *) set +e ;; esac',
        'case "$employee_pipeline_flags" in *u*) ;; *) set +u ;; esac',
        "unset employee_pipeline_flags",
    ]
    return ("\n".join(lines) + "\n").encode()


def bundle_contents(names: PipelineNames) -> dict[str, bytes]:
    """Every bundle file, keyed by its path relative to the bundle root (nothing is written)."""
    contents = dag_files()
    contents[PLUGINS_ZIP] = plugins_zip()
    contents[REQUIREMENTS_TXT] = REQUIREMENTS.read_bytes()
    contents[STARTUP_SH] = startup_script(names)
    return dict(sorted(contents.items()))


def _is_previous_bundle(out: Path, entries: set[str]) -> bool:
    if not entries <= _ENTRIES or STARTUP_SH not in entries or not (out / STARTUP_SH).is_file():
        return False
    with (out / STARTUP_SH).open("rb") as script:
        head = script.read(4096).decode(errors="replace").splitlines()
    return len(head) > 1 and head[1] == STARTUP_MARKER


def _check_out(out: Path) -> None:
    """``out`` may be absent, empty or an earlier bundle; anything else is refused."""
    for sources in (DAGS, PLUGINS):
        if Path(os.path.realpath(out)).is_relative_to(sources.resolve()):
            raise BundleError(f"refusing to write the bundle into {out}: it is inside {sources}, its own sources")
    if out.is_symlink():
        raise BundleError(f"refusing to write the bundle into {out}: it is a symbolic link; give the real directory")
    if out.exists() and not out.is_dir():
        raise BundleError(f"refusing to write the bundle into {out}: it exists and is not a directory")
    if not out.exists():
        return
    entries = {entry.name for entry in out.iterdir()}
    if entries and not _is_previous_bundle(out, entries):
        shown = ", ".join(sorted(entries)[:5]) + (", ..." if len(entries) > 5 else "")
        raise BundleError(
            f"refusing to write the bundle into {out}: it is not empty and is not an earlier bundle "
            f"(it holds {shown}); choose an empty or new directory"
        )


def _write(staging: Path, contents: dict[str, bytes]) -> None:
    for relative, body in contents.items():
        path = staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def _replace(staging: Path, out: Path) -> None:
    """Move the finished bundle to ``out``, replacing what is there only once the new one is complete."""
    if not out.exists():
        staging.rename(out)
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    try:
        out.rename(trash / out.name)
        try:
            staging.rename(out)
        except OSError:
            (trash / out.name).rename(out)
            raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def build_bundle(out: Path, names: PipelineNames) -> Bundle:
    """Write the MWAA bundle of stage ``names`` to ``out``.

    ``out`` is created; if it exists it must be empty or an earlier bundle, which is replaced.
    Raises ``ValueError`` for an invalid stage or prefix and ``BundleError`` when the bundle cannot
    be built or written there.
    """
    contents = bundle_contents(names)  # validates the names before anything is written
    out = Path(os.path.abspath(out))
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        staging.chmod(0o755)
        _write(staging, contents)
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Bundle(
        root=out,
        stage=names.stage,
        prefix=names.prefix,
        files=tuple(BundleFile.of(path, body) for path, body in contents.items()),
    )
