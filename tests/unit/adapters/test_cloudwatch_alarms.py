"""The alarms ebb owns, as the CloudWatch API takes them (moto, with botocore's parameter validation).

Sources: CloudWatch API Reference, PutMetricAlarm: `Statistic` is one of SampleCount, Average,
Sum, Minimum, Maximum and "for percentile statistics, use ExtendedStatistic"; botocore's
cloudwatch service model, shape `Statistic` (the same five) and `Namespace`/`MetricName` (length
at least 1). An `aws-cloudwatch` trigger's `metricStat` may be a percentile (KEDA
`pkg/scalers/aws_cloudwatch_scaler.go` passes it to GetMetricData as the query's `Stat`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from ebb.adapters.alarms import AlarmSpec, CloudWatchAlarms
from ebb.config import EbbConfig, load_config_files
from ebb.config.summary import summarize
from ebb.service.alarm_specs import alarm_specs
from ebb.service.signals import scaler_alarms

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "gpu-inference"
REGION = "us-east-1"


def _spec(statistic: str) -> AlarmSpec:
    return AlarmSpec(
        name=f"ebb.0123456789ab.latency-{statistic.lower()}",
        description="ebb: test",
        namespace="AWS/ApplicationELB",
        metric_name="TargetResponseTime",
        dimensions=(("LoadBalancer", "app/llm-inference/50dc6c495c0c9188"),),
        statistic=statistic,
        period=60,
        threshold=0.5,
        treat_missing_data="notBreaching",
    )


@pytest.fixture
def cloudwatch() -> Any:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


@pytest.mark.parametrize(
    ("statistic", "field", "absent"),
    [
        ("p99", "ExtendedStatistic", "Statistic"),
        ("p99.9", "ExtendedStatistic", "Statistic"),
        ("Maximum", "Statistic", "ExtendedStatistic"),
    ],
)
def test_a_percentile_goes_in_extended_statistic_and_a_standard_statistic_in_statistic(
    cloudwatch: Any, statistic: str, field: str, absent: str
) -> None:
    alarms = CloudWatchAlarms(region_name=REGION, client_factory=lambda: cloudwatch)
    spec = _spec(statistic)
    assert alarms.reconcile("ebb.", [spec]).created_or_updated == (spec.name,)
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[spec.name])["MetricAlarms"]
    assert alarm[field] == statistic
    assert absent not in alarm
    # What exists already is recognised: a second reconciliation changes nothing.
    assert alarms.reconcile("ebb.", [spec]).created_or_updated == ()


def _example_with(tmp_path: Path, trigger_metadata: dict[str, Any]) -> EbbConfig:
    """The shipped example with the LLM's first trigger's metadata replaced."""
    for source in EXAMPLE.glob("*.yaml"):
        documents = list(yaml.safe_load_all(source.read_text()))
        for document in documents:
            if document.get("kind") == "ScaledObject" and document["metadata"]["name"] == "llm-inference":
                trigger = document["spec"]["triggers"][0]
                trigger["metadata"] = {
                    "awsRegion": REGION,
                    "targetMetricValue": "300",
                    "minMetricValue": "0",
                    **trigger_metadata,
                }
        (tmp_path / source.name).write_text(yaml.safe_dump_all(documents))
    return load_config_files(sorted(tmp_path.glob("*.yaml")))


def test_a_trigger_given_as_an_expression_gets_no_alarm_and_validate_says_it_is_read_at_the_tick(
    cloudwatch: Any, tmp_path: Path
) -> None:
    """Before: its alarm was sent with an empty Namespace and MetricName, which botocore refuses,
    so the rollout of every alarm failed at every tick."""
    config = _example_with(
        tmp_path,
        {
            "expression": 'SELECT SUM(RequestCountPerTarget) FROM SCHEMA("AWS/ApplicationELB", TargetGroup)',
            "metricStatPeriod": "60",
            "metricCollectionTime": "300",
        },
    )
    specs = alarm_specs(config, "ebb")
    assert [spec.name for spec in specs] == sorted(scaler_alarms(config, "ebb"))
    assert not any(spec.name.endswith(".requests-per-target") for spec in specs)
    assert any(spec.name.endswith(".wake-on-503") for spec in specs)
    alarms = CloudWatchAlarms(region_name=REGION, client_factory=lambda: cloudwatch)
    assert alarms.reconcile("ebb.", specs).created_or_updated == tuple(spec.name for spec in specs)

    (llm,) = [s for s in summarize(config).scalers if s.name.endswith("llm-inference")]
    assert "(no alarm: read at the one-minute tick)" in llm.triggers[0].description


def test_a_percentile_trigger_is_rolled_out_as_an_extended_statistic_alarm(
    cloudwatch: Any, tmp_path: Path
) -> None:
    config = _example_with(
        tmp_path,
        {
            "namespace": "AWS/ApplicationELB",
            "metricName": "TargetResponseTime",
            "dimensionName": "LoadBalancer",
            "dimensionValue": "app/llm-inference/50dc6c495c0c9188",
            "metricStat": "p99",
            "metricStatPeriod": "60",
            "metricCollectionTime": "300",
        },
    )
    specs = alarm_specs(config, "ebb")
    alarms = CloudWatchAlarms(region_name=REGION, client_factory=lambda: cloudwatch)
    alarms.reconcile("ebb.", specs)
    (latency,) = [s for s in specs if s.name.endswith(".requests-per-target")]
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[latency.name])["MetricAlarms"]
    assert alarm["ExtendedStatistic"] == "p99"
