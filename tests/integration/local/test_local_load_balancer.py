"""The local Application Load Balancer: requests in, the AWS/ApplicationELB metrics AWS publishes out.

Source: Elastic Load Balancing User Guide, "CloudWatch metrics for your Application Load
Balancer" (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html):
metrics are reported "only when requests are flowing through the load balancer", measured and
sent "in 60-second intervals"; RequestCount counts "only the requests with a response generated
by a target" (dimensions LoadBalancer; AvailabilityZone, LoadBalancer; TargetGroup,
LoadBalancer; TargetGroup, AvailabilityZone, LoadBalancer; "Always reported");
RequestCountPerTarget is "The average number of requests received by each target in a target
group" (TargetGroup; TargetGroup, LoadBalancer; Sum "represents the average"); the
HTTPCode_ELB_503_Count and HTTPCode_ELB_5XX_Count of responses that "originate from the load
balancer" exist per LoadBalancer and AvailabilityZone, LoadBalancer only, reported when
"There is a nonzero value"; the dimension values are app/<name>/<id> and
targetgroup/<name>/<id> ("Metric dimensions for Application Load Balancers"). Datapoints are
stamped with their minute's start and readable a minute after it ends (the local world's stated
assumption, `ebb.local.metric_publishing`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from ebb.local.load_balancer import LoadBalancerError, Target
from ebb.local.world import LocalWorld, LocalWorldConfig, start_local_world

from .world_testkit import TEMPLATE

pytestmark = pytest.mark.integration

ZONES = ("eu-west-1a", "eu-west-1b")


def metric(
    world: LocalWorld, name: str, dimensions: dict[str, str], minutes: int = 10
) -> dict[datetime, float]:
    """GetMetricData (Sum, 60 s) over the last `minutes` minutes, by period start."""
    end = world.now()
    answer = world.clients.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m0",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=end - timedelta(minutes=minutes),
        EndTime=end,
        ScanBy="TimestampAscending",
    )
    (result,) = answer["MetricDataResults"]
    return {
        moment.replace(tzinfo=None): value
        for moment, value in zip(result["Timestamps"], result["Values"], strict=True)
    }


def minute(world: LocalWorld, index: int) -> datetime:
    """The start of the world's `index`-th minute, naive UTC as GetMetricData returns it."""
    return (world.config.start_time + timedelta(minutes=index)).replace(tzinfo=None)


def test_requests_served_by_healthy_targets_count_per_target_group_zone_and_target(world: LocalWorld) -> None:
    targets = [Target("pod-a", "eu-west-1a"), Target("pod-b", "eu-west-1b"), Target("pod-c", "eu-west-1a")]
    balancer = world.create_load_balancer("llm-inference", availability_zones=ZONES)
    group = balancer.add_target_group("llm-inference", healthy_targets=lambda: targets)
    assert re.fullmatch(r"app/llm-inference/[0-9a-f]{16}", balancer.dimension)
    assert re.fullmatch(r"targetgroup/llm-inference/[0-9a-f]{16}", group.dimension)
    prefix = f"arn:aws:elasticloadbalancing:{world.config.region}:{world.config.account_id}"
    assert balancer.arn == f"{prefix}:loadbalancer/{balancer.dimension}"
    assert group.arn == f"{prefix}:{group.dimension}"

    balancer.set_request_rate("llm-inference", 900)  # 15 a second, from 00:00:00 to 00:00:59
    world.run_for(59.5)
    balancer.set_request_rate("llm-inference", 0)
    lb = {"LoadBalancer": balancer.dimension}
    tg = {"TargetGroup": group.dimension}

    # Minute 0 ends at 00:01; its datapoints are readable from 00:02, not before.
    world.run_for(60)
    assert metric(world, "RequestCount", lb) == {}
    world.run_for(1)
    assert metric(world, "RequestCount", lb) == {minute(world, 0): 900.0}
    assert metric(world, "RequestCount", {**tg, **lb}) == {minute(world, 0): 900.0}
    # The dimensions are a set: the order a query lists them in does not matter.
    assert metric(world, "RequestCount", {**lb, **tg}) == {minute(world, 0): 900.0}
    # Round robin over the zones' load balancer nodes, then over all healthy targets (cross-zone).
    assert metric(world, "RequestCount", {"AvailabilityZone": "eu-west-1a", **lb}) == {
        minute(world, 0): 450.0
    }
    assert metric(world, "RequestCount", {**tg, "AvailabilityZone": "eu-west-1b", **lb}) == {
        minute(world, 0): 450.0
    }
    assert group.served_by_target == {"pod-a": 300, "pod-b": 300, "pod-c": 300}
    assert metric(world, "RequestCountPerTarget", tg) == {minute(world, 0): 300.0}
    assert metric(world, "RequestCountPerTarget", {**tg, **lb}) == {minute(world, 0): 300.0}
    # 503s are reported only when there are some.
    assert metric(world, "HTTPCode_ELB_503_Count", lb) == {}

    # No request in minute 1 or later: nothing is reported for them, not even zeros.
    world.run_for(5 * 60)
    assert list(metric(world, "RequestCount", lb)) == [minute(world, 0)]
    published = [p for p in world.metrics.published if p.datapoint.namespace == "AWS/ApplicationELB"]
    assert {p.timestamp for p in published} == {world.config.start_time}
    assert {p.visible_at for p in published} == {world.config.start_time + timedelta(minutes=2)}


