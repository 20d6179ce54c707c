"""``python -m local_aws start|stop|health|serve [--host H] [--port P]``."""

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws", description="The local AWS emulator.")
    parser.add_argument(
        "command",
        choices=("start", "stop", "health", "serve"),
        help="start/stop in the background, check health, or serve in the foreground",
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default 4566 or LOCAL_AWS_PORT")
    args = parser.parse_args(argv)
    url = endpoint_url(args.host, args.port)
    try:
        if args.command == "serve":
            serve(args.host, args.port)
        elif args.command == "start":
            pid = start(args.host, args.port)
            print(f"local AWS running on {url} (pid {pid}, log {log_file(args.port)})")
        elif args.command == "stop":
            print("local AWS stopped" if stop(args.port) else f"no local AWS started on port {args.port}")
        elif is_healthy(url):
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
