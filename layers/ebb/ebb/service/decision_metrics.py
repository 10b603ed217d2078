"""The decide function's EMF metrics: per NodePool and per cluster by default, per scaler when asked.

CloudWatch bills each distinct metric series (namespace, name, dimension values) as a custom
metric, so the series must grow with the pools of a configuration, not with its scalers. Each
pool decision writes one embedded-metric-format document whose directive names two dimension
sets, `[Cluster]` and `[Cluster, NodePool]` ("Specification: Embedded metric format", Amazon
CloudWatch User Guide: `Dimensions` is an array of DimensionSet arrays, each a series per
metric), so every pool shares the cluster's series and adds one of its own per metric. A
scaler's own replicas are written only for the scalers whose binding entry sets
`scalerMetrics: true`, under `[Cluster, NodePool, Scaler]`.

Gauges (replicas, nodes) are read with `Maximum` per pool; the `[Cluster]` series of a gauge holds
every pool's value of the minute, so its `Sum` is the cluster's total only for one decision per
pool a minute, and its `Maximum` is the largest pool's. Counts (conflicts, calls, shortages) add
up with `Sum` in either series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ebb.config import EbbConfig
    from ebb.service.decide import PoolOutcome

CLUSTER: Final = "Cluster"
NODE_POOL: Final = "NodePool"
SCALER: Final = "Scaler"

POOL_METRICS: Final = (
    ("DesiredReplicas", "Count"),
    ("CurrentReplicas", "Count"),
    ("DesiredNodes", "Count"),
    ("CurrentNodes", "Count"),
    ("DecisionLatency", "Milliseconds"),
    ("AutoscalerConflicts", "Count"),
    ("CallsPerDecision", "Count"),
    ("Shortages", "Count"),
)
"""Each pool decision's metrics, in `[Cluster]` and `[Cluster, NodePool]`."""
SCALER_METRICS: Final = (("DesiredReplicas", "Count"), ("CurrentReplicas", "Count"))
"""A scaler's metrics, in `[Cluster, NodePool, Scaler]`, only when its binding entry asks."""
REJECTED_EVENTS: Final = ("RejectedEvents", "Count")
"""The signals function's refusals, in `[Cluster]` (an unreadable event names no pool)."""


@dataclass(frozen=True, slots=True)
class ScalerFigures:
    """One scaler's replicas in a decision."""

    scaler: str
    current: int
    desired: int


@dataclass(frozen=True, slots=True)
class PoolFigures:
    """What one pool decision measured, as its metrics report it."""

    node_pool: str
    scalers: tuple[ScalerFigures, ...]
    current_nodes: int
    desired_nodes: int
    latency_ms: float
    conflicts: int
    calls: int
    shortages: int
    per_scaler: frozenset[str] = field(default_factory=frozenset)
    """The scalers (`namespace/name`) whose binding entry sets `scalerMetrics: true`."""


def pool_figures(outcome: PoolOutcome, config: EbbConfig, *, latency_ms: float) -> PoolFigures:
    """The figures of a decision the decide function carried out (or shadowed)."""
    decision = outcome.decision
    return PoolFigures(
        node_pool=outcome.node_pool,
        scalers=tuple(
            ScalerFigures(
                scaler=o.scaler,
                current=o.decision.explanation.current,
                desired=o.decision.explanation.desired,
            )
            for o in decision.scalers
        ),
        # Nodes the decision saw joined (ready, registered or not ready): the ones it remembers.
        current_nodes=len(decision.state.nodes),
        desired_nodes=sum(decision.node_targets.values()),
        latency_ms=latency_ms,
        conflicts=len(decision.held),
        calls=sum(outcome.calls.values()),
        shortages=sum(1 for entry in decision.state.unavailable.entries if decision.now < entry.until),
        per_scaler=frozenset(
            entry.scaled_object.qualified_name
            for entry in config.binding.spec.scalers
            if entry.scaler_metrics
        ),
    )


def pool_documents(
    figures: PoolFigures, *, cluster: str, namespace: str, at: datetime
) -> list[dict[str, Any]]:
    """The EMF documents of one pool decision: one for the pool, one per scaler that asked."""
    values = {
        "DesiredReplicas": sum(s.desired for s in figures.scalers),
        "CurrentReplicas": sum(s.current for s in figures.scalers),
        "DesiredNodes": figures.desired_nodes,
        "CurrentNodes": figures.current_nodes,
        "DecisionLatency": figures.latency_ms,
        "AutoscalerConflicts": figures.conflicts,
        "CallsPerDecision": figures.calls,
        "Shortages": figures.shortages,
    }
    documents = [
        emf_document(
            namespace,
            at,
            dimensions={CLUSTER: cluster, NODE_POOL: figures.node_pool},
            dimension_sets=((CLUSTER,), (CLUSTER, NODE_POOL)),
            metrics=[(name, unit, values[name]) for name, unit in POOL_METRICS],
        )
    ]
    for scaler in figures.scalers:
        if scaler.scaler not in figures.per_scaler:
            continue
        scaler_values = {"DesiredReplicas": scaler.desired, "CurrentReplicas": scaler.current}
        documents.append(
            emf_document(
                namespace,
                at,
                dimensions={CLUSTER: cluster, NODE_POOL: figures.node_pool, SCALER: scaler.scaler},
                dimension_sets=((CLUSTER, NODE_POOL, SCALER),),
                metrics=[(name, unit, scaler_values[name]) for name, unit in SCALER_METRICS],
            )
        )
    return documents


def rejected_event_document(*, cluster: str, namespace: str, at: datetime) -> dict[str, Any]:
    """The EMF document of one event the signals function refused."""
    name, unit = REJECTED_EVENTS
    return emf_document(
        namespace, at, dimensions={CLUSTER: cluster}, dimension_sets=((CLUSTER,),), metrics=[(name, unit, 1)]
    )


def emf_document(
    namespace: str,
    at: datetime,
    *,
    dimensions: Mapping[str, str],
    dimension_sets: Iterable[tuple[str, ...]],
    metrics: Iterable[tuple[str, str, float]],
) -> dict[str, Any]:
    """One EMF document: `_aws` metadata (millisecond timestamp, one directive) and the members
    the directive names, at the root."""
    listed = list(metrics)
    return {
        "_aws": {
            "Timestamp": int(at.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(s) for s in dimension_sets],
                    "Metrics": [{"Name": name, "Unit": unit} for name, unit, _ in listed],
                }
            ],
        },
        **dimensions,
        **{name: value for name, _, value in listed},
    }


def metric_series(
    documents: Iterable[Mapping[str, Any]],
) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """The distinct series (namespace, metric, dimension values) the documents make, as
    CloudWatch extracts them: one per metric per dimension set of each directive."""
    series: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                values = tuple((name, str(document[name])) for name in dimension_set)
                for metric in directive["Metrics"]:
                    series.add((directive["Namespace"], metric["Name"], values))
    return series
