"""The node core's statics are built once per configuration, not once per decision.

`decide_pool` reads them on every decision and the simulator makes 10^5 decisions in a run; a
configuration is immutable, so the same object answers until another configuration comes.
"""

from __future__ import annotations

from ebb.config import EbbConfig
from ebb.config.node_planning import pool_statics


def test_the_same_configuration_gets_the_same_statics_and_another_its_own(config: EbbConfig) -> None:
    first = pool_statics(config, "gpu")
    assert pool_statics(config, "gpu") is first
    changed = config.model_copy(
        update={"binding": config.binding.model_copy(update={"metadata": config.binding.metadata})}
    )
    other = pool_statics(changed, "gpu")
    assert other is not first
    assert other == first  # the same content, computed again for the other object
    assert pool_statics(config, "gpu") is not other
    assert pool_statics(config, "gpu") == first
