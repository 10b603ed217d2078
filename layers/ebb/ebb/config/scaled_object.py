"""KEDA `ScaledObject` (keda.sh/v1alpha1), with KEDA's defaults and admission rules.

Sources (kedacore/keda): apis/keda/v1alpha1/scaledobject_types.go (fields, defaults,
`CheckReplicaCountBoundsAreValid`, `CheckFallbackValid`, the paused annotations),
scaledobject_webhook.go (`verifyName`, duplicate targets) and scaletriggers_types.go
(`ValidateTriggers`: unique trigger names).
"""

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StrictBool, StrictStr

from ebb.config.hpa_behavior import HpaBehavior
from ebb.config.keda_triggers import ScaleTrigger
from ebb.config.keda_values import parse_strconv_bool, parse_strconv_int32
from ebb.config.model_base import (
    Finding,
    Int32,
    ManifestModel,
    NonEmpty,
    NonNegativeInt32,
    error_at,
    independent_rules,
    note_at,
)
from ebb.config.object_meta import ObjectMeta

PAUSED_ANNOTATION = "autoscaling.keda.sh/paused"
PAUSED_REPLICAS_ANNOTATION = "autoscaling.keda.sh/paused-replicas"
# KEDA's directional pauses and forced activation (keda.sh docs, "Pause autoscaling";
# kedacore/keda apis/keda/v1alpha1/scaledobject_types.go annotation constants).
PAUSED_SCALE_IN_ANNOTATION = "autoscaling.keda.sh/paused-scale-in"
PAUSED_SCALE_OUT_ANNOTATION = "autoscaling.keda.sh/paused-scale-out"
FORCE_ACTIVATION_ANNOTATION = "autoscaling.keda.sh/force-activation"
_BOOLEAN_ANNOTATIONS = (
    PAUSED_ANNOTATION,
    PAUSED_SCALE_IN_ANNOTATION,
    PAUSED_SCALE_OUT_ANNOTATION,
    FORCE_ACTIVATION_ANNOTATION,
)

DEFAULT_POLLING_INTERVAL = 30
DEFAULT_COOLDOWN_PERIOD = 300
DEFAULT_MAX_REPLICAS = 100
MAX_SCALED_OBJECT_NAME = 63  # used as a label value by KEDA (verifyName)

