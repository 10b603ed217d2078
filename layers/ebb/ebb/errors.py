"""ebb's own exceptions.

Adapters turn the errors of the systems they talk to into these. Their class names are part of
ebb's interface: a Lambda task that raises one reports the class name as its `errorType`, and the
state machines' Retry and Catch clauses match on it. Renaming one is a breaking change.
"""

from __future__ import annotations


class EbbError(Exception):
    """Base of every error ebb raises on purpose."""


class ConfigError(EbbError):
    """The configuration is invalid; the message says where and what is allowed."""


class InvalidEvent(EbbError):
    """An incoming event or request does not have the expected shape. Never retried."""


class RetryableError(EbbError):
    """A transient failure of an outside system (throttling, 5xx); safe to retry with backoff."""
