"""KEDA semantics: string metadata parsed into typed fields with KEDA's defaults and rules.

Sources (kedacore/keda):
- pkg/scalers/scalersconfig/typed_config.go (0fd70bdc): values trimmed, empty means absent,
  non-string fields decoded with Go's encoding/json; since c90e20f4 (setConfigValueHelper) a bool
  field is parsed with Go's strconv.ParseBool instead (Go documentation, strconv.ParseBool:
  "It accepts 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False").
- pkg/scalers/aws_sqs_queue_scaler.go: defaults queueLength 5, activationQueueLength 0,
  scaleOnInFlight true, scaleOnDelayed false; the attributes summed.
- pkg/scalers/aws_sqs_queue_scaler_test.go (10b51d5a): queue names ("s0-aws-sqs-DeleteArtifactQ",
  testAWSSimpleQueueURL "my-queue").
- pkg/scalers/aws_cloudwatch_scaler.go / _test.go (1d2225bf): defaults 300 / Average / 300 / 0 /
  true / 0; expression queries need no namespace; ';'-separated dimensions.
- apis/keda/v1alpha1/scaledobject_types.go and scaledobject_types_test.go (00489f48):
  TestGetHPAReplicas, TestNeedToBePausedByAnnotation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from pydantic import ValidationError

from ebb.config.keda_triggers import AwsCloudWatchMetadata, AwsSqsQueueMetadata
from ebb.config.keda_values import (
    parse_go_json_float,
    parse_go_json_int64,
    parse_keda_bool,
    parse_strconv_bool,
)
from ebb.config.model_base import collect_findings
from ebb.config.scaled_object import ScaledObject

SQS_URL = "https://sqs.eu-west-1.amazonaws.com/account_id/DeleteArtifactQ"


def _sqs(**metadata: str) -> AwsSqsQueueMetadata:
    return AwsSqsQueueMetadata.model_validate({"queueURL": SQS_URL, "awsRegion": "eu-west-1", **metadata})


def _cloudwatch(**metadata: str) -> AwsCloudWatchMetadata:
    base = {
        "namespace": "AWS/SQS",
        "metricName": "ApproximateNumberOfMessagesVisible",
        "dimensionName": "QueueName",
        "dimensionValue": "keda",
        "targetMetricValue": "2",
        "minMetricValue": "0",
        "awsRegion": "eu-west-1",
    }
    return AwsCloudWatchMetadata.model_validate({**base, **metadata})


def test_sqs_defaults_are_kedas() -> None:
    metadata = _sqs()
    assert (metadata.queue_length, metadata.activation_queue_length) == (5, 0)
    assert (metadata.scale_on_in_flight, metadata.scale_on_delayed) == (True, False)
    assert metadata.attribute_names == (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
    )


@pytest.mark.parametrize(
    ("flags", "attributes"),
    [
        ({"scaleOnInFlight": "false"}, ("ApproximateNumberOfMessages",)),
        (
            {"scaleOnDelayed": "true"},
            (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ),
        ),
    ],
)
def test_sqs_flags_choose_the_summed_attributes(flags: dict[str, str], attributes: tuple[str, ...]) -> None:
    assert _sqs(**flags).attribute_names == attributes


def test_empty_and_padded_values_read_as_kedas() -> None:
    # Empty means absent (the default applies); surrounding spaces are trimmed.
    metadata = _sqs(queueLength="", activationQueueLength=" 3 ")
    assert (metadata.queue_length, metadata.activation_queue_length) == (5, 3)


@pytest.mark.parametrize(
    ("queue_url", "name", "is_name"),
    [(SQS_URL, "DeleteArtifactQ", False), ("my-queue", "my-queue", True)],
)
def test_queue_name_comes_from_the_url_or_is_the_value(queue_url: str, name: str, is_name: bool) -> None:
    metadata = _sqs(queueURL=queue_url)
    assert (metadata.queue_name, metadata.queue_url_is_name) == (name, is_name)


@pytest.mark.parametrize(
    "url", ["https://sqs.eu-west-1.amazonaws.com/account_id", "https://sqs.eu-west-1.amazonaws.com"]
)
def test_a_url_without_account_and_queue_is_an_error(url: str) -> None:
    findings = list(collect_findings(_sqs(queueURL=url)))
    assert [(f.severity, f.path) for f in findings] == [("error", ("queueURL",))]


@pytest.mark.parametrize(
    ("text", "value"), [("5", 5), ("-1", -1), ("0", 0), ("9223372036854775807", 2**63 - 1)]
)
def test_int64_metadata_accepts_json_integers(text: str, value: int) -> None:
    assert parse_go_json_int64(text) == value


@pytest.mark.parametrize("text", ["a", "5.0", "+5", "05", "1e3", "9223372036854775808", "0x10"])
def test_int64_metadata_refuses_what_json_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="is not an integer"):
        parse_go_json_int64(text)


@pytest.mark.parametrize(("text", "value"), [("2", 2.0), ("0.5", 0.5), ("1e3", 1000.0), ("-1", -1.0)])
def test_float_metadata_accepts_json_numbers(text: str, value: float) -> None:
    assert parse_go_json_float(text) == value


@pytest.mark.parametrize("text", [".5", "NaN", "+1", "1.", "Inf", "0x1p3"])
def test_float_metadata_refuses_what_json_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        parse_go_json_float(text)


def test_a_float_beyond_float64_is_refused_as_go_refuses_it() -> None:
    # encoding/json answers "value out of range" for 1e400; Python's float() would give inf.
    with pytest.raises(ValueError, match="'1e400' is out of range for a 64-bit float"):
        parse_go_json_float("1e400")


@pytest.mark.parametrize(
    ("text", "value"),
    [(t, True) for t in ("1", "t", "T", "TRUE", "true", "True")]
    + [(f, False) for f in ("0", "f", "F", "FALSE", "false", "False")],
)
def test_bool_metadata_takes_every_strconv_parse_bool_spelling(text: str, value: bool) -> None:
    assert parse_keda_bool(text) is value


@pytest.mark.parametrize("text", ["yes", "on", "tRUE", "2", "maybe"])
def test_bool_metadata_refuses_what_parse_bool_refuses(text: str) -> None:
    allowed = "allowed: 1, t, T, TRUE, true, True or 0, f, F, FALSE, false, False$"
    with pytest.raises(ValueError, match=f"^'{text}' is not a boolean; {allowed}"):
        parse_keda_bool(text)


def test_trigger_flags_read_parse_bool_spellings() -> None:
    metadata = _sqs(scaleOnInFlight="False", scaleOnDelayed="1")
    assert (metadata.scale_on_in_flight, metadata.scale_on_delayed) == (False, True)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", True), ("t", True), ("TRUE", True), ("True", True), ("0", False), ("F", False), ("yes", None)],
)
def test_annotations_use_go_strconv_parse_bool(text: str, value: bool | None) -> None:
    assert parse_strconv_bool(text) is value


def test_cloudwatch_defaults_are_kedas() -> None:
    metadata = _cloudwatch()
    assert metadata.metric_collection_time == 300
    assert metadata.metric_stat == "Average"
    assert metadata.metric_stat_period == 300
    assert metadata.metric_end_time_offset == 0
    assert metadata.ignore_null_values is True
    assert metadata.activation_target_metric_value == 0
    assert list(collect_findings(metadata)) == []


def test_an_expression_needs_no_namespace_or_dimensions() -> None:
    metadata = AwsCloudWatchMetadata.model_validate(
        {
            "expression": "SELECT MIN(MessageCount) FROM \"AWS/AmazonMQ\" WHERE Broker = 'production'",
            "targetMetricValue": "2",
            "minMetricValue": "0",
            "awsRegion": "eu-west-1",
        }
    )
    assert list(collect_findings(metadata)) == []


def test_several_dimensions_are_separated_by_semicolons() -> None:
    metadata = _cloudwatch(dimensionName="QueueName;Region", dimensionValue="queue1; us-west-2")
    assert metadata.dimensions == (("QueueName", "queue1"), ("Region", "us-west-2"))


@pytest.mark.parametrize("period", ["1", "5", "10", "30", "60", "120", "300"])
def test_allowed_stat_periods(period: str) -> None:
    assert list(collect_findings(_cloudwatch(metricStatPeriod=period, metricCollectionTime="600"))) == []


def test_required_cloudwatch_parameters() -> None:
    with pytest.raises(ValidationError) as raised:
        AwsCloudWatchMetadata.model_validate({"awsRegion": "eu-west-1"})
    assert sorted(error["loc"][0] for error in raised.value.errors()) == [
        "minMetricValue",
        "targetMetricValue",
    ]


def _scaled_object(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> ScaledObject:
    return ScaledObject.model_validate(
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": "worker", "annotations": annotations or {}},
            "spec": {
                "scaleTargetRef": {"name": "worker"},
                "triggers": [
                    {"type": "aws-sqs-queue", "metadata": {"queueURL": SQS_URL, "awsRegion": "eu-west-1"}}
                ],
                **spec,
            },
        }
    )


def test_scaled_object_defaults_are_kedas() -> None:
    scaled = _scaled_object({})
    spec = scaled.spec
    assert (spec.polling_interval, spec.cooldown_period, spec.initial_cooldown_period) == (30, 300, 0)
    assert (spec.min_replicas, spec.max_replicas) == (0, 100)
    assert (spec.scale_target_ref.api_version, spec.scale_target_ref.kind) == ("apps/v1", "Deployment")
    assert scaled.namespace == "default"
    assert spec.scales_to_zero
    assert spec.triggers[0].metric_type == "AverageValue"


@pytest.mark.parametrize(
    ("bounds", "hpa_min", "hpa_max"),
    [
        ({}, 1, 100),
        ({"minReplicaCount": 5}, 5, 100),
        ({"maxReplicaCount": 10}, 1, 10),
        ({"minReplicaCount": 0}, 1, 100),
    ],
)
def test_hpa_bounds_follow_get_hpa_replicas(bounds: dict[str, int], hpa_min: int, hpa_max: int) -> None:
    spec = _scaled_object(bounds).spec
    assert (spec.hpa_min_replicas, spec.max_replicas) == (hpa_min, hpa_max)


@pytest.mark.parametrize(
    ("bounds", "to_zero"),
    [
        ({}, True),
        ({"minReplicaCount": 1}, False),
        (
            {"minReplicaCount": 1, "idleReplicaCount": 0},
            True,
        ),  # idle replicas replace the minimum when inactive
    ],
)
def test_which_targets_scale_to_zero(bounds: dict[str, int], to_zero: bool) -> None:
    assert _scaled_object(bounds).spec.scales_to_zero is to_zero


@pytest.mark.parametrize(
    ("annotations", "paused", "paused_replicas"),
    [
        ({}, False, None),
        ({"autoscaling.keda.sh/paused": "true"}, True, None),
        ({"autoscaling.keda.sh/paused": "false"}, False, None),
        ({"autoscaling.keda.sh/paused": "invalid"}, True, None),  # non-booleans count as true
        ({"autoscaling.keda.sh/paused-replicas": "5"}, False, 5),
    ],
)
def test_paused_annotations(annotations: dict[str, str], paused: bool, paused_replicas: int | None) -> None:
    scaled = _scaled_object({}, annotations)
    assert (scaled.paused, scaled.paused_replicas) == (paused, paused_replicas)


def test_a_non_boolean_paused_annotation_loads_with_a_note() -> None:
    findings = list(collect_findings(_scaled_object({}, {"autoscaling.keda.sh/paused": "invalid"})))
    assert [(f.severity, f.message) for f in findings] == [
        ("note", '\'invalid\' is not a boolean; like KEDA, ebb takes it as true (write "true" or "false")')
    ]


# --- awsAccountId: CloudWatch cross-account observability -----------------------------------------
# KEDA parses `awsAccountId` and sets it as the GetMetricData query's AccountId (kedacore/keda
# pull request #7237 "Add optional AWS Account ID to support CloudWatch cross-account
# observability", fixing #7189; documented by kedacore/keda-docs pull request #1650). The query's
# shape is checked against botocore's own cloudwatch service model, not against ebb.


def _get_metric_data_problems(query: object) -> str:
    model = botocore.session.get_session().get_service_model("cloudwatch")
    shape = model.operation_model("GetMetricData").input_shape
    request = {
        "MetricDataQueries": [query],
        "StartTime": datetime(2026, 1, 1, tzinfo=UTC),
        "EndTime": datetime(2026, 1, 1, 0, 5, tzinfo=UTC),
        "ScanBy": "TimestampDescending",
    }
    return str(ParamValidator().validate(request, shape).generate_report())


def test_aws_account_id_reaches_the_metric_stat_query() -> None:
    metadata = _cloudwatch(awsAccountId="210987654321", metricUnit="Count")

    query = metadata.metric_data_query("c1")

    assert query == {
        "Id": "c1",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": "keda"}],
            },
            "Period": 300,
            "Stat": "Average",
            "Unit": "Count",
        },
        "ReturnData": True,
        "AccountId": "210987654321",
    }
    assert _get_metric_data_problems(query) == ""
    assert list(collect_findings(metadata)) == []  # a parameter now, not an ignored key


def test_aws_account_id_reaches_an_expression_query() -> None:
    metadata = AwsCloudWatchMetadata.model_validate(
        {
            "expression": 'SELECT MAX(ApproximateNumberOfMessagesVisible) FROM "AWS/SQS"',
            "targetMetricValue": "2",
            "minMetricValue": "0",
            "awsRegion": "eu-west-1",
            "awsAccountId": " 210987654321 ",
        }
    )

    query = metadata.metric_data_query("q1")

    assert query == {
        "Id": "q1",
        "Expression": 'SELECT MAX(ApproximateNumberOfMessagesVisible) FROM "AWS/SQS"',
        "Period": 300,
        "AccountId": "210987654321",
    }
    assert _get_metric_data_problems(query) == ""


def test_without_an_account_the_query_names_none() -> None:
    query = _cloudwatch().metric_data_query("c1")

    assert "AccountId" not in query
    assert _get_metric_data_problems(query) == ""
