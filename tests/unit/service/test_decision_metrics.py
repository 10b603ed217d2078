"""The decide function's EMF metrics cost per pool, not per scaler: distinct series counted per
configuration size.

CloudWatch extracts one metric per name per dimension set of a directive ("Specification:
Embedded metric format", Amazon CloudWatch User Guide, https://docs.aws.amazon.com/AmazonCloudWatch/
latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html: `Dimensions` is an array of
DimensionSet arrays, each naming members of the root; `Timestamp` in milliseconds since the
epoch; the metric values are members of the root named in `Metrics`); each distinct namespace,
name and dimension values is a custom metric (Amazon CloudWatch pricing, "Custom metrics").
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ebb.service.decision_metrics import (
    POOL_METRICS,
    PoolFigures,
    ScalerFigures,
    metric_series,
    pool_documents,
    rejected_event_document,
)

AT = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def _tick(pools: int, scalers: int, opted: int = 0) -> list[dict[str, object]]:
    """One tick of a configuration of `pools` pools and `scalers` scalers spread over them, the
    first `opted` scalers with `scalerMetrics: true`: every pool decided once."""
    names = [f"ns{i % 7}/scaler-{i}" for i in range(scalers)]
    per_scaler = frozenset(names[:opted])
    documents: list[dict[str, object]] = []
    for p in range(pools):
        mine = tuple(ScalerFigures(n, current=1, desired=2) for i, n in enumerate(names) if i % pools == p)
        figures = PoolFigures(
            node_pool=f"pool-{p}",
            scalers=mine,
            current_nodes=1,
            desired_nodes=2,
            latency_ms=120.0,
            conflicts=0,
            calls=9,
            shortages=0,
            per_scaler=per_scaler,
        )
        documents.extend(pool_documents(figures, cluster="hp", namespace="ebb", at=AT))
    documents.append(rejected_event_document(cluster="hp", namespace="ebb", at=AT))
    return documents


@pytest.mark.parametrize(
    ("pools", "scalers", "expected"),
    [
        (1, 1, 8 * 2 + 1),
        (1, 50, 8 * 2 + 1),
        (10, 500, 8 * 11 + 1),
        (50, 5000, 8 * 51 + 1),
    ],
)
def test_series_grow_with_pools_not_with_scalers(pools: int, scalers: int, expected: int) -> None:
    assert len(POOL_METRICS) == 8
    # 8 per pool, 8 shared by the cluster, 1 for rejected events.
    assert len(metric_series(_tick(pools, scalers))) == expected


def test_a_scaler_that_asks_adds_two_series_and_only_it() -> None:
    base = metric_series(_tick(10, 500))
    opted = metric_series(_tick(10, 500, opted=3))

    added = opted - base
    assert base <= opted
    assert len(added) == 6
    assert {name for _, name, _ in added} == {"DesiredReplicas", "CurrentReplicas"}
    assert {dict(dims)["Scaler"] for _, _, dims in added} == {"ns0/scaler-0", "ns1/scaler-1", "ns2/scaler-2"}
    assert all([key for key, _ in dims] == ["Cluster", "NodePool", "Scaler"] for _, _, dims in added)


def test_a_pool_document_is_embedded_metric_format() -> None:
    figures = PoolFigures(
        node_pool="gpu",
        scalers=(ScalerFigures("batch/w", current=0, desired=4), ScalerFigures("serving/llm", 1, 1)),
        current_nodes=1,
        desired_nodes=2,
        latency_ms=431.5,
        conflicts=1,
        calls=14,
        shortages=2,
    )
    (document,) = pool_documents(figures, cluster="hp", namespace="ebb", at=AT)

    assert document == {
        "_aws": {
            "Timestamp": 1796310000000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "ebb",
                    "Dimensions": [["Cluster"], ["Cluster", "NodePool"]],
                    "Metrics": [
                        {"Name": "DesiredReplicas", "Unit": "Count"},
                        {"Name": "CurrentReplicas", "Unit": "Count"},
                        {"Name": "DesiredNodes", "Unit": "Count"},
                        {"Name": "CurrentNodes", "Unit": "Count"},
                        {"Name": "DecisionLatency", "Unit": "Milliseconds"},
                        {"Name": "AutoscalerConflicts", "Unit": "Count"},
                        {"Name": "CallsPerDecision", "Unit": "Count"},
                        {"Name": "Shortages", "Unit": "Count"},
                    ],
                }
            ],
        },
        "Cluster": "hp",
        "NodePool": "gpu",
        "DesiredReplicas": 5,
        "CurrentReplicas": 1,
        "DesiredNodes": 2,
        "CurrentNodes": 1,
        "DecisionLatency": 431.5,
        "AutoscalerConflicts": 1,
        "CallsPerDecision": 14,
        "Shortages": 2,
    }
