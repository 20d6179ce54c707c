"""``python -m local_aws``'s real parser: start, stop, health and serve, each with only its own options."""

from __future__ import annotations

import re
from typing import Any

import pytest

from local_aws.__main__ import main, parser
from local_aws.server import DEFAULT_HOST, DEFAULT_PORT


def test_help_lists_every_command() -> None:
    listed = set(re.findall(r"^    (\S+)", parser().format_help(), re.MULTILINE))
    assert listed == {"start", "stop", "health", "serve"}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["start"], {"host": DEFAULT_HOST, "port": DEFAULT_PORT}),
        (["serve", "--host", "0.0.0.0", "--port", "4600"], {"host": "0.0.0.0", "port": 4600}),
        (["health", "--port", "4600"], {"host": DEFAULT_HOST, "port": 4600}),
        (["stop", "--port", "4600"], {"port": 4600}),  # found by its port: no --host
    ],
)
def test_each_command_has_only_its_own_options(argv: list[str], expected: dict[str, Any]) -> None:
    assert vars(parser().parse_args(argv)) == {"command": argv[0], **expected}


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        ([], "COMMAND"),
        (["stop", "--host", "h"], "--host"),
        (["restart"], "'restart'"),
        (["start", "--stage", "x"], "--stage"),
    ],
)
def test_a_wrong_command_or_option_is_a_usage_error(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and named in capsys.readouterr().err


def test_the_commands_call_the_server(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr("local_aws.__main__.start", lambda host, port: calls.append(("start", host, port)) or 42)
    monkeypatch.setattr("local_aws.__main__.stop", lambda port: calls.append(("stop", port)) or False)
    monkeypatch.setattr("local_aws.__main__.is_healthy", lambda url: calls.append(("health", url)) and False)
    assert main(["start", "--port", "4600"]) == 0
    assert main(["stop", "--port", "4600"]) == 0
    assert main(["health", "--port", "4600"]) == 1
    assert calls == [("start", DEFAULT_HOST, 4600), ("stop", 4600), ("health", f"http://{DEFAULT_HOST}:4600")]
    out, err = capsys.readouterr()
    assert "(pid 42, log " in out and "no local AWS started on port 4600" in out
    assert err == f"local AWS not answering on http://{DEFAULT_HOST}:4600\n"
