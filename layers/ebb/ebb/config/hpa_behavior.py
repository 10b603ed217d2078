"""HPA v2 `behavior` (`scaleUp` / `scaleDown`), with Kubernetes' validation and defaults.

Validation follows kubernetes/kubernetes pkg/apis/autoscaling/validation/validation.go
(`validateScalingRules`, `validateScalingPolicy`: window 0..3600 s, period 1..1800 s, value > 0,
at least one policy when `policies` is given); defaults follow pkg/apis/autoscaling/v2/defaults.go
(`GenerateHPAScaleUpRules`, `GenerateHPAScaleDownRules`). The scale-down stabilization window has
no API default; the controller's `--horizontal-pod-autoscaler-downscale-stabilization` (5 minutes)
applies, so it resolves to 300 s here.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, StrictInt

from ebb.config.model_base import Finding, ManifestModel, error_at
from ebb.config.quantity import NonNegativeQuantity, Quantity

MAX_STABILIZATION_WINDOW_SECONDS = 3600
MAX_PERIOD_SECONDS = 1800
CONTROLLER_DOWNSCALE_STABILIZATION_SECONDS = 300

SelectPolicy = Literal["Max", "Min", "Disabled"]
PolicyType = Literal["Pods", "Percent"]


class HpaScalingPolicy(ManifestModel):
    """One rate limit: at most `value` pods (or percent) per `periodSeconds`."""

    type: PolicyType
    value: Annotated[StrictInt, Field(gt=0, le=2**31 - 1)]  # an int32 in autoscaling/v2 HPAScalingPolicy
    period_seconds: Annotated[StrictInt, Field(gt=0, le=MAX_PERIOD_SECONDS)] = Field(alias="periodSeconds")


class HpaScalingRules(ManifestModel):
    """`scaleUp` or `scaleDown` as written; unset fields take Kubernetes' defaults when resolved."""

    stabilization_window_seconds: (
        Annotated[StrictInt, Field(ge=0, le=MAX_STABILIZATION_WINDOW_SECONDS)] | None
    ) = Field(None, alias="stabilizationWindowSeconds")
    select_policy: SelectPolicy | None = Field(None, alias="selectPolicy")
    policies: tuple[HpaScalingPolicy, ...] | None = None
    tolerance: NonNegativeQuantity | None = None

    def findings(self) -> Iterator[Finding]:
        if self.policies is not None and not self.policies:
            yield error_at(
                ("policies",), "must specify at least one Policy (or leave policies out for the defaults)"
            )


@dataclass(frozen=True)
class ScalingPolicy:
    """A resolved rate limit."""

    type: PolicyType
    value: int
    period_seconds: int


@dataclass(frozen=True)
class ScalingRules:
    """Resolved rules for one direction: every field set, as the HPA controller sees them."""

    stabilization_window_seconds: int
    select_policy: SelectPolicy
    policies: tuple[ScalingPolicy, ...]
    tolerance: Quantity | None


DEFAULT_SCALE_UP = ScalingRules(
    stabilization_window_seconds=0,
    select_policy="Max",
    policies=(ScalingPolicy("Pods", 4, 15), ScalingPolicy("Percent", 100, 15)),
    tolerance=None,
)
DEFAULT_SCALE_DOWN = ScalingRules(
    stabilization_window_seconds=CONTROLLER_DOWNSCALE_STABILIZATION_SECONDS,
    select_policy="Max",
    policies=(ScalingPolicy("Percent", 100, 15),),
    tolerance=None,
)


def _resolve(rules: HpaScalingRules | None, default: ScalingRules) -> ScalingRules:
    if rules is None:
        return default
    policies = default.policies
    if rules.policies:
        policies = tuple(ScalingPolicy(p.type, p.value, p.period_seconds) for p in rules.policies)
    return ScalingRules(
        stabilization_window_seconds=(
            default.stabilization_window_seconds
            if rules.stabilization_window_seconds is None
            else rules.stabilization_window_seconds
        ),
        select_policy=rules.select_policy or default.select_policy,
        policies=policies,
        tolerance=rules.tolerance,
    )


class HpaBehavior(ManifestModel):
    """`advanced.horizontalPodAutoscalerConfig.behavior`."""

    scale_up: HpaScalingRules | None = Field(None, alias="scaleUp")
    scale_down: HpaScalingRules | None = Field(None, alias="scaleDown")

    @property
    def resolved_scale_up(self) -> ScalingRules:
        """Scale-up rules with Kubernetes' defaults filled in."""
        return _resolve(self.scale_up, DEFAULT_SCALE_UP)

    @property
    def resolved_scale_down(self) -> ScalingRules:
        """Scale-down rules with Kubernetes' defaults filled in."""
        return _resolve(self.scale_down, DEFAULT_SCALE_DOWN)
