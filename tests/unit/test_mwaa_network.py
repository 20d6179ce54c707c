"""deploy --mwaa's part of the description (infra/mwaa/): its order, the networks' pieces, what destroy covers."""

from __future__ import annotations

from employee_pipeline.config import pipeline_names
from infra.actions import Kind
from infra.mwaa.environment import Environment, MwaaSpec, mwaa_resources
from infra.mwaa.network import ENDPOINTS, EXISTING, GATEWAY_SERVICES, INTERFACE_SERVICES, NAT, Endpoint

NAMES = pipeline_names("unit")
ROLE = NAMES.mwaa_execution_role
LOGS = ["log_group"] * 5


def _kinds(resources: tuple) -> list[str]:
    return [r.kind.value for r in resources]


def test_the_bundle_is_in_the_bucket_and_the_network_made_before_the_environment() -> None:
    described = mwaa_resources(NAMES, MwaaSpec.default(NAMES), ROLE)
    assert _kinds(described) == [
        "s3_bucket", "mwaa_bundle", "vpc", "security_group", "route_table", "route_table", "subnet", "subnet",
        "subnet", "internet_gateway", "elastic_ip", "nat_gateway", *LOGS, "mwaa_environment",
    ]  # fmt: skip
    assert described[0].name == NAMES.mwaa_source_bucket
    # MWAA's own group names, made first so that they have the stage's retention and destroy removes them.
    assert [r.name for r in described if r.kind is Kind.LOG_GROUP] == [
        f"airflow-{NAMES.mwaa_environment}-{suffix}"
        for suffix in ("DAGProcessing", "Scheduler", "WebServer", "Worker", "Task")
    ]
    environment = described[-1]
    assert isinstance(environment, Environment)
    walked = {r.name for r in described[:-1]}
    assert set(environment.subnets) | set(environment.security_groups) <= walked  # wired by name


def test_the_endpoints_network_has_one_endpoint_per_service_and_no_way_to_the_internet() -> None:
    described = mwaa_resources(NAMES, MwaaSpec.default(NAMES, network=ENDPOINTS), ROLE)
    services = [r.service for r in described if isinstance(r, Endpoint)]
    assert services == [*GATEWAY_SERVICES, *INTERFACE_SERVICES]
    assert not {Kind.NAT_GATEWAY, Kind.INTERNET_GATEWAY, Kind.ELASTIC_IP} & {r.kind for r in described}


def test_an_existing_network_is_not_described() -> None:
    spec = MwaaSpec.default(NAMES, network=EXISTING, subnet_ids=("subnet-a", "subnet-b"), security_group_ids=("sg",))
    described = mwaa_resources(NAMES, spec, ROLE)
    assert _kinds(described) == ["s3_bucket", "mwaa_bundle", *LOGS, "mwaa_environment"]
    assert (described[-1].subnets, described[-1].security_groups) == (("subnet-a", "subnet-b"), ("sg",))


def test_destroy_removes_the_environment_then_the_network_in_dependency_order() -> None:
    every = mwaa_resources(NAMES, MwaaSpec.default(NAMES), ROLE, every_network=True)
    order = []
    for kind in _kinds(tuple(reversed(every))):
        if not order or order[-1] != kind:
            order.append(kind)
    assert order == [
        "mwaa_environment", "log_group", "nat_gateway", "elastic_ip", "internet_gateway", "vpc_endpoint", "subnet",
        "route_table", "security_group", "vpc", "mwaa_bundle", "s3_bucket",
    ]  # fmt: skip
    names = [r.name for r in every]
    assert len(names) == len(set(names))  # both networks' pieces, once each
    for network in (NAT, ENDPOINTS):
        made = {r.name for r in mwaa_resources(NAMES, MwaaSpec.default(NAMES, network=network), ROLE)}
        assert made <= set(names)


def test_every_network_piece_carries_the_stage_tags() -> None:
    every = mwaa_resources(NAMES, MwaaSpec.default(NAMES), ROLE, every_network=True)
    for piece in every[2:-1]:
        assert dict(piece.tags) == {"project": NAMES.prefix, "stage": NAMES.stage}
        if piece.kind is not Kind.LOG_GROUP:  # those have MWAA's names
            assert piece.name.startswith(f"{NAMES.prefix}-{NAMES.stage}-mwaa")
