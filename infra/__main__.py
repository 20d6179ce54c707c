"""``python -m infra deploy|destroy|status --stage STAGE [--endpoint-url URL] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from employee_pipeline.config import DEFAULT_PREFIX, pipeline_names
from infra.deploy import deploy, destroy, status
from infra.packaging import PackagingError
from infra.session import AwsTarget


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra", description="Provision the employee batch pipeline.")
    parser.add_argument("command", choices=("deploy", "destroy", "status"))
    parser.add_argument("--stage", required=True, help="deployment stage, e.g. dev, prod, local")
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"resource name prefix (default {DEFAULT_PREFIX})")
    parser.add_argument("--endpoint-url", help="AWS endpoint, e.g. the local AWS http://127.0.0.1:4566")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / us-east-1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        names = pipeline_names(args.stage, args.prefix)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    target = AwsTarget(region=args.region, endpoint_url=args.endpoint_url)
    where = args.endpoint_url or "AWS"
    if not args.json:
        print(f"{args.command} stage '{args.stage}' ({args.prefix}) on {where}, region {target.region_name}")
    try:
        if args.command == "status":
            resources = status(target, names)
            result = {"stage": args.stage, "resources": resources}
            lines = [
                f"  {'present' if r['exists'] else 'missing':<9}  {r['resource']:<16}  {r['name']}" for r in resources
            ]
        else:
            if args.command == "deploy":
                actions, outputs = deploy(target, names)
            else:
                actions, outputs = destroy(target, names), {}
            tally = Counter(a.action for a in actions)
            result = {"stage": args.stage, "actions": [a.as_dict() for a in actions], "outputs": outputs}
            lines = [a.line() for a in actions]
            lines.append(f"{len(actions)} resources: " + ", ".join(f"{n} {k}" for k, n in sorted(tally.items())))
    except EndpointConnectionError as err:
        print(
            f"error: cannot reach {err.kwargs.get('endpoint_url', where)}: is the local AWS running? "
            "(python -m infra.local_aws start)",
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
