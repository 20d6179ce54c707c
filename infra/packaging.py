"""Deterministic build of the deployable artifacts.

The same sources always give the same bytes (sorted entries, fixed timestamps
and permissions, no bytecode), so deploy can compare hashes to decide whether
code changed.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra import ROOT

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
LAMBDAS = ROOT / "lambdas"
SHARED_PACKAGE = ROOT / "dags" / "employee_pipeline"
# Vendored into every Lambda zip: the S3 layout the writer must share with the DAG.
SHARED_MODULES = ("__init__.py", "layout.py")
GLUE_SCRIPT = ROOT / "glue" / "ingest_employees.py"
# The job's package, shipped with --extra-py-files beside the script, with the shared modules the job
# imports (names, key formats, the manifest): each is pure standard library at module level.
GLUE_PACKAGE = ROOT / "glue" / "employee_ingest"
GLUE_SHARED_MODULES = (*SHARED_MODULES, "config.py", "manifest.py")
LAYER_REQUIREMENTS = LAMBDAS / "requirements.txt"
# Installer bookkeeping differs between pip and uv; it is not part of the package.
_SKIPPED_DIST_FILES = {"INSTALLER", "RECORD", "REQUESTED", "direct_url.json"}
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)")


class PackagingError(RuntimeError):
    """An artifact cannot be built from this checkout and environment."""


@dataclass(frozen=True)
class Artifact:
    name: str
    body: bytes

    @property
    def sha256_b64(self) -> str:
        """The hash as Lambda reports it (CodeSha256)."""
        return base64.b64encode(hashlib.sha256(self.body).digest()).decode()

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def deterministic_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode below is honoured
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name], compresslevel=9)
    return buffer.getvalue()


def _source_files(folder: Path, arc_prefix: str) -> dict[str, bytes]:
    return {
        f"{arc_prefix}/{path.relative_to(folder).as_posix()}": path.read_bytes()
        for path in folder.rglob("*.py")
        if "__pycache__" not in path.parts
    }


def lambda_functions() -> list[str]:
    """Every Lambda package under lambdas/ (a folder with handler.py)."""
    return sorted(p.parent.name for p in LAMBDAS.glob("*/handler.py"))


def lambda_zip(function: str) -> Artifact:
    """``lambdas/<function>/`` as package ``<function>`` plus the shared layout module."""
    folder = LAMBDAS / function
    if not (folder / "handler.py").is_file():
        raise PackagingError(f"no Lambda package at {folder} (expected handler.py)")
    return Artifact(
        f"{function}.zip", deterministic_zip({**_source_files(folder, function), **_shared(SHARED_MODULES)})
    )


def _shared(modules: tuple[str, ...]) -> dict[str, bytes]:
    return {f"{SHARED_PACKAGE.name}/{module}": (SHARED_PACKAGE / module).read_bytes() for module in modules}


def layer_requirements() -> list[tuple[str, str]]:
    pins = []
    for line in LAYER_REQUIREMENTS.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        if not match:
            raise PackagingError(f"{LAYER_REQUIREMENTS}: '{line}' is not pinned as name==version")
        pins.append((match.group(1), match.group(2)))
    return pins


def faker_layer_zip() -> Artifact:
    """The Lambda layer (``python/...``) with the pinned third-party packages.

    The distributions are copied from this environment (pure Python, so the
    same files work on the python3.12 runtime); the build needs no network.
    """
    files: dict[str, bytes] = {}
    for name, version in layer_requirements():
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise PackagingError(
                f"{name}=={version} (from {LAYER_REQUIREMENTS}) is not installed; run `make venv`"
            ) from None
        if dist.version != version:
            raise PackagingError(
                f"{LAYER_REQUIREMENTS} pins {name}=={version} but this environment has {dist.version}; "
                "update one of them"
            )
        for file in dist.files or []:
            parts = Path(file).parts
            # ".." marks console scripts outside site-packages: not part of the library.
            if ".." in parts or "__pycache__" in parts or file.suffix == ".pyc" or file.name in _SKIPPED_DIST_FILES:
                continue
            files[f"python/{Path(file).as_posix()}"] = Path(dist.locate_file(file)).read_bytes()
    if not files:
        raise PackagingError(f"{LAYER_REQUIREMENTS} lists no packages")
    return Artifact("faker-layer.zip", deterministic_zip(files))


def glue_script() -> Artifact:
    return Artifact(GLUE_SCRIPT.name, GLUE_SCRIPT.read_bytes())


def glue_package_zip() -> Artifact:
    """``glue/employee_ingest/`` as package ``employee_ingest`` plus the shared modules it imports: the zip
    Glue puts on the job's Python path (``--extra-py-files``), on the driver and every executor."""
    files = _source_files(GLUE_PACKAGE, GLUE_PACKAGE.name)
    if f"{GLUE_PACKAGE.name}/__init__.py" not in files:
        raise PackagingError(f"no Python package at {GLUE_PACKAGE} (expected __init__.py)")
    return Artifact(f"{GLUE_PACKAGE.name}.zip", deterministic_zip({**files, **_shared(GLUE_SHARED_MODULES)}))
