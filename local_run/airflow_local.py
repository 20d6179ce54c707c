"""``make airflow``: Airflow standalone wired to the local AWS, until Ctrl-C.

Starts the local AWS, deploys stage ``local``, then runs ``airflow standalone``
with AIRFLOW_HOME=.airflow and the ``aws_default`` connection pointing at the
emulator, on a throwaway PostgreSQL as on MWAA (``AIRFLOW_DB=sqlite``: .airflow's
SQLite). Ctrl-C (or SIGTERM) stops Airflow, its PostgreSQL and the local AWS.
"""

from __future__ import annotations

import argparse
import os
import sys

from employee_pipeline.config import DAG_ID
from local_aws import server
from local_run import ROOT, airflow_standalone, postgres
from local_run.airflow_env import LOCAL_STAGE
from local_run.stage import LocalStage

AIRFLOW_HOME = ROOT / ".airflow"


def say(message: str) -> None:
    print(message, flush=True)


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
    try:
        for port in (args.airflow_port, args.worker_log_port, args.trigger_log_port):
            server.ensure_port_free("127.0.0.1", port)
        # SIGTERM ends the session like Ctrl-C does (the stage sees to it).
        with LocalStage(LOCAL_STAGE, port=args.port, home=AIRFLOW_HOME, progress=say) as stage:
            return _serve(stage, args)
    except server.LocalAwsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # while the stage was being deployed: it has stopped what it started
        print("\nstopped", flush=True)
        return 0


def _serve(stage: LocalStage, args: argparse.Namespace) -> int:
    """Airflow standalone on ``stage`` until it exits or the session is interrupted; stopped on the way out."""
    standalone = None
    try:
        say(
            f"starting Airflow standalone on {args.database} (AIRFLOW_HOME={AIRFLOW_HOME.relative_to(ROOT)}, "
            f"log {AIRFLOW_HOME.relative_to(ROOT)}/standalone.log)"
        )
        standalone = airflow_standalone.start(
            stage.env,
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


if __name__ == "__main__":
    sys.exit(main())
