"""``python -m local_aws start|serve|health [--host H] [--port P]`` and ``python -m local_aws stop [--port P]``."""

from __future__ import annotations

import argparse
import sys

from local_aws.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    LocalAwsError,
    endpoint_url,
    is_healthy,
    log_file,
    serve,
    start,
    stop,
)

PROG = "python -m local_aws"


def _port(command: argparse.ArgumentParser) -> None:
    command.add_argument("--port", type=int, default=DEFAULT_PORT, help="default 4566 or LOCAL_AWS_PORT")


def _host_and_port(command: argparse.ArgumentParser) -> None:
    command.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    _port(command)


def parser() -> argparse.ArgumentParser:
    """The emulator's commands. stop takes no --host: it finds the emulator it started by its port."""
    parser = argparse.ArgumentParser(prog=PROG, description="The local AWS emulator.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    _host_and_port(
        commands.add_parser(
            "start",
            help="start it in the background; returns once it answers",
            description="Start the emulator in the background and return once it answers "
            "(log: .local-aws/local-aws-PORT.log). A port in use is an error.",
        )
    )
    _port(
        commands.add_parser(
            "stop",
            help="stop the one started on --port, and everything it started",
            description="Stop the emulator started on --port, and everything it started.",
        )
    )
    _host_and_port(
        commands.add_parser(
            "health",
            help="check that it answers (exit code 1 if not)",
            description="Check that the emulator answers an AWS API call; exit code 1 if not.",
        )
    )
    _host_and_port(
        commands.add_parser(
            "serve",
            help="serve in the foreground until SIGTERM or Ctrl-C",
            description="Serve the emulator in the foreground until SIGTERM or Ctrl-C.",
        )
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "serve":
            serve(args.host, args.port)
        elif args.command == "start":
            pid = start(args.host, args.port)
            print(f"local AWS running on {endpoint_url(args.host, args.port)} (pid {pid}, log {log_file(args.port)})")
        elif args.command == "stop":
            print("local AWS stopped" if stop(args.port) else f"no local AWS started on port {args.port}")
        elif is_healthy(url := endpoint_url(args.host, args.port)):
            print(f"local AWS healthy on {url}")
        else:
            print(f"local AWS not answering on {url}", file=sys.stderr)
            return 1
    except LocalAwsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