def test_without_a_healthy_target_the_load_balancer_answers_503_and_counts_no_request(
    world: LocalWorld,
) -> None:
    targets: list[Target] = []
    balancer = world.create_load_balancer("llm-inference", availability_zones=ZONES)
    group = balancer.add_target_group("llm-inference", healthy_targets=lambda: targets)
    lb = {"LoadBalancer": balancer.dimension}
    tg = {"TargetGroup": group.dimension}

    outcome = balancer.send("llm-inference", 7)
    assert (outcome.served, outcome.rejected_with_503) == (0, 7)
    world.run_for(60)
    targets.append(Target("pod-a", "eu-west-1b"))  # a pod becomes Ready in minute 1
    assert balancer.send("llm-inference", 4).served == 4
    world.run_for(120)

    for name in ("HTTPCode_ELB_503_Count", "HTTPCode_ELB_5XX_Count"):
        assert metric(world, name, lb) == {minute(world, 0): 7.0}
        assert metric(world, name, {"AvailabilityZone": "eu-west-1a", **lb}) == {minute(world, 0): 4.0}
        assert metric(world, name, {"AvailabilityZone": "eu-west-1b", **lb}) == {minute(world, 0): 3.0}
        # Per load balancer only: no target group dimension carries them.
        assert metric(world, name, {**tg, **lb}) == {}
    # The 503s are in neither request metric, which are still reported ("Always reported") as 0.
    assert metric(world, "RequestCount", lb) == {minute(world, 0): 0.0, minute(world, 1): 4.0}
    assert metric(world, "RequestCountPerTarget", tg) == {minute(world, 0): 0.0, minute(world, 1): 4.0}


def test_an_alarm_on_the_503_count_is_driven_by_traffic_alone(world: LocalWorld) -> None:
    balancer = world.create_load_balancer("llm-inference", availability_zones=ZONES)
    balancer.add_target_group("llm-inference", healthy_targets=list)
    cloudwatch = world.clients.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="wake-llm",
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_ELB_503_Count",
        Dimensions=[{"Name": "LoadBalancer", "Value": balancer.dimension}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    world.run_for(3 * 60)
    balancer.set_request_rate("llm-inference", 60)
    world.run_for(3 * 60)
    balancer.set_request_rate("llm-inference", 0)
    world.run_for(4 * 60)

    changes = [
        (int((t.at - world.config.start_time).total_seconds() // 60), t.state)
        for t in world.alarms.transitions
        if t.alarm_name == "wake-llm"
    ]
    # Traffic from 00:03 to 00:06, one request a second: minutes 3-5 have 60 503s each and minute 6
    # none. Minute 3's are readable at 00:05, when the alarm fires. With EvaluationPeriods 1 the
    # evaluation range is 3 periods and the newest real datapoint decides: at 00:08 that is minute
    # 5 (readable since 00:07), and at 00:09 the range (minutes 6-8) holds no datapoint, missing
    # data counting as not breaching.
    assert changes == [(1, "OK"), (5, "ALARM"), (9, "OK")]


def test_a_rate_changed_on_a_minute_boundary_holds_for_that_whole_minute(world: LocalWorld) -> None:
    """However the change is ordered against the clock's other entries due at the boundary (here:
    after `run_for` reached it), the minute after it counts the new rate only."""
    targets = [Target("pod-a", "eu-west-1a")]
    balancer = world.create_load_balancer("llm-inference", availability_zones=ZONES)
    balancer.add_target_group("llm-inference", healthy_targets=lambda: targets)
    balancer.set_request_rate("llm-inference", 900)
    world.run_for(60)
    balancer.set_request_rate("llm-inference", 300)
    world.run_for(60)
    balancer.set_request_rate("llm-inference", 0)
    world.run_for(3 * 60)

    assert metric(world, "RequestCount", {"LoadBalancer": balancer.dimension}) == {
        minute(world, 0): 900.0,
        minute(world, 1): 300.0,
    }


def load_balancer_identifiers(seed: int) -> tuple[str, str]:
    with start_local_world(TEMPLATE, LocalWorldConfig(seed=seed)) as world:
        balancer = world.create_load_balancer("web", availability_zones=ZONES)
        group = balancer.add_target_group("web", healthy_targets=list)
        return balancer.dimension, group.dimension


def test_identifiers_are_drawn_from_the_seed_unless_given() -> None:
    assert load_balancer_identifiers(3) == load_balancer_identifiers(3)
    assert load_balancer_identifiers(3) != load_balancer_identifiers(4)


def test_names_identifiers_and_requests_are_checked_as_elb_checks_them(world: LocalWorld) -> None:
    balancer = world.create_load_balancer(
        "llm-inference", availability_zones=ZONES, identifier="50dc6c495c0c9188"
    )
    assert balancer.dimension == "app/llm-inference/50dc6c495c0c9188"
    balancer.add_target_group("llm-inference", healthy_targets=list, identifier="73e2d6bc24d8a067")
    with pytest.raises(LoadBalancerError, match="load balancer name '-web': at most 32 alphanumeric"):
        world.create_load_balancer("-web", availability_zones=ZONES)
    with pytest.raises(LoadBalancerError, match="not beginning with 'internal-'"):
        world.create_load_balancer("internal-web", availability_zones=ZONES)
    with pytest.raises(LoadBalancerError, match=f"target group name '{'a' * 33}'"):
        balancer.add_target_group("a" * 33, healthy_targets=list)
    with pytest.raises(
        LoadBalancerError, match="identifier '50DC6C495C0C9188': 16 lower-case hexadecimal digits"
    ):
        world.create_load_balancer("other", availability_zones=ZONES, identifier="50DC6C495C0C9188")
    with pytest.raises(LoadBalancerError, match="a load balancer named 'llm-inference' already exists"):
        world.create_load_balancer("llm-inference", availability_zones=ZONES)
    with pytest.raises(LoadBalancerError, match="has no target group 'nope'"):
        balancer.send("nope", 1)
    with pytest.raises(LoadBalancerError, match="a request rate cannot be negative"):
        balancer.set_request_rate("llm-inference", -1)
