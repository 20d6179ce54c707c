"""Headless chromium (Debian's package, driven by Playwright) against the scheduler tier's local Airflow.

The deployed stage and `airflow standalone` on its PostgreSQL are tests/conftest.py's ``pipeline`` and
``airflow`` fixtures; the module names the scheduler tier's stage, so both modules share one of each
(tests/support/stages.py) and run one after the other, the browser first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

UI_TIMEOUT_MS = 30_000  # one UI step on a busy 2-core machine: a page load, a dialog, a toast
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so the page fixture knows whether to save evidence."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """The system's chromium, launched headless; never a browser Playwright downloads (no CDN here)."""
    executable = shutil.which("chromium")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        sync_playwright = None
    missing = [
        what
        for what, found in (
            ("chromium (apt-get install chromium)", executable),
            ("playwright (in requirements/dev.lock)", sync_playwright),
        )
        if not found
    ]
    if missing:
        reason = f"{' and '.join(missing)} not installed: the browser test needs it"
        if os.environ.get("CI") == "true":  # CI has both (.ci/run, the lock): a skip there would hide the test
            pytest.fail(f"{reason}, and CI must run it")
        pytest.skip(reason)
    # Checked before the local AWS and Airflow start (this fixture is requested first), so a skip is instant.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            with contextlib.suppress(Error):  # already gone when Ctrl-C reached its process group
                browser.close()


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh page (English, UTC) that may paste; on failure its screenshot and HTML are kept in ``tmp_path``."""
    from playwright.sync_api import Error, expect

    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US", timezone_id="UTC")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    context.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        if any(report.failed for report in request.node.stash.get(_REPORTS, {}).values()):
            with contextlib.suppress(Error):
                page.screenshot(path=tmp_path / "failure.png", full_page=True)
                (tmp_path / "failure.html").write_text(page.content())
                print(f"page at failure ({page.url}): {tmp_path / 'failure.png'}, {tmp_path / 'failure.html'}")
        with contextlib.suppress(Error):
            context.close()
