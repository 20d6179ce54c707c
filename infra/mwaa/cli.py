"""``python -m infra mwaa bundle|publish``: what the commands print and return (their options: infra/cli.py)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from employee_pipeline.config import PipelineNames
from infra.cli import stage_names
from infra.mwaa.bundle import SOURCE_BUCKET_LAYOUT, build_bundle
from infra.mwaa.publish import PublishError, publish
from infra.packaging import PackagingError
from infra.session import AwsTarget


def run(args: argparse.Namespace) -> int:
    """``mwaa bundle`` or ``mwaa publish`` (``args.action``); the exit code."""
    names = stage_names(args)
    if names is None:
        return 2
    return _publish(args, names) if args.action == "publish" else _bundle(args, names)


def _bundle(args: argparse.Namespace, names: PipelineNames) -> int:
    try:
        bundle = build_bundle(Path(args.out), names)
    except (OSError, PackagingError) as err:
        print(f"error: mwaa bundle failed: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(bundle.as_dict(), sort_keys=True))
        return 0
    print(f"mwaa bundle stage '{bundle.stage}' ({bundle.prefix}) in {bundle.root}")
    width = max(len(f.path) for f in bundle.files)
    for entry in bundle.files:
        print(f"  {entry.path:<{width}}  {entry.size:>8}  {entry.sha256}  -> {SOURCE_BUCKET_LAYOUT.key(entry.path)}")
    print(f"{len(bundle.files)} files, {sum(f.size for f in bundle.files)} bytes")
    return 0


def _publish(args: argparse.Namespace, names: PipelineNames) -> int:
    target = AwsTarget(region=args.region, endpoint_url=args.endpoint_url)
    say = (lambda _: None) if args.json else print
    say(f"mwaa publish stage '{names.stage}' ({names.prefix}) to {args.environment} on {args.endpoint_url or 'AWS'}")
    try:
        result = publish(target, names, args.environment, args.source_bucket, say=say, poll_s=args.poll)
    except PublishError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except EndpointConnectionError as err:
        print(f"error: cannot reach {err.kwargs.get('endpoint_url', 'AWS')}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError, PackagingError) as err:
        print(f"error: mwaa publish failed: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.as_dict(), sort_keys=True))
    else:
        tally = Counter(result.artifacts.values())
        print(", ".join(f"{n} {k}" for k, n in sorted(tally.items())) + f"; environment {result.status}")
    return 0
