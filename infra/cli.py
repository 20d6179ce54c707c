"""The command line of ``python -m infra``: one subcommand per job, each with only its own options.

``deploy``, ``destroy`` and ``status`` act on a stage; ``cost`` prices one hourly run; ``mwaa bundle``
and ``mwaa publish`` fill the MWAA environment's source bucket; ``mwaa smoke`` proves a run on it.
What deploy would change is ``deploy --plan``, not a command of its own: the plan is deploy's walk
with every write skipped, so it takes exactly deploy's options. An option of another command, or one
whose companion is missing, is a usage error (exit code 2) that names it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from employee_pipeline.config import DEFAULT_PREFIX, PipelineNames, pipeline_names
from infra import cost
from infra.mwaa.publish import POLL_S
from infra.mwaa.smoke import POLL_S as SMOKE_POLL_S
from infra.mwaa.smoke import RUN_TIMEOUT_S as SMOKE_TIMEOUT_S
from infra.mwaa.smoke import SMOKE_CONF, SMOKE_HOUR

PROG = "python -m infra"


@dataclass(frozen=True)
class Companion:
    """``option`` of ``command`` means nothing without ``needed``: giving it alone is a usage error."""

    command: str
    option: str
    needed: str
    why: str


ROLE = "--mwaa-execution-role"
COMPANIONS = (
    Companion("deploy", "--mwaa-environment", ROLE, "it names the environment of the role deploy makes"),
    Companion("deploy", "--mwaa-source-bucket", ROLE, "it names the source bucket of the role deploy makes"),
    Companion("status", "--mwaa-environment", "--json", "status prints the execution role's policy in its JSON only"),
    Companion("status", "--mwaa-source-bucket", "--json", "status prints the execution role's policy in its JSON only"),
    Companion("mwaa publish", "--unpause", "--smoke", "it is for the smoke run"),
    Companion("mwaa publish", "--smoke-timeout", "--smoke", "it is for the smoke run"),
)


def _stage_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--stage", required=True, help="deployment stage, e.g. dev, prod, local")
    command.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"resource name prefix (default {DEFAULT_PREFIX})")


def _aws_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--endpoint-url", help="AWS endpoint, e.g. the local AWS http://127.0.0.1:4566")
    command.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / us-east-1)")


def _json_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _mwaa_names(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--mwaa-environment", help="the environment's name (default {prefix}-{stage})")
    group.add_argument("--mwaa-source-bucket", help="its source bucket (default airflow-{prefix}-{stage})")


def _deploy(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    command = commands.add_parser(
        "deploy",
        help="create or converge the stage's resources (--plan: only say what would change)",
        description="Create or converge the stage's resources, in the order infra/resources.py lists them. "
        "With --plan, make the same reads and comparisons and change nothing.",
    )
    _stage_options(command)
    _aws_options(command)
    command.add_argument(
        "--plan",
        action="store_true",
        help="only report what deploy would create or update (create/update/unchanged); change nothing",
    )
    _json_option(command)
    role = command.add_argument_group("MWAA execution role", "generated from the stage's names")
    role.add_argument(ROLE, action="store_true", help="also create or update the environment's role")
    _mwaa_names(role)
    return command


def _destroy(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    command = commands.add_parser(
        "destroy",
        help="delete every resource the stage owns, the MWAA execution role included",
        description="Delete every resource the stage owns, in reverse order: buckets with every object "
        "version, and the MWAA execution role when deploy made one.",
    )
    _stage_options(command)
    _aws_options(command)
    _json_option(command)
    return command


def _status(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    command = commands.add_parser(
        "status",
        help="list each resource the stage owns as present or missing",
        description="List each resource the stage owns as present or missing. With --json, also the MWAA "
        "execution role's name, trust policy and policy, generated from the stage's names.",
    )
    _stage_options(command)
    _aws_options(command)
    _json_option(command)
    _mwaa_names(command.add_argument_group("MWAA execution role", "the names its policy is generated for (--json)"))
    return command


def _cost(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    command = commands.add_parser(
        "cost",
        help="estimate one hourly run and a month of them on AWS (infra/prices.json)",
        description="Estimate what one hourly run, and a month of them, costs on AWS, from the published "
        "prices in infra/prices.json.",
    )
    command.add_argument("--records", type=int, default=1_000_000, help="records a run loads (default 1,000,000)")
    command.add_argument("--records-per-shard", type=int, help="records per generator shard (default 5,000)")
    classes = sorted(cost.load_prices()["mwaa_classes"]["classes"])
    command.add_argument("--environment-class", choices=classes, default="mw1.small", help="MWAA environment class")
    command.add_argument("--glue-workers", type=int, help="Glue workers (default: the job's, infra/compute.py)")
    command.add_argument("--glue-records-per-core-s", type=float, help="Glue ingest rate per executor core")
    _json_option(command)
    return command


def _mwaa(commands: argparse._SubParsersAction) -> dict[str, argparse.ArgumentParser]:
    mwaa = commands.add_parser(
        "mwaa",
        help="the MWAA environment: bundle writes its source bucket's contents, publish uploads them and updates "
        "the environment, smoke proves a DAG run on it",
        description="The MWAA environment's source bucket, and a smoke run on the environment.",
    )
    actions = mwaa.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    bundle = actions.add_parser(
        "bundle",
        help="write what the source bucket receives: dags/, plugins.zip, requirements.txt, startup.sh",
        description="Write what the MWAA source bucket receives: dags/, plugins.zip, requirements.txt and "
        "startup.sh (which sets the stage's Airflow Variables). The same checkout gives the same bytes.",
    )
    bundle.add_argument("--out", required=True, help="the bundle folder: new, empty or an earlier bundle (replaced)")
    _stage_options(bundle)
    _json_option(bundle)
    publish = actions.add_parser(
        "publish",
        help="upload the bundle to the environment's source bucket, update the environment, wait",
        description="Upload what changed of the bundle to the environment's source bucket (dags/ synced), then "
        "UpdateEnvironment with the new object versions and Airflow configuration options, and wait until it is "
        "AVAILABLE again. With nothing changed, nothing is uploaded and no update is made.",
    )
    publish.add_argument("--environment", required=True, help="the MWAA environment's name")
    _stage_options(publish)
    publish.add_argument("--source-bucket", help="default: the environment's SourceBucketArn")
    _aws_options(publish)
    publish.add_argument(
        "--poll", type=float, default=POLL_S, help=f"seconds between status checks (default {POLL_S:.0f})"
    )
    _smoke_options(publish, "after the update (or with nothing to update), ")
    _json_option(publish)
    smoke = actions.add_parser(
        "smoke",
        help="one small DAG run on the environment through InvokeRestApi: success and an exact batch, or the error",
        description="Start one run of the DAG on the environment through MWAA's InvokeRestApi (one shard of "
        f"{SMOKE_CONF['records_per_shard']} records for the dedicated hour {SMOKE_HOUR:%Y-%m-%dT%H}, before the DAG's "
        "start_date, so no scheduled run or backfill shares it), wait for it, and check that DynamoDB holds exactly "
        "its records. Exit code 0 on success; 1 with the failed task and its error otherwise.",
    )
    smoke.add_argument("--environment", required=True, help="the MWAA environment's name")
    _stage_options(smoke)
    _aws_options(smoke)
    _smoke_options(smoke, "")
    smoke.add_argument(
        "--poll", type=float, default=SMOKE_POLL_S, help=f"seconds between status checks (default {SMOKE_POLL_S:.0f})"
    )
    _json_option(smoke)
    return {"mwaa bundle": bundle, "mwaa publish": publish, "mwaa smoke": smoke}


def _smoke_options(command: argparse.ArgumentParser, when: str) -> None:
    if when:
        command.add_argument(
            "--smoke", action="store_true", help=f"{when}start a smoke run and wait for it (see mwaa smoke --help)"
        )
    command.add_argument(
        "--unpause",
        action="store_true",
        help="unpause the DAG if it is paused (MWAA creates DAGs paused): its hourly schedule starts",
    )
    command.add_argument(
        "--smoke-timeout",
        type=float,
        help=f"seconds the smoke run may take (default {SMOKE_TIMEOUT_S:.0f})",
    )


def build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser, and each command's own parser by its name (``deploy``, ..., ``mwaa publish``)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Provision, price and publish the employee batch pipeline.",
        epilog=f"Each command's options: {PROG} COMMAND --help (e.g. {PROG} mwaa publish --help).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    leaves = {"deploy": _deploy(commands), "destroy": _destroy(commands), "status": _status(commands)}
    leaves["cost"] = _cost(commands)
    leaves.update(_mwaa(commands))
    return parser, leaves


def command_name(args: argparse.Namespace) -> str:
    """``deploy``, ``destroy``, ``status``, ``cost``, ``mwaa bundle``, ``mwaa publish`` or ``mwaa smoke``."""
    action = getattr(args, "action", None)
    return f"{args.command} {action}" if action else args.command


def _given(args: argparse.Namespace, option: str) -> bool:
    return getattr(args, option.lstrip("-").replace("-", "_")) not in (None, False)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The options of the command ``argv`` names; a usage error (SystemExit 2) on a wrong combination."""
    parser, leaves = build()
    args, unknown = parser.parse_known_args(argv)
    command = command_name(args)
    if unknown:
        unrecognized = f"unrecognized arguments: {' '.join(unknown)}"
        if argv[0] != args.command:  # e.g. python -m infra --json status
            parser.error(f"{unrecognized} (a command's options follow it: {PROG} {command} ...)")
        leaves[command].error(unrecognized)
    for rule in COMPANIONS:
        if rule.command == command and _given(args, rule.option) and not _given(args, rule.needed):
            leaves[command].error(f"argument {rule.option}: only with {rule.needed} ({rule.why})")
    return args


def stage_names(args: argparse.Namespace) -> PipelineNames | None:
    """The names ``--stage`` and ``--prefix`` give; None, with the error printed, when one is not valid."""
    try:
        return pipeline_names(args.stage, args.prefix)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return None
