from __future__ import annotations

import json
import re

import pytest

from employee_pipeline import layout
from infra import compute, cost
from infra.__main__ import main
from infra.resources import LAMBDA_MEMORY_MB

PRICES = cost.load_prices()
ASSUMED = {name: entry["value"] for name, entry in PRICES["assumptions"].items()}


def test_dynamodb_writes_count_the_table_and_the_gsi() -> None:
    # 1,000,000 items of 300 B: 1 WRU each on the table, 1 more on the GSI entry.
    assert cost.write_units(1_000_000, 300, 130) == 2_000_000
    # A 1,500 B item takes 2 WRU (per started KB); its 130 B index entry still 1.
    assert cost.write_units(1_000, 1_500, 130) == 3_000


def test_a_query_reads_half_a_unit_per_started_4_kb_and_at_least_half_a_unit() -> None:
    # 5,000 index entries of 130 B = 650,000 B = 158.7 blocks of 4 KB -> 159 x 0.5.
    assert cost.query_read_units(5_000, 130) == 79.5
    assert cost.query_read_units(0, 130) == 0.5
    assert cost.query_read_units(1, 130) == 0.5


def test_the_count_check_queries_every_possible_shard_and_the_sweep_each_run_shard() -> None:
    assumed = {"count_check_attempts": 1}
    # Count: 200 full shards (79.5) + 800 empty ones (0.5); sweep: 200 full shards again.
    assert cost.batch_read_units(200, 5_000, 130, assumed) == 200 * 79.5 + 800 * 0.5 + 200 * 79.5 == 32_200


def test_lambda_gb_seconds_follow_memory_and_duration() -> None:
    # 200 shards: generator 512 MB x 1.5 s, writer 256 MB x 0.5 s -> 150 + 25 GB-s.
    assert cost.lambda_gb_seconds(200, {"generator": (512, 1.5), "writer": (256, 0.5)}) == 175


def test_glue_runtime_and_its_one_minute_minimum() -> None:
    # 1,000,000 records at 2,000 records/s on 4 executor cores, plus 60 s of start-up.
    runtime = cost.glue_runtime_s(1_000_000, 2_000, 4, 60)
    assert runtime == 185
    assert cost.glue_dpu_hours(2, 1, runtime) == pytest.approx(2 * 185 / 3600)
    # A 10 s job is billed for a minute: G.2X = 2 DPU per worker.
    assert cost.glue_dpu_hours(3, 2, 10) == pytest.approx(3 * 2 * 60 / 3600)


def test_the_estimate_prices_the_glue_workers_the_job_is_deployed_with() -> None:
    job = compute.glue_job_definition("role", "script", {})
    glue = cost.estimate(10_000)["glue"]
    assert (glue["worker_type"], glue["workers"]) == (job["WorkerType"], job["NumberOfWorkers"])
    assert cost.estimate(10_000, glue_workers=5)["glue"]["workers"] == 5


def test_s3_requests_of_one_run() -> None:
    assumed = {"quarantine_objects_per_run": 0, "sensor_polls": 1}
    # PUT/LIST: 200 shard objects + 200 XComs + manifest + 2 LISTs; GET/HEAD: 200 Glue reads
    # + 200 XCom reads + 200 sensor HEADs + the manifest read.
    assert cost.s3_requests(200, assumed) == (403, 601)


def test_storage_is_billed_for_the_retention_share_of_a_month() -> None:
    # One GiB kept 30 days of a 730-hour month.
    assert cost.kept_gb_months(1024**3, 30, 730) == pytest.approx(30 * 24 / 730)


def test_shards_and_their_limits() -> None:
    assert cost.shards_for(1_000_000, 5_000) == 200
    assert cost.shards_for(1_000_001, 5_000) == 201
    with pytest.raises(ValueError, match="--records must"):
        cost.shards_for(0, 5_000)
    for bad in (0, layout.MAX_RECORDS_PER_SHARD + 1):
        with pytest.raises(ValueError, match="--records-per-shard"):
            cost.shards_for(1_000, bad)
    with pytest.raises(ValueError, match="--records 5000001 needs 1001 shards"):
        cost.shards_for(layout.MAX_SHARDS * 5_000 + 1, 5_000)


