"""What one hourly run, and a month of them, costs on AWS: ``python -m infra cost``.

Prices and every assumption come from ``infra/prices.json``; the sizes the stage is deployed with
(Lambda memory, Glue worker type and count) come from the code that deploys them, and the shard
limits from the DAG's layout. The arithmetic is pure functions, unit-tested.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from employee_pipeline import layout
from infra import compute
from infra.mwaa.network import INTERFACE_SERVICES, NAT, NETWORKS, PRIVATE_CIDRS
from infra.resources import LAMBDA_MEMORY_MB

PRICES_FILE = Path(__file__).with_name("prices.json")
# Glue worker type -> (DPUs, vCPUs). One of the job's workers runs the Spark driver.
GLUE_WORKER_TYPES = {"G.1X": (1, 4), "G.2X": (2, 8), "G.4X": (4, 16), "G.8X": (8, 32)}
GLUE_MIN_BILLED_S = 60
WRU_BYTES, RRU_BYTES = 1024, 4096
ITEM_OVERHEAD_BYTES = 100  # DynamoDB's storage overhead per item and per index entry
GB = 1024**3
HOURS_PER_MONTH = 730  # the MWAA environment is billed for every one of them


def load_prices(path: Path = PRICES_FILE) -> dict[str, Any]:
    return json.loads(path.read_text())


def shards_for(records: int, records_per_shard: int) -> int:
    """Shards the DAG needs: each holds exactly ``records_per_shard`` records."""
    if records <= 0:
        raise ValueError(f"--records must be a positive number of records, got {records}")
    if not 1 <= records_per_shard <= layout.MAX_RECORDS_PER_SHARD:
        raise ValueError(
            f"--records-per-shard must be 1..{layout.MAX_RECORDS_PER_SHARD} (the DAG's limit), got {records_per_shard}"
        )
    shards = math.ceil(records / records_per_shard)
    if shards > layout.MAX_SHARDS:
        raise ValueError(
            f"--records {records} needs {shards} shards of {records_per_shard}, above the DAG's "
            f"{layout.MAX_SHARDS}: raise --records-per-shard or lower --records"
        )
    return shards


def lambda_gb_seconds(shards: int, invocations: dict[str, tuple[int, float]]) -> float:
    """GB-seconds of ``shards`` invocations of each function: ``{name: (memory MB, seconds)}``."""
    return sum(shards * memory / 1024 * seconds for memory, seconds in invocations.values())


def glue_runtime_s(records: int, records_per_core_s: float, cores: int, startup_s: float) -> float:
    return startup_s + records / (records_per_core_s * cores)


def glue_dpu_hours(workers: int, dpu_per_worker: int, runtime_s: float) -> float:
    """Billed DPU-hours: per second, with Glue's 1-minute minimum."""
    return workers * dpu_per_worker * max(runtime_s, GLUE_MIN_BILLED_S) / 3600


def write_units(records: int, item_bytes: int, gsi_item_bytes: int) -> int:
    """WRUs of writing ``records`` new items: the table's put plus the GSI's (1 WRU per started KB each)."""
    return records * (math.ceil(item_bytes / WRU_BYTES) + math.ceil(gsi_item_bytes / WRU_BYTES))


def query_read_units(items: int, item_bytes: int) -> float:
    """RRUs of one eventually consistent Query reading ``items``: 0.5 per started 4 KB, at least 0.5."""
    return max(1, math.ceil(items * item_bytes / RRU_BYTES)) * 0.5


def batch_read_units(shards: int, records_per_shard: int, gsi_item_bytes: int, a: dict[str, float]) -> float:
    """The count check's Query COUNT of every possible shard, plus the stale-item sweep's query of each run shard."""
    full = query_read_units(records_per_shard, gsi_item_bytes)
    count = shards * full + (layout.MAX_SHARDS - shards) * query_read_units(0, gsi_item_bytes)
    return a["count_check_attempts"] * count + shards * full


def s3_requests(shards: int, a: dict[str, float]) -> tuple[int, int]:
    """(PUT/LIST-priced, GET/HEAD-priced) requests of one run."""
    puts = (
        shards  # writer: one object per shard
        + shards  # object-storage XCom: each generate output
        + 1  # the Glue job's manifest
        + a["quarantine_objects_per_run"]
        + math.ceil(shards / 1000)  # the Glue job lists the batch's raw prefix
        + 1  # ... and its quarantine prefix
    )
    gets = (
        shards  # the Glue job reads each shard object
        + shards  # each write task reads its generate XCom
        + shards * a["sensor_polls"]  # wait_for_objects: one HEAD per key per poke
        + 1  # read_manifest
    )
    return int(puts), int(gets)


def kept_gb_months(bytes_per_run: float, retention_days: float, runs_per_month: float) -> float:
    """GB-months one run's data adds to the bill while it is kept ``retention_days``."""
    return bytes_per_run / GB * retention_days * 24 / runs_per_month


