"""``python -m infra COMMAND``; ``python -m infra --help`` lists the commands, ``COMMAND --help`` each one's options.

* ``deploy --stage STAGE [--plan] [--mwaa-execution-role [--mwaa-environment N] [--mwaa-source-bucket B]]``
  (``--plan``: what deploy would change, changing nothing); ``deploy --mwaa`` also makes the MWAA environment,
  its network (``--mwaa-network nat|endpoints``, or ``--subnet-ids a,b --security-group-ids sg``), source
  bucket and role (``--environment-class``, ``--min-workers``, ``--max-workers``, ``--webserver-access-mode``,
  ``--log-level``, ``--poll``)
* ``destroy --stage STAGE [--poll S]``
* ``status --stage STAGE [--json [--mwaa-environment N] [--mwaa-source-bucket B]]``
* ``cost [--records N] [--records-per-shard R] [--environment-class C] [--glue-workers W]
  [--glue-records-per-core-s S] [--mwaa-network nat|endpoints] [--json]``
* ``mwaa bundle --out DIR --stage STAGE [--prefix P] [--json]`` and
  ``mwaa publish --environment NAME --stage STAGE [--source-bucket B] [--endpoint-url URL] [--poll S] [--json]``
  (infra/mwaa/cli.py)

deploy, destroy and status also take ``--prefix P --endpoint-url URL --region R --json``. The options
are in infra/cli.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from employee_pipeline.config import PipelineNames
from employee_pipeline.waiting import WaitTimeoutError
from infra import cost, keys, mwaa_role
from infra.actions import Action
from infra.cli import parse_args, stage_names
from infra.deploy import deploy, destroy, status
from infra.mwaa import cli as mwaa_cli
from infra.mwaa.environment import MwaaSpec
from infra.mwaa.network import EXISTING
from infra.mwaa.publish import PublishError
from infra.packaging import PackagingError
from infra.session import AwsTarget

Report = tuple[dict[str, Any], list[str]]  # the JSON object, and the lines of text


def _cost(args: argparse.Namespace) -> int:
    try:
        result = cost.estimate(
            args.records,
            args.records_per_shard,
            args.environment_class,
            glue_workers=args.glue_workers,
            glue_records_per_core_s=args.glue_records_per_core_s,
            network=args.mwaa_network,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True) if args.json else cost.render(result))
    return 0


def environment_spec(args: argparse.Namespace, names: PipelineNames) -> MwaaSpec:
    """deploy --mwaa's environment: the options given, MwaaSpec's defaults for the others."""
    given: dict[str, Any] = {
        "environment_class": args.environment_class,
        "min_workers": args.min_workers,
        "max_workers": args.max_workers,
        "webserver_access_mode": args.webserver_access_mode,
        "log_level": args.log_level,
        "poll_s": args.poll,
        "network": args.mwaa_network,
    }
    if args.subnet_ids:
        given["network"] = EXISTING
        given["subnet_ids"] = tuple(s.strip() for s in args.subnet_ids.split(",") if s.strip())
        given["security_group_ids"] = tuple(s.strip() for s in args.security_group_ids.split(",") if s.strip())
    return MwaaSpec(
        args.mwaa_environment or names.mwaa_environment,
        args.mwaa_source_bucket or names.mwaa_source_bucket,
        say=(lambda _: None) if args.json else print,
        **{key: value for key, value in given.items() if value is not None},
    )


def _deploy(args: argparse.Namespace, target: AwsTarget, names: PipelineNames) -> Report:
    mwaa = None
    if args.mwaa_execution_role:
        mwaa = (
            args.mwaa_environment or names.mwaa_environment,
            args.mwaa_source_bucket or names.mwaa_source_bucket,
        )
    kwargs: dict[str, Any] = {"apply": not args.plan, "mwaa": mwaa}
    if args.mwaa:
        kwargs["environment"] = environment_spec(args, names)
    actions, outputs = deploy(target, names, **kwargs)
    report = _actions(args, actions, outputs)
    if args.plan:
        report[0]["plan"] = True
    return report


def _destroy(args: argparse.Namespace, target: AwsTarget, names: PipelineNames) -> Report:
    return _actions(args, destroy(target, names, poll_s=args.poll), {})


def _actions(args: argparse.Namespace, actions: list[Action], outputs: dict[str, Any]) -> Report:
    tally = Counter(a.action for a in actions)
    result = {"stage": args.stage, "actions": [a.as_dict() for a in actions], "outputs": outputs}
    lines = [a.line() for a in actions]
    lines.append(f"{len(actions)} resources: " + ", ".join(f"{n} {k}" for k, n in sorted(tally.items())))
    return result, lines


def _alerts_key(resources: list[dict[str, Any]]) -> str | None:
    """The alerts key's ARN as status found it: the execution role's policy names the key itself."""
    return next((r["arn"] for r in resources if r["resource"] == keys.Key.kind and r.get("arn")), None)


def _status(args: argparse.Namespace, target: AwsTarget, names: PipelineNames) -> Report:
    environment = args.mwaa_environment or names.mwaa_environment
    source_bucket = args.mwaa_source_bucket or names.mwaa_source_bucket
    resources = status(target, names)
    result = {
        "stage": args.stage,
        "resources": resources,
        "mwaa_execution_role": {
            "name": names.mwaa_execution_role,
            "trust_policy": mwaa_role.trust_policy(target),
            "policy": mwaa_role.execution_policy(target, names, environment, source_bucket, _alerts_key(resources)),
        },
    }
    lines = [
        f"  {'present' if r['exists'] else 'missing':<9}  {r['resource']:<16}  {r['name']}"
        + (f" ({r['state']})" if r.get("state") else "")
        for r in resources
    ]
    return result, lines


STAGE_COMMANDS = {"deploy": _deploy, "destroy": _destroy, "status": _status}


def _stage_command(args: argparse.Namespace) -> int:
    """deploy, destroy or status of one stage; the exit code."""
    names = stage_names(args)
    if names is None:
        return 2
    target = AwsTarget(region=args.region, endpoint_url=args.endpoint_url)
    where = args.endpoint_url or "AWS"
    if not args.json:
        command = "deploy --plan" if args.command == "deploy" and args.plan else args.command
        print(f"{command} stage '{args.stage}' ({args.prefix}) on {where}, region {target.region_name}")
    try:
        target.check_reachable()
        result, lines = STAGE_COMMANDS[args.command](args, target, names)
    except EndpointConnectionError as err:
        print(
            f"error: cannot reach {err.kwargs.get('endpoint_url', where)}: is the local AWS running? "
            "(python -m local_aws start)",
            file=sys.stderr,
        )
        return 1
    except (ClientError, BotoCoreError, PackagingError, PublishError, WaitTimeoutError) as err:
        print(f"error: {args.command} failed: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True) if args.json else "\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "cost":
        return _cost(args)
    if args.command == "mwaa":
        return mwaa_cli.run(args)
    return _stage_command(args)


if __name__ == "__main__":
    sys.exit(main())
