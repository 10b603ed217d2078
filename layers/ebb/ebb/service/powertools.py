"""Powertools for the handlers, from one place: Logger, Metrics, Tracer and the event parser.

Handlers import these and nothing else of Powertools, so every function logs, measures and
traces the same way (service name and metric namespace come from the template's environment).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SqsModel
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
tracer = Tracer()

__all__ = ["LambdaContext", "MetricUnit", "SqsModel", "logger", "metrics", "parse", "tracer"]
