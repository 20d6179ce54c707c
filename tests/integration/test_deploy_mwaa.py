"""``python -m infra deploy --mwaa`` against a local AWS of this module's own: the MWAA environment, its
network (NAT gateway, VPC endpoints or an existing one), source bucket and bundle; plan, status, destroy.

The module's local AWS keeps its MWAA environments control plane only (``LOCAL_AWS_MWAA_AIRFLOW=off``: no
Airflow is started for them) and settles each transition in 0.2 s. Its IAM gate audits every call but does
not enforce: it cannot yet tell the resource of some EC2 calls deploy and destroy make
(``test_the_iam_gate_decides_every_ec2_call`` lists them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from employee_pipeline.config import PipelineNames, pipeline_names
from infra.__main__ import main
from infra.deploy import deploy, destroy
from infra.log_groups import GLUE_SHARED_GROUPS
from infra.mwaa.bundle import SOURCE_BUCKET_LAYOUT
from infra.mwaa.environment import AIRFLOW_VERSION, LOG_MODULES, MwaaSpec, log_group
from infra.mwaa.network import ANYWHERE, GATEWAY_SERVICES, INTERFACE_SERVICES
from infra.mwaa.options import configuration_options
from infra.mwaa.publish import PublishError
from infra.session import AwsTarget
from infra.storage import PUBLIC_ACCESS_BLOCK, tls_only_policy
from infra.tagging import from_list, stage_tags
from local_aws import stats
from local_aws.faults import FAULT_TAG
from local_run.stage import running_local_aws
from tests.support.leftovers import leftovers
from tests.support.mutations import mutations
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

POLL = "0.2"
SERVER_ENV = {"LOCAL_AWS_MWAA_AIRFLOW": "off", "LOCAL_AWS_MWAA_DELAY_S": "0.2"}
EC2_KINDS = {
    "vpcs", "subnets", "internet gateways", "nat gateways", "elastic ips", "security groups", "route tables",
    "vpc endpoints",
}  # fmt: skip


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SERVER_ENV.items():
            patch.setenv(name, value)
        with running_local_aws(free_port()) as url:
            patch.undo()  # the server has them; nothing else in the session should
            yield url


@pytest.fixture(scope="module")
def target(endpoint: str) -> AwsTarget:
    return AwsTarget(endpoint_url=endpoint)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and "--json" in argv else out), err


def _tagged(ec2: Any, operation: str, key: str, names: PipelineNames) -> list[dict[str, Any]]:
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in stage_tags(names).items()]
    return getattr(ec2, operation)(Filters=filters)[key]


def _environment(target: AwsTarget, name: str) -> dict[str, Any]:
    return target.client("mwaa").get_environment(Name=name)["Environment"]


def _destroyed(capsys: pytest.CaptureFixture[str], endpoint: str, target: AwsTarget, names: PipelineNames) -> None:
    code, _, err = _cli(capsys, "destroy", "--stage", names.stage, "--endpoint-url", endpoint, "--poll", POLL, "--json")
    assert code == 0, err
    assert leftovers(target, names) == {}


def test_deploy_on_a_new_nat_network_then_plan_update_status_destroy(
    endpoint: str, target: AwsTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    names = pipeline_names("mwnat")
    where = ("--stage", names.stage, "--endpoint-url", endpoint)
    before = stats.request_counts(endpoint)
    code, plan, err = _cli(capsys, "deploy", *where, "--mwaa", "--plan", "--json")
    assert code == 0, err
    assert mutations(before, stats.request_counts(endpoint)) == {}  # a plan of a new stage writes nothing
    assert {a["action"] for a in plan["actions"] if a["name"] not in GLUE_SHARED_GROUPS} == {"create"}
    assert [a["resource"] for a in plan["actions"]][-19:] == [
        "iam_role", "s3_bucket", "mwaa_bundle", "vpc", "security_group", "route_table", "route_table", "subnet",
        "subnet", "subnet", "internet_gateway", "elastic_ip", "nat_gateway", *["log_group"] * 5, "mwaa_environment",
    ]  # fmt: skip
    assert [a["name"] for a in plan["actions"]][-6:-1] == [
        log_group(names.mwaa_environment, module) for module in LOG_MODULES
    ]
    code, out, err = _cli(capsys, "deploy", *where, "--mwaa", "--poll", POLL)
    assert code == 0, err
    assert f"  environment {names.mwaa_environment}: AVAILABLE" in out  # the wait's progress lines
    kinds = [line.split()[1] for line in out.splitlines() if line.startswith("  created")]
    assert kinds.index("mwaa_bundle") < kinds.index("mwaa_environment")  # uploaded before CreateEnvironment
    ec2, s3 = target.client("ec2"), target.client("s3")

    (vpc,) = _tagged(ec2, "describe_vpcs", "Vpcs", names)
    subnets = {from_list(s["Tags"])["Name"]: s for s in _tagged(ec2, "describe_subnets", "Subnets", names)}
    private = [subnets[f"{names.prefix}-{names.stage}-mwaa-private-{i}"] for i in (1, 2)]
    assert len(subnets) == 3 and {s["VpcId"] for s in subnets.values()} == {vpc["VpcId"]}
    assert len({s["AvailabilityZone"] for s in private}) == 2
    (nat,) = [g for g in _tagged(ec2, "describe_nat_gateways", "NatGateways", names) if g["State"] == "available"]
    (address,) = _tagged(ec2, "describe_addresses", "Addresses", names)
    assert nat["NatGatewayAddresses"][0]["AllocationId"] == address["AllocationId"]
    (igw,) = _tagged(ec2, "describe_internet_gateways", "InternetGateways", names)
    assert igw["Attachments"][0]["VpcId"] == vpc["VpcId"]
    tables = {from_list(t["Tags"])["Name"]: t for t in _tagged(ec2, "describe_route_tables", "RouteTables", names)}
    default = {
        name: next(r for r in t["Routes"] if r.get("DestinationCidrBlock") == ANYWHERE) for name, t in tables.items()
    }
    assert default[f"{names.prefix}-{names.stage}-mwaa-private"]["NatGatewayId"] == nat["NatGatewayId"]
    assert default[f"{names.prefix}-{names.stage}-mwaa-public"]["GatewayId"] == igw["InternetGatewayId"]
    (group,) = _tagged(ec2, "describe_security_groups", "SecurityGroups", names)
    ingress = [p for p in group["IpPermissions"] if p["IpProtocol"] == "-1"]
    assert [pair["GroupId"] for p in ingress for pair in p["UserIdGroupPairs"]] == [group["GroupId"]]
    egress = [r["CidrIp"] for p in group["IpPermissionsEgress"] if p["IpProtocol"] == "-1" for r in p["IpRanges"]]
    assert egress == [ANYWHERE]

    bucket = names.mwaa_source_bucket
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == PUBLIC_ACCESS_BLOCK
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == tls_only_policy(target, bucket)
    environment = _environment(target, names.mwaa_environment)
    for key, setting in (
        (SOURCE_BUCKET_LAYOUT.plugins, "PluginsS3ObjectVersion"),
        (SOURCE_BUCKET_LAYOUT.requirements, "RequirementsS3ObjectVersion"),
        (SOURCE_BUCKET_LAYOUT.startup_script, "StartupScriptS3ObjectVersion"),
    ):
        assert environment[setting] == s3.head_object(Bucket=bucket, Key=key)["VersionId"]
    assert s3.head_object(Bucket=bucket, Key="dags/employee_batch_pipeline.py")
    role = target.client("iam").get_role(RoleName=names.mwaa_execution_role)["Role"]
    assert environment["Status"] == "AVAILABLE"
    assert {k: environment[k] for k in ("AirflowVersion", "EnvironmentClass", "WebserverAccessMode")} == {
        "AirflowVersion": AIRFLOW_VERSION,
        "EnvironmentClass": "mw1.small",
        "WebserverAccessMode": "PRIVATE_ONLY",
    }
    assert (environment["MinWorkers"], environment["MaxWorkers"]) == (1, 10)
    assert environment["ExecutionRoleArn"] == role["Arn"]
    assert environment["SourceBucketArn"] == f"arn:aws:s3:::{bucket}"
    assert environment["NetworkConfiguration"] == {
        "SubnetIds": [s["SubnetId"] for s in private],
        "SecurityGroupIds": [group["GroupId"]],
    }
    assert environment["AirflowConfigurationOptions"] == configuration_options(names)
    assert {m: environment["LoggingConfiguration"][m]["LogLevel"] for m in LOG_MODULES} == dict.fromkeys(
        LOG_MODULES, "INFO"
    )
    assert all(environment["LoggingConfiguration"][m]["Enabled"] for m in LOG_MODULES)
    assert stage_tags(names).items() <= environment["Tags"].items()

    before = stats.request_counts(endpoint)
    code, plan, err = _cli(capsys, "deploy", *where, "--mwaa", "--plan", "--json")
    assert code == 0, err
    assert mutations(before, stats.request_counts(endpoint)) == {}
    assert {a["action"] for a in plan["actions"]} == {"unchanged"}
    assert plan["actions"][-1] == {
        "resource": "mwaa_environment", "name": names.mwaa_environment, "action": "unchanged", "changes": [],
    }  # fmt: skip

    code, updated, err = _cli(capsys, "deploy", *where, "--mwaa", "--max-workers", "4", "--poll", POLL, "--json")
    assert code == 0, err
    assert [a for a in updated["actions"] if a["action"] != "unchanged"] == [
        {"resource": "mwaa_environment", "name": names.mwaa_environment, "action": "updated", "changes": ["MaxWorkers"]}
    ]
    assert _environment(target, names.mwaa_environment)["MaxWorkers"] == 4
    assert _environment(target, names.mwaa_environment)["Status"] == "AVAILABLE"

    s3.put_object(Bucket=bucket, Key=SOURCE_BUCKET_LAYOUT.requirements, Body=b"# edited by hand\n")
    code, plan, err = _cli(capsys, "deploy", *where, "--mwaa", "--max-workers", "4", "--plan", "--json")
    assert code == 0, err
    assert {a["name"]: a["changes"] for a in plan["actions"] if a["action"] != "unchanged"} == {
        f"s3://{bucket}/": [SOURCE_BUCKET_LAYOUT.requirements],
        names.mwaa_environment: ["RequirementsS3ObjectVersion"],
    }
    code, _, err = _cli(capsys, "deploy", *where, "--mwaa", "--max-workers", "4", "--poll", POLL, "--json")
    assert code == 0, err
    head = s3.head_object(Bucket=bucket, Key=SOURCE_BUCKET_LAYOUT.requirements)
    assert _environment(target, names.mwaa_environment)["RequirementsS3ObjectVersion"] == head["VersionId"]
    assert head["ContentLength"] > len(b"# edited by hand\n")

    code, status, err = _cli(capsys, "status", *where, "--json")
    assert code == 0, err
    present = {(r["resource"], r["name"]) for r in status["resources"] if r["exists"]}
    deployed = {(a["resource"], a["name"]) for a in updated["actions"] if a["name"] not in GLUE_SHARED_GROUPS}
    assert deployed <= present  # the account-wide Glue log groups are not the stage's
    assert {r["resource"] for r in status["resources"] if not r["exists"]} == {"vpc_endpoint"}

    _destroyed(capsys, endpoint, target, names)


def test_deploy_on_endpoints_makes_them_and_no_way_to_the_internet(
    endpoint: str, target: AwsTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    names = pipeline_names("mwend")
    where = ("--stage", names.stage, "--endpoint-url", endpoint)
    code, deployed, err = _cli(
        capsys, "deploy", *where, "--mwaa", "--mwaa-network", "endpoints", "--poll", POLL, "--json"
    )
    assert code == 0, err
    ec2 = target.client("ec2")
    (vpc,) = _tagged(ec2, "describe_vpcs", "Vpcs", names)
    endpoints = {
        e["ServiceName"].rpartition("us-east-1.")[2]: e
        for e in _tagged(ec2, "describe_vpc_endpoints", "VpcEndpoints", names)
    }
    assert set(endpoints) == {*GATEWAY_SERVICES, *INTERFACE_SERVICES}
    assert {e["VpcId"] for e in endpoints.values()} == {vpc["VpcId"]}
    (table,) = _tagged(ec2, "describe_route_tables", "RouteTables", names)
    (group,) = _tagged(ec2, "describe_security_groups", "SecurityGroups", names)
    network = deployed["outputs"]["mwaa_network"]
    for service in GATEWAY_SERVICES:
        assert endpoints[service]["VpcEndpointType"] == "Gateway"
        assert endpoints[service]["RouteTableIds"] == [table["RouteTableId"]]
    for service in INTERFACE_SERVICES:
        assert endpoints[service]["VpcEndpointType"] == "Interface"
        assert sorted(endpoints[service]["SubnetIds"]) == sorted(network["SubnetIds"])
        assert [g["GroupId"] for g in endpoints[service]["Groups"]] == [group["GroupId"]]
        assert endpoints[service]["PrivateDnsEnabled"] is True
    assert not any(r.get("DestinationCidrBlock") == ANYWHERE for r in table["Routes"])
    for operation, key in (
        ("describe_nat_gateways", "NatGateways"),
        ("describe_internet_gateways", "InternetGateways"),
        ("describe_addresses", "Addresses"),
    ):
        assert [g for g in _tagged(ec2, operation, key, names) if g.get("State", "") != "deleted"] == []
    assert _environment(target, names.mwaa_environment)["NetworkConfiguration"] == network
    before = stats.request_counts(endpoint)
    code, plan, err = _cli(capsys, "deploy", *where, "--mwaa", "--mwaa-network", "endpoints", "--plan", "--json")
    assert code == 0, err
    assert mutations(before, stats.request_counts(endpoint)) == {}
    assert {a["action"] for a in plan["actions"]} == {"unchanged"}
    _destroyed(capsys, endpoint, target, names)


def test_an_existing_network_is_used_as_given_and_left_alone(
    endpoint: str, target: AwsTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    names = pipeline_names("mwown")
    ec2 = target.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    zones = sorted(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"])[:2]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.50.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for i, zone in enumerate(zones)
    ]
    group = ec2.create_security_group(GroupName="own-mwaa", Description="made by hand", VpcId=vpc)["GroupId"]
    where = ("--stage", names.stage, "--endpoint-url", endpoint)
    given = ("--subnet-ids", ",".join(subnets), "--security-group-ids", group)
    code, deployed, err = _cli(capsys, "deploy", *where, "--mwaa", *given, "--poll", POLL, "--json")
    assert code == 0, err
    assert not EC2_KINDS & set(leftovers(target, names))  # no network of the stage's own
    network = {"SubnetIds": subnets, "SecurityGroupIds": [group]}
    assert deployed["outputs"]["mwaa_network"] == network
    assert _environment(target, names.mwaa_environment)["NetworkConfiguration"] == network

    other = ec2.create_security_group(GroupName="own-mwaa-2", Description="made by hand", VpcId=vpc)["GroupId"]
    given = ("--subnet-ids", ",".join(subnets), "--security-group-ids", other)
    code, updated, err = _cli(capsys, "deploy", *where, "--mwaa", *given, "--poll", POLL, "--json")
    assert code == 0, err
    assert updated["actions"][-1]["changes"] == ["NetworkConfiguration"]  # security groups may change
    assert _environment(target, names.mwaa_environment)["NetworkConfiguration"]["SecurityGroupIds"] == [other]
    third = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.9.0/24", AvailabilityZone=zones[1])["Subnet"]["SubnetId"]
    moved = ("--subnet-ids", f"{subnets[0]},{third}", "--security-group-ids", other)
    code, _, err = _cli(capsys, "deploy", *where, "--mwaa", *moved, "--plan")
    assert code == 1 and "an environment's subnets cannot change; destroy it and deploy again" in err

    _destroyed(capsys, endpoint, target, names)
    assert [s["SubnetId"] for s in ec2.describe_subnets(SubnetIds=subnets)["Subnets"]] == subnets
    assert ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["VpcId"] == vpc
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"]


def test_a_failed_creation_fails_deploy_with_the_environments_error(
    endpoint: str, target: AwsTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    names = pipeline_names("mwfail")
    spec = MwaaSpec.default(names, poll_s=0.2, extra_tags={FAULT_TAG: "CreateEnvironment:CREATE_FAILED"})
    with pytest.raises(PublishError, match=f"{names.mwaa_environment} ended the creation CREATE_FAILED: Injected"):
        deploy(target, names, environment=spec)
    assert _environment(target, names.mwaa_environment)["Status"] == "CREATE_FAILED"
    with pytest.raises(PublishError, match="is CREATE_FAILED: destroy it and deploy again"):
        deploy(target, names, environment=spec)
    destroy(target, names, poll_s=0.2)
    assert leftovers(target, names) == {}


def test_the_iam_gate_decides_every_ec2_call(endpoint: str) -> None:
    undecided = sorted(
        {
            c["action"]
            for c in stats.iam_audit(endpoint)["calls"]
            if c["action"].startswith("ec2:") and c["resource"] == "?"
        }
    )
    assert undecided == [], f"the gate cannot decide: {undecided}"
