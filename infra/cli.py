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
from infra.mwaa.environment import ACCESS_MODES, LOG_LEVELS
from infra.mwaa.network import NETWORKS
from infra.mwaa.publish import POLL_S
from infra.mwaa.smoke import POLL_S as SMOKE_POLL_S
from infra.mwaa.smoke import RUN_TIMEOUT_S as SMOKE_TIMEOUT_S
from infra.mwaa.smoke import SMOKE_CONF, SMOKE_HOUR

PROG = "python -m infra"


@dataclass(frozen=True)
class Companion:
    """``option`` of ``command`` means nothing without ``needed`` (or one of ``also``): giving it alone is a
    usage error."""

    command: str
    option: str
    needed: str
    why: str
    also: tuple[str, ...] = ()


ROLE = "--mwaa-execution-role"
MWAA = "--mwaa"
# deploy --mwaa's settings (None: not given; the defaults are MwaaSpec's, shown in --help).
MWAA_SETTINGS = (
    "--mwaa-network",
    "--subnet-ids",
    "--security-group-ids",
    "--environment-class",
    "--min-workers",
    "--max-workers",
    "--webserver-access-mode",
    "--log-level",
    "--poll",
)
COMPANIONS = (
    Companion("deploy", "--mwaa-environment", ROLE, "it names the environment of the role deploy makes", (MWAA,)),
    Companion("deploy", "--mwaa-source-bucket", ROLE, "it names the source bucket of the role deploy makes", (MWAA,)),
    *(Companion("deploy", option, MWAA, "it configures the environment deploy makes") for option in MWAA_SETTINGS),
    Companion("deploy", "--subnet-ids", "--security-group-ids", "an existing network is named by both"),
    Companion("deploy", "--security-group-ids", "--subnet-ids", "an existing network is named by both"),
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
    _environment_options(command)
    return command


def _environment_options(command: argparse.ArgumentParser) -> None:
    group = command.add_argument_group(
        "MWAA environment",
        "with --mwaa: the environment, its network, source bucket (the bundle uploaded first) and execution role",
    )
    group.add_argument(MWAA, action="store_true", help="also create or update the environment (implies " + ROLE + ")")
    group.add_argument(
        "--mwaa-network",
        choices=NETWORKS,
        help="a new VPC whose private subnets reach AWS through one NAT gateway (nat, the default) or through "
        "VPC endpoints, without internet (endpoints); see python -m infra cost for their monthly cost",
    )
    group.add_argument("--subnet-ids", help="an existing network instead: its two private subnets, a,b")
    group.add_argument("--security-group-ids", help="... and its security group(s), sg[,sg]")
    classes = sorted(cost.load_prices()["mwaa_classes"]["classes"])
    group.add_argument("--environment-class", choices=classes, help="default mw1.small")
    group.add_argument("--min-workers", type=int, help="default 1")
    group.add_argument("--max-workers", type=int, help="default 10")
    group.add_argument("--webserver-access-mode", choices=ACCESS_MODES, help="default PRIVATE_ONLY")
    group.add_argument("--log-level", choices=LOG_LEVELS, help="every CloudWatch log module's level (default INFO)")
    group.add_argument("--poll", type=float, help=f"seconds between status checks (default {POLL_S:.0f})")


def _destroy(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    command = commands.add_parser(
        "destroy",
        help="delete every resource the stage owns, the MWAA environment, its network and role included",
        description="Delete every resource the stage owns, in reverse order: the MWAA environment (waited "
        "until gone) and the network deploy made for it, buckets with every object version, and the MWAA "
        "execution role when deploy made one. A network given to deploy with --subnet-ids is left alone.",
    )
    _stage_options(command)
    _aws_options(command)
    _json_option(command)
    command.add_argument(
        "--poll", type=float, default=POLL_S, help=f"seconds between status checks (default {POLL_S:.0f})"
    )
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
    command.add_argument(
        "--mwaa-network", choices=NETWORKS, default=NETWORKS[0], help="the environment's network (default nat)"
    )
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
        needed = (rule.needed, *rule.also)
        if rule.command == command and _given(args, rule.option) and not any(_given(args, n) for n in needed):
            leaves[command].error(f"argument {rule.option}: only with {' or '.join(needed)} ({rule.why})")
    if command == "deploy" and args.mwaa_network and args.subnet_ids:
        leaves[command].error("argument --mwaa-network: not with --subnet-ids (an existing network is not made)")
    return args


def stage_names(args: argparse.Namespace) -> PipelineNames | None:
    """The names ``--stage`` and ``--prefix`` give; None, with the error printed, when one is not valid."""
    try:
        return pipeline_names(args.stage, args.prefix)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return None