@dataclass(frozen=True)
class Line:
    component: str
    quantity: float
    unit: str
    price: float  # USD per ``per`` units
    per: int
    confirmed: bool
    fixed: bool  # billed per hour whether runs happen or not
    per_run: float | None
    per_month: float


def _line(component: str, quantity: float, unit: str, price: dict[str, Any], runs: float, fixed: bool = False) -> Line:
    cost = quantity / price["per"] * price["usd"]
    return Line(
        component, quantity, unit, price["usd"], price["per"], price["confirmed"], fixed,
        None if fixed else cost, cost if fixed else cost * runs,
    )  # fmt: skip


def network_lines(network: str, records: int, prices: dict[str, Any]) -> list[Line]:
    """What the environment's network (deploy --mwaa-network) costs: a NAT gateway with its public IPv4
    address and the bytes it processes, or an interface endpoint in each private subnet's zone per service
    and the bytes they process (the S3 and DynamoDB gateway endpoints are free)."""
    p, a = prices["prices"], {name: entry["value"] for name, entry in prices["assumptions"].items()}
    runs, gb = a["runs_per_month"], records * a["raw_bytes_per_record"] / GB
    if network == NAT:
        return [
            _line("NAT gateway", HOURS_PER_MONTH, "h", p["nat_gateway_hour"], runs, fixed=True),
            _line("NAT gateway public IPv4", HOURS_PER_MONTH, "h", p["public_ipv4_hour"], runs, fixed=True),
            _line("NAT gateway data", gb * a["network_passes_per_record"], "GB", p["nat_gateway_gb"], runs),
        ]
    endpoints, zones = len(INTERFACE_SERVICES), len(PRIVATE_CIDRS)
    return [
        _line(f"VPC interface endpoints ({endpoints} x {zones} AZ)", endpoints * zones * HOURS_PER_MONTH,
              "endpoint-AZ-h", p["interface_endpoint_az_hour"], runs, fixed=True),
        _line("VPC endpoint data", gb * a["network_passes_via_interface_endpoints"], "GB", p["interface_endpoint_gb"],
              runs),
    ]  # fmt: skip


def estimate(
    records: int,
    records_per_shard: int | None = None,
    environment_class: str = "mw1.small",
    glue_workers: int | None = None,
    glue_records_per_core_s: float | None = None,
    prices: dict[str, Any] | None = None,
    network: str = NAT,
) -> dict[str, Any]:
    """One run's cost lines and the month's totals (a JSON-ready dict)."""
    prices = prices or load_prices()
    p = prices["prices"]
    a = {name: entry["value"] for name, entry in prices["assumptions"].items()}
    per_shard = int(a["records_per_shard"]) if records_per_shard is None else records_per_shard
    shards = shards_for(records, per_shard)
    loaded = shards * per_shard
    runs = a["runs_per_month"]
    worker_type = compute.GLUE_WORKER_TYPE
    workers = compute.GLUE_WORKERS if glue_workers is None else glue_workers
    if workers < 2:
        raise ValueError(f"--glue-workers must be at least 2 (Glue's minimum for a Spark job), got {workers}")
    rate = a["glue_records_per_core_s"] if glue_records_per_core_s is None else glue_records_per_core_s
    if rate <= 0:
        raise ValueError(f"--glue-records-per-core-s must be positive, got {rate}")
    if environment_class not in prices["mwaa_classes"]["classes"]:
        raise ValueError(
            f"--environment-class {environment_class!r} is not one of {sorted(prices['mwaa_classes']['classes'])}"
        )
    if network not in NETWORKS:
        raise ValueError(f"--mwaa-network {network!r} is not one of {', '.join(NETWORKS)}")
    mwaa = prices["mwaa_classes"]["classes"][environment_class]

    seconds = {"generator": a["lambda_generator_s"], "writer": a["lambda_writer_s"]}
    gb_s = lambda_gb_seconds(shards, {name: (mb, seconds[name]) for name, mb in LAMBDA_MEMORY_MB.items()})
    dpu, vcpu = GLUE_WORKER_TYPES[worker_type]
    runtime = glue_runtime_s(loaded, rate, (workers - 1) * vcpu, a["glue_startup_s"])
    wru = write_units(loaded, a["item_bytes"], a["gsi_item_bytes"]) + a["lease_writes_per_run"]
    rru = batch_read_units(shards, per_shard, a["gsi_item_bytes"], a)
    puts, gets = s3_requests(shards, a)

    def kept(size: float) -> float:
        return kept_gb_months(size, a["retention_days"], runs)

    table_bytes = loaded * (a["item_bytes"] + ITEM_OVERHEAD_BYTES)
    index_bytes = loaded * (a["gsi_item_bytes"] + ITEM_OVERHEAD_BYTES)
    slots = mwaa["tasks_per_worker"]
    extra_workers = 0 if mwaa["worker_hour"] is None else max(0, math.ceil(a["mwaa_concurrent_tasks"] / slots) - 1)
    mwaa_price = {"per": 1, "confirmed": mwaa["confirmed"]}

    lines = [
        _line("Lambda requests", 2 * shards, "requests", p["lambda_requests"], runs),
        _line("Lambda compute", gb_s, "GB-s", p["lambda_gb_second"], runs),
        _line(f"Glue {worker_type} x {workers} ({runtime:.0f} s)", glue_dpu_hours(workers, dpu, runtime), "DPU-h",
              p["glue_dpu_hour"], runs),
        _line("DynamoDB writes (table + GSI)", wru, "WRU", p["dynamodb_write_request_units"], runs),
        _line("DynamoDB reads (count + sweep)", rru, "RRU", p["dynamodb_read_request_units"], runs),
        _line(f"DynamoDB storage ({a['retention_days']:g} d)", kept(table_bytes + index_bytes), "GB-mo",
              p["dynamodb_storage_gb_month"], runs),
        _line("DynamoDB PITR backups", kept(table_bytes), "GB-mo", p["dynamodb_pitr_gb_month"], runs),
        _line("S3 PUT/LIST", puts, "requests", p["s3_put_requests"], runs),
        _line("S3 GET/HEAD", gets, "requests", p["s3_get_requests"], runs),
        _line(f"S3 raw objects ({a['retention_days']:g} d)", kept(loaded * a["raw_bytes_per_record"]), "GB-mo",
              p["s3_storage_gb_month"], runs),
        _line(f"MWAA extra workers ({extra_workers})", extra_workers * a["mwaa_extra_worker_minutes"] / 60,
              "worker-h", {**mwaa_price, "usd": mwaa["worker_hour"] or 0.0}, runs),
        _line(f"MWAA {environment_class} environment", HOURS_PER_MONTH, "h",
              {**mwaa_price, "usd": mwaa["environment_hour"]}, runs, fixed=True),
        _line("MWAA metadatabase", a["mwaa_metadatabase_gb"], "GB-mo", p["mwaa_metadatabase_gb_month"], runs,
              fixed=True),
        *network_lines(network, loaded, prices),
    ]  # fmt: skip
    variable = sum(line.per_run or 0.0 for line in lines)
    fixed = sum(line.per_month for line in lines if line.fixed)
    return {
        "records": records,
        "records_loaded": loaded,
        "shards": shards,
        "records_per_shard": per_shard,
        "environment_class": environment_class,
        "glue": {"worker_type": worker_type, "workers": workers, "records_per_core_s": rate, "runtime_s": runtime},
        "region": prices["region"],
        "runs_per_month": runs,
        "lines": [asdict(line) for line in lines],
        "variable_per_run": variable,
        "variable_per_month": variable * runs,
        "fixed_per_month": fixed,
        "total_per_month": variable * runs + fixed,
        "unconfirmed_prices": [line.component for line in lines if not line.confirmed],
        "network": network,
        # Each network's monthly cost at this load: the choice deploy --mwaa-network makes.
        "networks": {n: sum(line.per_month for line in network_lines(n, loaded, prices)) for n in NETWORKS},
    }