SUPPORTED_TARGETS = (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"))
_MULTI_NODE_API_GROUPS = ("leaderworkerset.x-k8s.io/",)
_MULTI_NODE_KINDS = frozenset({"LeaderWorkerSet"})

FallbackBehavior = Literal["static", "currentReplicas", "currentReplicasIfHigher", "currentReplicasIfLower"]


class ScaleTargetRef(ManifestModel):
    """The workload to scale; KEDA defaults it to an apps/v1 Deployment."""

    unused_fields: ClassVar[Mapping[str, str]] = {
        "envSourceContainerName": "ebb reads no container environment",
    }

    name: Annotated[StrictStr, Field(min_length=1)]
    api_version: StrictStr = Field("apps/v1", alias="apiVersion")
    kind: StrictStr = "Deployment"
    env_source_container_name: StrictStr | None = Field(None, alias="envSourceContainerName")

    def findings(self) -> Iterator[Finding]:
        if (self.api_version, self.kind) in SUPPORTED_TARGETS:
            return
        if self.kind in _MULTI_NODE_KINDS or self.api_version.startswith(_MULTI_NODE_API_GROUPS):
            yield error_at(
                ("kind",),
                f"{self.api_version} {self.kind} is refused: each of its replicas spans several nodes, and "
                "ebb does not yet plan such groups all-or-nothing; allowed: apps/v1 Deployment or apps/v1 "
                "StatefulSet",
            )
            return
        yield error_at(
            ("kind",),
            f"{self.api_version} {self.kind} is not supported; allowed: apps/v1 Deployment or apps/v1 "
            "StatefulSet",
        )


class Fallback(ManifestModel):
    """Replicas to hold while a trigger keeps failing."""

    failure_threshold: Int32 = Field(alias="failureThreshold")
    replicas: Int32
    behavior: FallbackBehavior = "static"


class HorizontalPodAutoscalerConfig(ManifestModel):
    """`advanced.horizontalPodAutoscalerConfig`."""

    unused_fields: ClassVar[Mapping[str, str]] = {
        "name": "ebb creates no HPA object, so the HPA name is not used",
    }

    behavior: HpaBehavior | None = None
    name: StrictStr | None = None


class ScalingModifiers(ManifestModel):
    """`advanced.scalingModifiers` (not supported by ebb)."""

    formula: StrictStr | None = None
    target: StrictStr | None = None
    activation_target: StrictStr | None = Field(None, alias="activationTarget")
    metric_type: StrictStr | None = Field(None, alias="metricType")

    @property
    def is_set(self) -> bool:
        """KEDA's `IsUsingModifiers`: any field set."""
        return any(value for value in (self.formula, self.target, self.activation_target, self.metric_type))


class AdvancedConfig(ManifestModel):
    """`spec.advanced`."""

    unused_fields: ClassVar[Mapping[str, str]] = {
        "restoreToOriginalReplicaCount": "applies when a ScaledObject is deleted; ebb never deletes one",
    }

    horizontal_pod_autoscaler_config: HorizontalPodAutoscalerConfig | None = Field(
        None, alias="horizontalPodAutoscalerConfig"
    )
    restore_to_original_replica_count: StrictBool = Field(False, alias="restoreToOriginalReplicaCount")
    scaling_modifiers: ScalingModifiers | None = Field(None, alias="scalingModifiers")

    def findings(self) -> Iterator[Finding]:
        if self.scaling_modifiers is not None and self.scaling_modifiers.is_set:
            yield error_at(
                ("scalingModifiers",),
                "not supported: ebb computes replicas per trigger and takes the largest, as the HPA does; "
                "remove scalingModifiers",
            )

    @property
    def behavior(self) -> HpaBehavior | None:
        """The HPA behavior, if one is given."""
        config = self.horizontal_pod_autoscaler_config
        return None if config is None else config.behavior


class ScaledObjectSpec(ManifestModel):
    """`spec` of a ScaledObject; optional counts keep None so KEDA's bound rules can tell unset from 0."""

    scale_target_ref: ScaleTargetRef = Field(alias="scaleTargetRef")
    polling_interval: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] = Field(
        DEFAULT_POLLING_INTERVAL, alias="pollingInterval"
    )
    initial_cooldown_period: NonNegativeInt32 = Field(0, alias="initialCooldownPeriod")
    cooldown_period: NonNegativeInt32 = Field(DEFAULT_COOLDOWN_PERIOD, alias="cooldownPeriod")
    idle_replica_count: NonNegativeInt32 | None = Field(None, alias="idleReplicaCount")
    min_replica_count: NonNegativeInt32 | None = Field(None, alias="minReplicaCount")
    max_replica_count: NonNegativeInt32 | None = Field(None, alias="maxReplicaCount")
    advanced: AdvancedConfig | None = None
    triggers: Annotated[tuple[ScaleTrigger, ...], NonEmpty]
    fallback: Fallback | None = None

    @property
    def min_replicas(self) -> int:
        """`minReplicaCount`, default 0."""
        return self.min_replica_count or 0

    @property
    def max_replicas(self) -> int:
        """`maxReplicaCount`, default 100."""
        return DEFAULT_MAX_REPLICAS if self.max_replica_count is None else self.max_replica_count

    @property
    def hpa_min_replicas(self) -> int:
        """The minimum of the HPA KEDA would create: `minReplicaCount` if positive, else 1."""
        return self.min_replica_count if self.min_replica_count else 1

    @property
    def scales_to_zero(self) -> bool:
        """Whether the target goes to zero replicas when inactive.

        KEDA sets `idleReplicaCount` when it is given, `minReplicaCount` otherwise.
        """
        if self.idle_replica_count is not None:
            return self.idle_replica_count == 0
        return self.min_replicas == 0

    def findings(self) -> Iterator[Finding]:
        # Each rule on its own: a field that failed to parse hides only the rules that read it.
        yield from independent_rules(
            self._max_replicas_rule,
            self._replica_bounds_rule,
            self._idle_replicas_rule,
            self._fallback_counts_rule,
            self._fallback_target_type_rule,
            self._trigger_names_rule,
        )

    def _trigger_names_rule(self) -> Iterator[Finding]:
        seen: dict[str, int] = {}
        for index, trigger in enumerate(self.triggers):
            if trigger.name is None:
                continue
            if trigger.name in seen:
                yield error_at(
                    ("triggers", index, "name"),
                    f"triggerName {trigger.name!r} is defined multiple times in the ScaledObject, but it "
                    f"must be unique (first at triggers[{seen[trigger.name]}])",
                )
            seen.setdefault(trigger.name, index)

    def _max_replicas_rule(self) -> Iterator[Finding]:
        if self.max_replica_count == 0:
            # KEDA passes maxReplicaCount to its HPA, and the API server refuses maxReplicas < 1
            # (kubernetes pkg/apis/autoscaling/validation/validation.go, validateHorizontalPodAutoscalerSpec).
            yield error_at(
                ("maxReplicaCount",),
                "must be greater than 0: it is the HPA's maxReplicas, which the API server requires to be at "
                "least 1",
            )

    @property
    def _keda_min_replicas(self) -> int:
        # KEDA's CheckReplicaCountBoundsAreValid: a set minReplicaCount of 0 counts as 1 (the HPA
        # minimum), an unset one as 0.
        return 0 if self.min_replica_count is None else self.hpa_min_replicas

    def _replica_bounds_rule(self) -> Iterator[Finding]:
        # KEDA's CheckReplicaCountBoundsAreValid, messages included.
        low = self._keda_min_replicas
        if low > self.max_replicas:
            yield error_at(
                ("minReplicaCount",),
                f"MinReplicaCount={low} must be less than MaxReplicaCount={self.max_replicas}",
            )

    def _idle_replicas_rule(self) -> Iterator[Finding]:
        low = self._keda_min_replicas
        if self.idle_replica_count is not None and self.idle_replica_count >= low:
            yield error_at(
                ("idleReplicaCount",),
                f"IdleReplicaCount={self.idle_replica_count} must be less than MinReplicaCount={low}",
            )

    def _fallback_counts_rule(self) -> Iterator[Finding]:
        # KEDA's CheckFallbackValid.
        if self.fallback is None:
            return
        if self.fallback.failure_threshold < 0 or self.fallback.replicas < 0:
            yield error_at(
                ("fallback",),
                f"FailureThreshold={self.fallback.failure_threshold} & Replicas={self.fallback.replicas} "
                "must both be greater than or equal to 0",
            )

    def _fallback_target_type_rule(self) -> Iterator[Finding]:
        if self.fallback is None:
            return
        if not any(trigger.metric_type == "AverageValue" for trigger in self.triggers):
            yield error_at(
                ("fallback",),
                "at least one trigger (that is not cpu or memory) has to have the `AverageValue` type for "
                "the fallback to be enabled",
            )


