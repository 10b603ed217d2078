"""Every policy is billed each node at its offering's price, the one the planner chooses by.

The offering's price is the binding group's `usdPerHour`, else the catalogue's `zoneUsdPerHour`
for the group's zone, else the type's on-demand price (`ebb.config.node_planning.instance_group`,
`InstanceGroup.node_price`). The configuration here is the comparison's example with one group
of each kind:

| group | price source | $/h |
|---|---|---|
| g5-4gpu-use1a | binding `usdPerHour` 6.00 (over a catalogue zone price of 99.00) | 6.00 |
| g5-4gpu-use1b | catalogue `zoneUsdPerHour` for us-east-1b | 6.50 |
| g5-8gpu-use1a | catalogue on-demand price of ml.g5.48xlarge | 20.36 |
| g5-8gpu-use1b | catalogue `zoneUsdPerHour` for us-east-1b | 10.00 |
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ebb.config import EbbConfig
from ebb.config.catalogue import shipped_catalogue
from ebb.sim.simulator.cluster import LAUNCH_SECONDS
from ebb.sim.simulator.comparison import load_calibrated
from ebb.sim.simulator.run import POLICIES, run_policy
from ebb.sim.simulator.world import Demand, RunSettings, group_specs, the_scaled_object

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "simulate-comparison"
TARGET = 768.0  # the comparison's calibration for 0.5 s requests, as conftest's `config`
DemandOf = Callable[[list[float]], Demand]
PRICES = {"g5-4gpu-use1a": 6.00, "g5-4gpu-use1b": 6.50, "g5-8gpu-use1a": 20.36, "g5-8gpu-use1b": 10.00}


def _catalogue_entry(name: str, zone_prices: dict[str, float]) -> dict[str, Any]:
    spec = shipped_catalogue().get(name)
    assert spec is not None
    entry = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    entry["zoneUsdPerHour"] = zone_prices
    return entry


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> EbbConfig:
    directory: Path = tmp_path_factory.mktemp("priced")
    for path in sorted(EXAMPLE.glob("*.yaml")):
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        for document in documents:
            if document["kind"] != "ClusterBinding":
                continue
            groups = document["spec"]["hyperPodCluster"]["instanceGroups"]
            next(g for g in groups if g["name"] == "g5-4gpu-use1a")["usdPerHour"] = 6.00
            document["spec"]["instanceCatalogue"] = {
                "instanceTypes": [
                    _catalogue_entry("ml.g5.12xlarge", {"us-east-1a": 99.00, "us-east-1b": 6.50}),
                    _catalogue_entry("ml.g5.48xlarge", {"us-east-1b": 10.00}),
                ]
            }
        (directory / path.name).write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    return load_calibrated(directory, TARGET)


def test_each_group_is_priced_by_its_offering(priced: EbbConfig) -> None:
    pool, scaled_object = the_scaled_object(priced)
    assert {g.name: g.price_per_hour for g in group_specs(priced, pool, scaled_object)} == PRICES


def test_the_example_without_prices_of_its_own_bills_the_on_demand_list(config: EbbConfig) -> None:
    pool, scaled_object = the_scaled_object(config)
    prices = {g.name: g.price_per_hour for g in group_specs(config, pool, scaled_object)}
    assert prices == {
        "g5-4gpu-use1a": 7.09,
        "g5-4gpu-use1b": 7.09,
        "g5-8gpu-use1a": 20.36,
        "g5-8gpu-use1b": 20.36,
    }


@pytest.mark.parametrize(
    ("peak", "group", "price"),
    [
        # 3 pods: one 4-GPU node; the binding's $6.00 in us-east-1a beats us-east-1b's $6.50
        # (and the catalogue's $99.00 zone price in us-east-1a does not apply to that group).
        (3, "g5-4gpu-use1a", 6.00),
        # 6 pods: one 8-GPU node in us-east-1b at its zone price ($10.00) beats two 4-GPU nodes
        # ($12.00) and the 8-GPU on-demand price in us-east-1a ($20.36).
        (6, "g5-8gpu-use1b", 10.00),
    ],
)
def test_static_pays_the_offering_it_chose_for_the_whole_window(
    priced: EbbConfig, demand: DemandOf, peak: int, group: str, price: float
) -> None:
    report = run_policy("static", priced, demand([1, peak, 2, 0, 1]), RunSettings(boot_delay=60.0, seed=1))
    # Window: lead ceil((60 x 1.2 + 60) / 60) = 3 min, 5 trace minutes, tail 300 s + 5m = 10 min;
    # the node is launched 5 s after the start.
    billed = (3 + 5 + 10) * 60.0 - LAUNCH_SECONDS
    assert report.node_launches == 1
    assert report.node_hours_by_group == pytest.approx({group: billed / 3600})
    assert report.cost == pytest.approx(price * billed / 3600)


def test_the_oracle_prices_gpus_at_the_cheapest_offering(priced: EbbConfig, demand: DemandOf) -> None:
    # Per GPU: $1.50 (4-GPU at $6.00), $1.625, $2.545, $1.25 (8-GPU in us-east-1b at $10.00).
    report = run_policy("oracle", priced, demand([0, 4, 4, 0]), RunSettings(boot_delay=100.0, seed=3))
    lead = 100.0 * 1.2 + 60.0
    assert report.cost == pytest.approx(4 * (lead + 120) / 3600 * 10.00 / 8)


@pytest.mark.parametrize("policy", [p for p in POLICIES if p not in ("oracle",)])
def test_every_policy_pays_each_node_hour_at_its_groups_offering_price(
    priced: EbbConfig, demand: DemandOf, policy: str
) -> None:
    pods = [0, 3, 9, 14, 14, 6, 2, 0, 0, 5, 11, 4, 1]
    report = run_policy(policy, priced, demand(pods), RunSettings(boot_delay=90.0, seed=4))
    hours = report.node_hours_by_group
    assert hours, "the run launched no node"
    assert set(hours) <= set(PRICES)
    assert sum(hours.values()) == pytest.approx(report.node_hours)
    assert report.cost == pytest.approx(sum(PRICES[g] * h for g, h in hours.items()))
    # The planners choose by the same prices: nothing goes to the on-demand-priced 8-GPU group
    # while the same node costs half as much in the other zone.
    assert "g5-8gpu-use1a" not in hours
