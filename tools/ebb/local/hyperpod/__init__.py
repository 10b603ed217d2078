"""A local SageMaker HyperPod for the local world: moto's SageMaker plus the HyperPod operations it
lacks, with nodes that launch, boot, fail for capacity, retry and recover on a simulated clock.

    world = ManualWorld(seed=7)             # or the local runtime's clock and bus
    hyperpod = LocalHyperPod(world)
    install(hyperpod)                        # explicit: importing patches nothing
    ...                                      # boto3 "sagemaker" calls under mock_aws reach it
    uninstall()

`hyperpod.add_node_observer(callback)` tells `callback` of each node transition (`NodeTransition`).
"""

from ebb.local.hyperpod.moto_patch import check_pins, install, installed, uninstall
from ebb.local.hyperpod.standin import LocalHyperPod
from ebb.local.hyperpod.state import Timings
from ebb.local.hyperpod.transitions import NodeChange, NodeObserver, NodeTransition
from ebb.local.hyperpod.world import ManualWorld, StandInWorld

__all__ = [
    "LocalHyperPod",
    "ManualWorld",
    "NodeChange",
    "NodeObserver",
    "NodeTransition",
    "StandInWorld",
    "Timings",
    "check_pins",
    "install",
    "installed",
    "uninstall",
]