class ScaledObject(ManifestModel):
    """A KEDA ScaledObject document."""

    unused_fields: ClassVar[Mapping[str, str]] = {"status": "written by KEDA; ebb ignores it"}

    api_version: Literal["keda.sh/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["ScaledObject"]
    metadata: ObjectMeta
    spec: ScaledObjectSpec
    status: Any = None

    @property
    def name(self) -> str:
        """The ScaledObject's name."""
        return self.metadata.name

    @property
    def namespace(self) -> str:
        """The ScaledObject's namespace."""
        return self.metadata.namespace

    @property
    def qualified_name(self) -> str:
        """`namespace/name`."""
        return f"{self.metadata.namespace}/{self.metadata.name}"

    @property
    def paused(self) -> bool:
        """KEDA's `autoscaling.keda.sh/paused`: any value that is not a Go boolean counts as true."""
        return self._bool_annotation(PAUSED_ANNOTATION)

    @property
    def paused_scale_in(self) -> bool:
        """KEDA's `autoscaling.keda.sh/paused-scale-in`, read like `paused`."""
        return self._bool_annotation(PAUSED_SCALE_IN_ANNOTATION)

    @property
    def paused_scale_out(self) -> bool:
        """KEDA's `autoscaling.keda.sh/paused-scale-out`, read like `paused`."""
        return self._bool_annotation(PAUSED_SCALE_OUT_ANNOTATION)

    @property
    def force_activation(self) -> bool:
        """KEDA's `autoscaling.keda.sh/force-activation`, read like `paused`."""
        return self._bool_annotation(FORCE_ACTIVATION_ANNOTATION)

    @property
    def paused_replicas(self) -> int | None:
        """Replicas to hold while paused (`autoscaling.keda.sh/paused-replicas`), or None."""
        text = self.metadata.annotations.get(PAUSED_REPLICAS_ANNOTATION)
        if text is None:
            return None
        try:
            return parse_strconv_int32(text)
        except ValueError:
            return None

    def _bool_annotation(self, key: str) -> bool:
        text = self.metadata.annotations.get(key)
        if text is None:
            return False
        parsed = parse_strconv_bool(text)
        return True if parsed is None else parsed

    def findings(self) -> Iterator[Finding]:
        yield from independent_rules(
            self._name_rule, self._paused_replicas_rule, self._boolean_annotations_rule
        )

    def _name_rule(self) -> Iterator[Finding]:
        if len(self.metadata.name) > MAX_SCALED_OBJECT_NAME:
            yield error_at(
                ("metadata", "name"),
                f"scaledobject name {self.metadata.name!r} is {len(self.metadata.name)} characters long; "
                f"must be no more than {MAX_SCALED_OBJECT_NAME} characters",
            )

    def _paused_replicas_rule(self) -> Iterator[Finding]:
        annotations = ("metadata", "annotations")
        replicas_text = self.metadata.annotations.get(PAUSED_REPLICAS_ANNOTATION)
        if replicas_text is not None:
            try:
                if parse_strconv_int32(replicas_text) < 0:
                    yield error_at(
                        (*annotations, PAUSED_REPLICAS_ANNOTATION), f"must be >= 0, got {replicas_text}"
                    )
            except ValueError:
                yield error_at(
                    (*annotations, PAUSED_REPLICAS_ANNOTATION),
                    f'{replicas_text!r} is not a replica count; allowed: a whole number such as "0"',
                )

    def _boolean_annotations_rule(self) -> Iterator[Finding]:
        annotations = ("metadata", "annotations")
        for key in _BOOLEAN_ANNOTATIONS:
            text = self.metadata.annotations.get(key)
            if text is not None and parse_strconv_bool(text) is None:
                yield note_at(
                    (*annotations, key),
                    f'{text!r} is not a boolean; like KEDA, ebb takes it as true (write "true" or "false")',
                )
