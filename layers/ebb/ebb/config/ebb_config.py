"""The validated configuration: one immutable object the rest of ebb reads."""

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from ebb.config.binding import ClusterBinding, InstanceGroupFacts, ScalerBinding
from ebb.config.catalogue import InstanceCatalogue
from ebb.config.issues import ConfigIssue
from ebb.config.node_class import HyperpodNodeClass
from ebb.config.node_pool import NodePool
from ebb.config.scaled_object import ScaledObject


class EbbConfig(BaseModel):
    """Every document of a valid configuration, cross-checked, plus the notes found while loading."""

    model_config = ConfigDict(frozen=True)

    binding: ClusterBinding
    scaled_objects: tuple[ScaledObject, ...]
    node_pools: tuple[NodePool, ...]
    node_classes: tuple[HyperpodNodeClass, ...]
    catalogue: InstanceCatalogue
    notes: tuple[ConfigIssue, ...] = ()

    def scaled_object(self, namespace: str, name: str) -> ScaledObject | None:
        """A ScaledObject by namespace and name."""
        return next((so for so in self.scaled_objects if so.namespace == namespace and so.name == name), None)

    def node_pool(self, name: str) -> NodePool | None:
        """A NodePool by name."""
        return next((pool for pool in self.node_pools if pool.name == name), None)

    def node_class(self, name: str) -> HyperpodNodeClass | None:
        """A HyperpodNodeClass by name."""
        return next((node_class for node_class in self.node_classes if node_class.name == name), None)

    def scaler_binding(self, scaled_object: ScaledObject) -> ScalerBinding:
        """The binding entry of a ScaledObject (every ScaledObject of a valid config has one)."""
        for entry in self.binding.spec.scalers:
            ref = entry.scaled_object
            if ref.namespace == scaled_object.namespace and ref.name == scaled_object.name:
                return entry
        raise KeyError(scaled_object.qualified_name)

    def node_pool_of(self, scaled_object: ScaledObject) -> NodePool:
        """The NodePool a ScaledObject's pods land on."""
        pool = self.node_pool(self.scaler_binding(scaled_object).node_pool)
        if pool is None:
            raise KeyError(scaled_object.qualified_name)
        return pool

    def scaled_objects_of(self, pool: NodePool) -> tuple[ScaledObject, ...]:
        """The ScaledObjects whose pods land on `pool`."""
        return tuple(so for so in self.scaled_objects if self.scaler_binding(so).node_pool == pool.name)

    def instance_group(self, name: str) -> InstanceGroupFacts | None:
        """The stated facts of an instance group."""
        return next((g for g in self.binding.spec.hyper_pod_cluster.instance_groups if g.name == name), None)

    def instance_groups_of(self, pool: NodePool) -> tuple[InstanceGroupFacts, ...]:
        """The instance groups a NodePool draws from, through its HyperpodNodeClass."""
        node_class = self.node_class(pool.node_class_name)
        if node_class is None:
            return ()
        return tuple(g for name in node_class.instance_groups if (g := self.instance_group(name)) is not None)

    def node_overhead(self) -> dict[str, Decimal]:
        """Per-node overhead (daemon sets) stated in the binding, as exact amounts."""
        return {name: quantity.value for name, quantity in self.binding.spec.node_overhead.items()}
