"""``make airflow``: Airflow standalone wired to the local AWS, until Ctrl-C.

Starts the local AWS, deploys stage ``local``, then runs ``airflow standalone``
with AIRFLOW_HOME=.airflow and the ``aws_default`` connection pointing at the
emulator, on a throwaway PostgreSQL as on MWAA (``AIRFLOW_DB=sqlite``: .airflow's
SQLite). Ctrl-C (or SIGTERM) stops Airflow, its PostgreSQL and the local AWS.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from employee_pipeline.config import DAG_ID, pipeline_names
from infra import mwaa_role
from infra.deploy import deploy
from infra.session import AwsTarget
from local_aws import server
from local_run import ROOT, airflow_standalone, postgres
from local_run.airflow_env import LOCAL_STAGE, airflow_env

AIRFLOW_HOME = ROOT / ".airflow"


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_run.airflow_local", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=server.DEFAULT_PORT, help="local AWS port")
    parser.add_argument(
        "--airflow-port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")), help="UI and API port"
    )
    parser.add_argument(
        "--worker-log-port",
        type=int,
        default=int(os.environ.get("AIRFLOW_WORKER_LOG_PORT", airflow_standalone.WORKER_LOG_PORT)),
        help="the log server of running tasks",
    )
    parser.add_argument(
        "--trigger-log-port",
        type=int,
        default=int(os.environ.get("AIRFLOW_TRIGGER_LOG_PORT", airflow_standalone.TRIGGER_LOG_PORT)),
        help="the triggerer's log server",
    )
    parser.add_argument(
        "--database",
        choices=airflow_standalone.DATABASES,
        default=os.environ.get("AIRFLOW_DB", "postgres"),
        help="Airflow's metadata database: a throwaway PostgreSQL (as MWAA) or AIRFLOW_HOME's SQLite",
    )
    args = parser.parse_args(argv)
    endpoint = server.endpoint_url(port=args.port)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM ends the session like Ctrl-C does
    try:
        for port in (args.airflow_port, args.worker_log_port, args.trigger_log_port):
            server.ensure_port_free("127.0.0.1", port)
        print(f"starting the local AWS on {endpoint}", flush=True)
        server.start(port=args.port)
    except server.LocalAwsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    standalone = None
    try:
        print(f"deploying stage '{LOCAL_STAGE}'", flush=True)
        names = pipeline_names(LOCAL_STAGE)
        deploy(AwsTarget(endpoint_url=endpoint), names, mwaa=mwaa_role.default_environment(names))
        print(
            f"starting Airflow standalone on {args.database} (AIRFLOW_HOME={AIRFLOW_HOME.relative_to(ROOT)}, "
            f"log {AIRFLOW_HOME.relative_to(ROOT)}/standalone.log)",
            flush=True,
        )
        standalone = airflow_standalone.start(
            airflow_env(AIRFLOW_HOME, endpoint),
            AIRFLOW_HOME,
            args.airflow_port,
            worker_log_port=args.worker_log_port,
            trigger_log_port=args.trigger_log_port,
            database=args.database,
        )
        print(f"\nAirflow is up: {standalone.url}  (login: {airflow_standalone.USER} / {standalone.password})")
        print(f"DAG {DAG_ID} runs against the local AWS; unpause or trigger it in the UI.")
        print("Ctrl-C stops Airflow and the local AWS.", flush=True)
        return standalone.proc.wait()
    except airflow_standalone.AirflowStartError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except postgres.PostgresError as err:
        print(f"error: {err}\n(or run Airflow on SQLite: AIRFLOW_DB=sqlite make airflow)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
        return 0
    finally:
        if standalone is not None:
            airflow_standalone.stop(standalone)
        server.stop(args.port)


if __name__ == "__main__":
    sys.exit(main())