def _price(line: dict[str, Any]) -> str:
    amount = f"{line['price']:.10f}".rstrip("0")
    amount += "0" * max(0, 2 - len(amount.split(".")[1]))
    per = {1: "", 1000: "1K ", 1_000_000: "1M "}[line["per"]]
    return f"${amount}/{per}{line['unit']}" + ("" if line["confirmed"] else " *")


def render(result: dict[str, Any]) -> str:
    """The estimate as a table: component, quantity, unit price, cost per run, cost per month."""
    rounded = "" if result["records_loaded"] == result["records"] else f" (rounded up to {result['records_loaded']:,})"
    head = (
        f"One hourly run: {result['records']:,} records{rounded} = {result['shards']} shards x "
        f"{result['records_per_shard']:,}; {result['region']} on-demand prices; "
        f"{result['runs_per_month']:g} runs a month"
    )
    row = "{:<34} {:>16} {:>22} {:>9} {:>11}"
    out = [head, "", row.format("component", "quantity", "unit price", "per run", "per month")]
    for line in result["lines"]:
        amount = f"{line['quantity']:.4g}" if line["quantity"] < 100 else f"{line['quantity']:,.0f}"
        quantity = f"{amount} {line['unit']}"
        per_run = "-" if line["per_run"] is None else f"${line['per_run']:.4f}"
        out.append(row.format(line["component"], quantity, _price(line), per_run, f"${line['per_month']:,.2f}"))
    out += [
        "",
        row.format("variable (every run)", "", "", f"${result['variable_per_run']:.4f}",
                   f"${result['variable_per_month']:,.2f}"),
        row.format("fixed (billed per hour, runs or not)", "", "", "-", f"${result['fixed_per_month']:,.2f}"),
        row.format("total", "", "", "", f"${result['total_per_month']:,.2f}"),
    ]  # fmt: skip
    choices = ", ".join(f"{n} ${usd:,.2f}" for n, usd in result["networks"].items())
    out.append(f"\nThe environment's network (deploy --mwaa-network), a month: {choices} (above: {result['network']})")
    if result["unconfirmed_prices"]:
        out.append("\n* price not confirmed for this region: see infra/prices.json")
    return "\n".join(out)
