"""A loaded configuration is immutable, so its translation for the cores is made once per object.

The decision step translates every scaler's policy and pod spec on every decision, and
`ebb simulate` makes about 10^5 decisions in a run: the translation is cached per configuration
object (as `pool_statics` already was), and a new configuration object is translated afresh.
"""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from ebb.config import EbbConfig, ScaledObject, load_config_text, node_planning, replica_policy


def _scaled_object(config: EbbConfig) -> ScaledObject:
    found = config.scaled_object("serving", "llm-inference")
    assert found is not None
    return found


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_a_pod_spec_is_translated_once_per_configuration(docs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    translated = _counting(monkeypatch, node_planning, "pod_requests")
    config = load_config_text(docs.text())
    scaled_object = _scaled_object(config)
    groups = [node_planning.pod_group(config, scaled_object, replicas) for replicas in (0, 3, 7)]
    assert [g.replicas for g in groups] == [0, 3, 7]
    assert groups[1] == groups[0].model_copy(update={"replicas": 3})
    assert len(translated) == 1
    # Another configuration object (a reload) is translated afresh, to the same group.
    again = load_config_text(docs.text())
    assert node_planning.pod_group(again, _scaled_object(again), 3) == groups[1]
    assert len(translated) == 2


def test_a_cached_pod_group_still_refuses_negative_replicas(docs: Any) -> None:
    config = load_config_text(docs.text())
    scaled_object = _scaled_object(config)
    node_planning.pod_group(config, scaled_object, 1)
    with pytest.raises(pydantic.ValidationError, match="greater than or equal to 0"):
        node_planning.pod_group(config, scaled_object, -1)


def test_a_scaler_policy_is_translated_once_per_configuration(
    docs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    translated = _counting(monkeypatch, replica_policy, "_behavior")
    config = load_config_text(docs.text())
    first = replica_policy.scaler_policy(config, _scaled_object(config))
    assert replica_policy.scaler_policy(config, _scaled_object(config)) is first
    assert len(translated) == 1
    again = load_config_text(docs.text())
    assert replica_policy.scaler_policy(again, _scaled_object(again)) == first
    assert len(translated) == 2