def test_the_default_estimate() -> None:
    result = cost.estimate(1_000_000)
    lines = {line["component"].split(" (")[0]: line for line in result["lines"]}
    assert result["shards"] == 200 and result["records_loaded"] == 1_000_000
    assert lines["Lambda requests"]["quantity"] == 400
    generator, writer = LAMBDA_MEMORY_MB["generator"], LAMBDA_MEMORY_MB["writer"]  # as deployed
    gb_s = 200 * (generator / 1024 * ASSUMED["lambda_generator_s"] + writer / 1024 * ASSUMED["lambda_writer_s"])
    assert lines["Lambda compute"]["quantity"] == pytest.approx(gb_s)
    wru = lines["DynamoDB writes"]
    assert wru["quantity"] == 2_000_000 + ASSUMED["lease_writes_per_run"]
    assert wru["per_run"] == pytest.approx(wru["quantity"] * 0.625 / 1e6)
    assert wru["per_month"] == pytest.approx(wru["per_run"] * 730)
    environment = lines["MWAA mw1.small environment"]
    assert environment["fixed"] and environment["per_run"] is None
    assert environment["per_month"] == pytest.approx(0.49 * 730)
    network = (0.045 + 0.005) * 730  # one NAT gateway and its public IPv4 address
    assert result["fixed_per_month"] == pytest.approx(0.49 * 730 + 10 * 0.10 + network)
    assert result["variable_per_run"] == pytest.approx(sum(line["per_run"] or 0 for line in result["lines"]))
    assert result["total_per_month"] == pytest.approx(result["variable_per_run"] * 730 + result["fixed_per_month"])
    assert "MWAA mw1.small environment" in result["unconfirmed_prices"]


def test_glue_overrides_change_the_runtime() -> None:
    # 5 G.1X workers: 4 run executors with 4 cores each -> 1,000,000 / (1,000 x 16) + 60 s.
    result = cost.estimate(1_000_000, glue_workers=5, glue_records_per_core_s=1_000)
    assert result["glue"]["runtime_s"] == pytest.approx(62.5 + 60)
    with pytest.raises(ValueError, match="--glue-workers"):
        cost.estimate(1_000_000, glue_workers=1)
    with pytest.raises(ValueError, match="--glue-records-per-core-s"):
        cost.estimate(1_000_000, glue_records_per_core_s=0)


def test_the_network_choice_and_its_monthly_cost() -> None:
    nat = {line["component"]: line for line in cost.estimate(1_000_000)["lines"]}
    gb = 1_000_000 * ASSUMED["raw_bytes_per_record"] / cost.GB
    assert nat["NAT gateway"]["per_month"] == pytest.approx(0.045 * 730)
    assert nat["NAT gateway public IPv4"]["per_month"] == pytest.approx(0.005 * 730)
    assert nat["NAT gateway data"]["quantity"] == pytest.approx(gb * ASSUMED["network_passes_per_record"])
    assert nat["NAT gateway data"]["per_month"] == pytest.approx(gb * 4 * 0.045 * 730)
    result = cost.estimate(1_000_000, network="endpoints")
    endpoints = {line["component"].split(" (")[0]: line for line in result["lines"]}
    assert "NAT gateway" not in endpoints
    # 13 interface endpoints, each in the two private subnets' zones (s3 and dynamodb are free gateways).
    assert endpoints["VPC interface endpoints"]["quantity"] == 13 * 2 * 730
    assert endpoints["VPC interface endpoints"]["per_month"] == pytest.approx(189.80)
    assert endpoints["VPC endpoint data"]["per_month"] == pytest.approx(gb * 2 * 0.01 * 730)
    assert result["networks"]["nat"] == pytest.approx(36.50 + gb * 4 * 0.045 * 730)
    assert result["networks"]["endpoints"] == pytest.approx(189.80 + gb * 2 * 0.01 * 730)
    with pytest.raises(ValueError, match="--mwaa-network"):
        cost.estimate(1_000, network="carrier-pigeon")


def test_every_price_has_a_source_and_a_date_and_every_assumption_a_note() -> None:
    entries = [*PRICES["prices"].values(), *PRICES["mwaa_classes"]["classes"].values()]
    for entry in PRICES["prices"].values():
        assert entry["source"].startswith("https://") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["as_of"])
    assert all(isinstance(entry["confirmed"], bool) for entry in entries)
    assert all(entry["note"] and "value" in entry for entry in PRICES["assumptions"].values())


def test_cli_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost"]) == 0
    table = capsys.readouterr().out
    assert "200 shards x 5,000" in table and "DynamoDB writes" in table and table.count("total") == 1
    assert main(["cost", "--records", "50000", "--environment-class", "mw1.medium", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["shards"] == 10 and result["environment_class"] == "mw1.medium"
    assert main(["cost", "--mwaa-network", "endpoints", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["network"] == "endpoints"
    assert main(["cost"]) == 0
    assert "The environment's network (deploy --mwaa-network), a month: nat $" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--records", "0"], "--records"),
        (["--records-per-shard", "5001"], "--records-per-shard"),
        (["--records", "6000000"], "--records"),
        (["--glue-workers", "0"], "--glue-workers"),
    ],
)
def test_cli_rejects_bad_input_naming_the_flag(argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cost", *argv]) == 2
    assert capsys.readouterr().err.startswith(f"error: {flag}")


def test_stage_is_still_required_by_the_provisioning_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["status"])
    assert exit_.value.code == 2
    assert "--stage" in capsys.readouterr().err
