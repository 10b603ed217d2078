"""The base of the replica core's input models: immutable, unknown fields refused."""

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    """An immutable pydantic model that refuses fields it does not declare."""

    model_config = ConfigDict(frozen=True, extra="forbid")
