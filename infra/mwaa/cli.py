"""``python -m infra mwaa bundle|publish|smoke``: what the commands print and return (their options: infra/cli.py)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from employee_pipeline.config import PipelineNames
from infra.cli import stage_names
from infra.mwaa.bundle import SOURCE_BUCKET_LAYOUT, build_bundle
from infra.mwaa.publish import PublishError, publish
from infra.mwaa.smoke import RUN_TIMEOUT_S, SmokeResult, smoke
from infra.packaging import PackagingError
from infra.session import AwsTarget


def run(args: argparse.Namespace) -> int:
    """``mwaa bundle``, ``mwaa publish`` or ``mwaa smoke`` (``args.action``); the exit code."""
    names = stage_names(args)
    if names is None:
        return 2
    return {"publish": _publish, "smoke": _smoke, "bundle": _bundle}[args.action](args, names)


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
    output: dict[str, object] = {}

    def work() -> None:
        target.check_reachable()
        result = publish(target, names, args.environment, args.source_bucket, say=say, poll_s=args.poll)
        output.update(result.as_dict())
        tally = Counter(result.artifacts.values())
        say(", ".join(f"{n} {k}" for k, n in sorted(tally.items())) + f"; environment {result.status}")
        if args.smoke:
            output["smoke"] = _smoke_run(args, target, names, say).as_dict()

    code = _reported(work, "mwaa publish")
    if code == 0 and args.json:
        print(json.dumps(output, sort_keys=True))
    return code


def _smoke(args: argparse.Namespace, names: PipelineNames) -> int:
    target = AwsTarget(region=args.region, endpoint_url=args.endpoint_url)
    say = (lambda _: None) if args.json else print
    say(f"mwaa smoke stage '{names.stage}' ({names.prefix}) on {args.environment} on {args.endpoint_url or 'AWS'}")
    output: dict[str, object] = {}

    def work() -> None:
        target.check_reachable()
        output.update(_smoke_run(args, target, names, say).as_dict())

    code = _reported(work, "mwaa smoke")
    if code == 0 and args.json:
        print(json.dumps(output, sort_keys=True))
    return code


def _smoke_run(
    args: argparse.Namespace, target: AwsTarget, names: PipelineNames, say: Callable[[str], None]
) -> SmokeResult:
    timeout = RUN_TIMEOUT_S if args.smoke_timeout is None else args.smoke_timeout
    result = smoke(target, names, args.environment, unpause=args.unpause, say=say, timeout_s=timeout, poll_s=args.poll)
    counts = ", ".join(f"shard {shard}: {n}" for shard, n in sorted(result.counts.items()))
    say(
        f"smoke run {result.dag_run_id} succeeded in {result.seconds:.0f}s: batch {result.batch_id} holds "
        f"{sum(result.counts.values())} items ({counts}), exactly the {result.expected} generated, 0 quarantined"
    )
    return result


def _reported(work: Callable[[], None], command: str) -> int:
    """Run ``work``; the exit code, with an AWS or publish error printed as one line on stderr."""
    try:
        work()
    except PublishError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except EndpointConnectionError as err:
        print(f"error: cannot reach {err.kwargs.get('endpoint_url', 'AWS')}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError, PackagingError) as err:
        print(f"error: {command} failed: {err}", file=sys.stderr)
        return 1
    return 0
