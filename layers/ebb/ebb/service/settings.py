"""The functions' environment, as one model parsed once per container (at import of a handler).

Every variable is set by `template.yaml`; a missing or malformed one fails the container's
initialisation with the variable's name, before any event is handled.
"""

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ebb.errors import ConfigError

_VARIABLES = {
    "stack_name": "EBB_STACK_NAME",
    "region": "AWS_REGION",
    "state_table": "EBB_STATE_TABLE",
    "hyperpod_cluster": "EBB_HYPERPOD_CLUSTER",
    "eks_cluster": "EBB_EKS_CLUSTER",
    "config_dir": "EBB_CONFIG_DIR",
    "audit_retention_days": "EBB_AUDIT_RETENTION_DAYS",
    "decision_queue_url": "EBB_DECISION_QUEUE_URL",
    "rejected_events_queue_url": "EBB_REJECTED_EVENTS_QUEUE_URL",
    "poll_queue_url": "EBB_POLL_QUEUE_URL",
    "provision_state_machine_arn": "EBB_PROVISION_STATE_MACHINE_ARN",
    "signals_function_arn": "EBB_SIGNALS_FUNCTION_ARN",
    "scheduler_role_arn": "EBB_SCHEDULER_ROLE_ARN",
    "schedule_group": "EBB_SCHEDULE_GROUP",
}


class Settings(BaseModel):
    """What every ebb function is configured with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stack_name: str = Field(min_length=1)
    region: str = Field(min_length=1)
    state_table: str = Field(min_length=1)
    hyperpod_cluster: str = Field(min_length=1)
    eks_cluster: str = Field(min_length=1)
    config_dir: Path
    audit_retention_days: int = Field(30, ge=1, le=365)
    decision_queue_url: str = Field(min_length=1)
    rejected_events_queue_url: str = Field(min_length=1)
    poll_queue_url: str = Field(min_length=1)
    provision_state_machine_arn: str = Field(min_length=1)
    signals_function_arn: str = Field(min_length=1)
    scheduler_role_arn: str = Field(min_length=1)
    schedule_group: str = Field(min_length=1)

    @property
    def audit_retention(self) -> timedelta:
        """How long audit records are kept."""
        return timedelta(days=self.audit_retention_days)

    @property
    def alarm_prefix(self) -> str:
        """Every alarm ebb owns is named `<stack>-...`."""
        return self.stack_name

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "Settings":
        """Read the settings from `environ`; errors name the variable."""
        values = {field: environ[name] for field, name in _VARIABLES.items() if name in environ}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"{_VARIABLES.get(str(issue['loc'][0]), issue['loc'][0])}: {issue['msg']}"
                for issue in error.errors()
            )
            raise ConfigError(f"the function's environment is incomplete: {problems}") from None
