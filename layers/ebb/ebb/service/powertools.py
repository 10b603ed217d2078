"""Powertools for the handlers, from one place: Logger, Metrics, Tracer and the event parser.

Handlers import these and nothing else of Powertools, so every function logs, measures and
traces the same way (service name and metric namespace come from the template's environment).

The parser (`parse`, `SqsModel`) is imported on first use (PEP 562): only the decide function
parses its event with it, and its envelope models cost the other functions' cold starts ~50 ms
for nothing (`tests/unit/service/test_handler_imports.py` keeps it so).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.parser.models import SqsModel

logger = Logger()
metrics = Metrics()
tracer = Tracer()

_MODULES = {
    "parse": "aws_lambda_powertools.utilities.parser",
    "SqsModel": "aws_lambda_powertools.utilities.parser.models",
}


if not TYPE_CHECKING:  # for mypy, only the names imported above exist

    def __getattr__(name: str) -> Any:
        module = _MODULES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        globals()[name] = value  # later lookups skip this function
        return value


__all__ = ["LambdaContext", "MetricUnit", "SqsModel", "logger", "metrics", "parse", "tracer"]
