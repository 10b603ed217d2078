"""`scalerMetrics` on a scaler's ClusterBinding entry: off by default, a strict boolean."""

from __future__ import annotations

from typing import Any

from ebb.config import load_config_text


def test_scaler_metrics_are_off_unless_the_binding_entry_asks(docs: Any) -> None:
    docs.binding["spec"]["scalers"][1]["scalerMetrics"] = True  # batch/batch-worker
    config = load_config_text(docs.text())

    flags = {e.scaled_object.qualified_name: e.scaler_metrics for e in config.binding.spec.scalers}

    assert flags == {"serving/llm-inference": False, "batch/batch-worker": True}


def test_scaler_metrics_must_be_a_boolean(docs: Any) -> None:
    docs.binding["spec"]["scalers"][1]["scalerMetrics"] = "yes"
    result = docs.check()

    assert result.config is None
    assert [str(issue) for issue in result.errors] == [
        "config.yaml: document 2 (ClusterBinding gpu-inference): spec.scalers[1].scalerMetrics: "
        "must be true or false, got string 'yes'"
    ]
