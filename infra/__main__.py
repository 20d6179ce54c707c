"""``python -m infra deploy|destroy|status --stage STAGE [--endpoint-url URL] [--json]``
(``deploy --plan``: what deploy would change, changing nothing),
``python -m infra cost [--records N] [--records-per-shard R] [--environment-class C] [--json]``
``python -m infra mwaa bundle --out DIR --stage STAGE [--prefix P] [--json]``
and ``python -m infra mwaa publish --environment NAME --stage STAGE [--source-bucket B] [--endpoint-url URL] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from employee_pipeline.config import DEFAULT_PREFIX, PipelineNames, pipeline_names
from infra import cost, mwaa_role
from infra.deploy import deploy, destroy, status
from infra.mwaa.bundle import SOURCE_BUCKET_LAYOUT, build_bundle
from infra.mwaa.publish import POLL_S, PublishError, publish
from infra.packaging import PackagingError
from infra.session import AwsTarget


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra",
        description="Provision the employee batch pipeline.",
        epilog="MWAA: python -m infra mwaa bundle --help",
    )
    parser.add_argument("command", choices=("deploy", "destroy", "status", "cost"))
    parser.add_argument("--stage", help="deployment stage, e.g. dev, prod, local (deploy, destroy and status)")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"resource name prefix (default {DEFAULT_PREFIX})")
    parser.add_argument("--endpoint-url", help="AWS endpoint, e.g. the local AWS http://127.0.0.1:4566")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / us-east-1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--plan",
        action="store_true",
        help="deploy: only report what deploy would create or update (create/update/unchanged); change nothing",
    )
    mwaa = parser.add_argument_group("MWAA execution role", "generated from the stage's names (deploy, status --json)")
    mwaa.add_argument(
        "--mwaa-execution-role", action="store_true", help="deploy: also create or update the environment's role"
    )
    mwaa.add_argument("--mwaa-environment", help="the environment's name (default {prefix}-{stage})")
    mwaa.add_argument("--mwaa-source-bucket", help="its source bucket (default airflow-{prefix}-{stage})")
    estimate = parser.add_argument_group("cost", "estimate one hourly run and a month of them (infra/prices.json)")
    estimate.add_argument("--records", type=int, default=1_000_000, help="records a run loads (default 1,000,000)")
    estimate.add_argument("--records-per-shard", type=int, help="records per generator shard (default 5,000)")
    classes = sorted(cost.load_prices()["mwaa_classes"]["classes"])
    estimate.add_argument("--environment-class", choices=classes, default="mw1.small", help="MWAA environment class")
    estimate.add_argument("--glue-workers", type=int, help="Glue workers (default: the job's, infra/compute.py)")
    estimate.add_argument("--glue-records-per-core-s", type=float, help="Glue ingest rate per executor core")
    return parser


def _cost(args: argparse.Namespace) -> int:
    try:
        result = cost.estimate(
            args.records,
            args.records_per_shard,
            args.environment_class,
            glue_workers=args.glue_workers,
            glue_records_per_core_s=args.glue_records_per_core_s,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True) if args.json else cost.render(result))
    return 0


def _mwaa_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra mwaa", description="The MWAA environment's source bucket.")
    actions = parser.add_subparsers(dest="action", required=True)
    bundle = actions.add_parser(
        "bundle",
        help="write what the source bucket receives: dags/, plugins.zip, requirements.txt, startup.sh",
        description="Write what the MWAA source bucket receives: dags/, plugins.zip, requirements.txt and "
        "startup.sh (which sets the stage's Airflow Variables). The same checkout gives the same bytes.",
    )
    bundle.add_argument("--out", required=True, help="the bundle folder: new, empty or an earlier bundle (replaced)")
    bundle.add_argument("--stage", required=True, help="deployment stage the environment runs, e.g. dev, prod")
    bundle.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"resource name prefix (default {DEFAULT_PREFIX})")
    bundle.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    publish = actions.add_parser(
        "publish",
        help="upload the bundle to the environment's source bucket, update the environment, wait",
        description="Upload what changed of the bundle to the environment's source bucket (dags/ synced), then "
        "UpdateEnvironment with the new object versions and Airflow configuration options, and wait until it is "
        "AVAILABLE again. With nothing changed, nothing is uploaded and no update is made.",
    )
    publish.add_argument("--environment", required=True, help="the MWAA environment's name")
    publish.add_argument("--stage", required=True, help="deployment stage the environment runs, e.g. dev, prod")
    publish.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"resource name prefix (default {DEFAULT_PREFIX})")
    publish.add_argument("--source-bucket", help="default: the environment's SourceBucketArn")
    publish.add_argument("--endpoint-url", help="AWS endpoint, e.g. the local AWS http://127.0.0.1:4566")
    publish.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / us-east-1)")
    publish.add_argument(
        "--poll", type=float, default=POLL_S, help=f"seconds between status checks (default {POLL_S:.0f})"
    )
    publish.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


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


def _mwaa(argv: list[str]) -> int:
    args = _mwaa_parser().parse_args(argv)
    try:
        names = pipeline_names(args.stage, args.prefix)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.action == "publish":
        return _publish(args, names)
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mwaa"]:
        return _mwaa(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "cost":
        return _cost(args)
    if args.stage is None:
        parser.error("the following arguments are required: --stage")
    if args.plan and args.command != "deploy":
        parser.error("--plan goes with deploy only")
    try:
        names = pipeline_names(args.stage, args.prefix)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    target = AwsTarget(region=args.region, endpoint_url=args.endpoint_url)
    where = args.endpoint_url or "AWS"
    if not args.json:
        command = "deploy --plan" if args.plan else args.command
        print(f"{command} stage '{args.stage}' ({args.prefix}) on {where}, region {target.region_name}")
    try:
        environment = args.mwaa_environment or mwaa_role.environment_name(names)
        source_bucket = args.mwaa_source_bucket or mwaa_role.source_bucket_name(names)
        if args.command == "status":
            resources = status(target, names)
            result = {
                "stage": args.stage,
                "resources": resources,
                "mwaa_execution_role": {
                    "name": mwaa_role.role_name(names),
                    "trust_policy": mwaa_role.trust_policy(target),
                    "policy": mwaa_role.execution_policy(target, names, environment, source_bucket),
                },
            }
            lines = [
                f"  {'present' if r['exists'] else 'missing':<9}  {r['resource']:<16}  {r['name']}" for r in resources
            ]
        else:
            if args.command == "deploy":
                mwaa = (environment, source_bucket) if args.mwaa_execution_role else None
                actions, outputs = deploy(target, names, apply=not args.plan, mwaa=mwaa)
            else:
                actions, outputs = destroy(target, names), {}
            tally = Counter(a.action for a in actions)
            result = {"stage": args.stage, "actions": [a.as_dict() for a in actions], "outputs": outputs}
            if args.plan:
                result["plan"] = True
            lines = [a.line() for a in actions]
            lines.append(f"{len(actions)} resources: " + ", ".join(f"{n} {k}" for k, n in sorted(tally.items())))
    except EndpointConnectionError as err:
        print(
            f"error: cannot reach {err.kwargs.get('endpoint_url', where)}: is the local AWS running? "
            "(python -m local_aws start)",
            file=sys.stderr,
        )
        return 1
    except (ClientError, BotoCoreError, PackagingError) as err:
        print(f"error: {args.command} failed: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
