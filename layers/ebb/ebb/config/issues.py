"""Configuration problems as values: where each one is, what is wrong, what is allowed.

Validation never stops at the first problem. Every check adds a `ConfigIssue` (an error, or a
note for something valid that ebb does not use) and the loader raises one
`ConfigValidationError` carrying all of them, so a user fixes a file in one pass.
"""

from collections.abc import Iterable, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from ebb.errors import ConfigError

PathPart = str | int
FieldPath = tuple[PathPart, ...]


class Severity(StrEnum):
    """An error makes the configuration unusable; a note only informs."""

    ERROR = "error"
    NOTE = "note"


def render_path(path: Sequence[PathPart]) -> str:
    """Render a field path the way Kubernetes does: `spec.triggers[0].metadata.queueLength`."""
    rendered = ""
    for part in path:
        if isinstance(part, int):
            rendered += f"[{part}]"
        elif rendered:
            rendered += f".{part}"
        else:
            rendered = part
    return rendered


class DocumentRef(BaseModel):
    """Which YAML document an issue belongs to: its position in the file and its kind and name."""

    model_config = ConfigDict(frozen=True)

    index: int
    kind: str | None = None
    name: str | None = None

    def describe(self) -> str:
        """`document 2 (ScaledObject serving/llm)`, or just `document 2` when kind/name are unknown."""
        label = " ".join(part for part in (self.kind, self.name) if part)
        return f"document {self.index} ({label})" if label else f"document {self.index}"


class ConfigIssue(BaseModel):
    """One problem (or note) in the configuration, located by file, document and field path."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    file: str
    document: DocumentRef | None
    path: str
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.document is not None:
            where.append(self.document.describe())
        if self.path:
            where.append(self.path)
        return f"{': '.join(where)}: {self.message}"


class ConfigValidationError(ConfigError):
    """The configuration has errors; `issues` lists every one of them (notes included)."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        super().__init__(str(self))

    @property
    def errors(self) -> tuple[ConfigIssue, ...]:
        """The issues that make the configuration invalid."""
        return tuple(issue for issue in self.issues if issue.severity is Severity.ERROR)

    @property
    def notes(self) -> tuple[ConfigIssue, ...]:
        """Valid but unused input, reported for information."""
        return tuple(issue for issue in self.issues if issue.severity is Severity.NOTE)

    def __str__(self) -> str:
        errors = self.errors
        noun = "error" if len(errors) == 1 else "errors"
        lines = [f"invalid configuration ({len(errors)} {noun}):"]
        lines.extend(f"  {issue}" for issue in errors)
        return "\n".join(lines)


class IssueLog:
    """Collects issues while a configuration is read; the loader turns it into a result or an error."""

    def __init__(self) -> None:
        self._issues: list[ConfigIssue] = []

    def add(
        self,
        severity: Severity,
        file: str,
        document: DocumentRef | None,
        path: Sequence[PathPart] | str,
        message: str,
    ) -> None:
        """Record one issue; `path` may be given as parts or already rendered."""
        rendered = path if isinstance(path, str) else render_path(path)
        self._issues.append(
            ConfigIssue(severity=severity, file=file, document=document, path=rendered, message=message)
        )

    def error(
        self, file: str, document: DocumentRef | None, path: Sequence[PathPart] | str, message: str
    ) -> None:
        """Record an error."""
        self.add(Severity.ERROR, file, document, path, message)

    def note(
        self, file: str, document: DocumentRef | None, path: Sequence[PathPart] | str, message: str
    ) -> None:
        """Record a note."""
        self.add(Severity.NOTE, file, document, path, message)

    @property
    def issues(self) -> tuple[ConfigIssue, ...]:
        """Everything recorded so far, in order."""
        return tuple(self._issues)

    @property
    def has_errors(self) -> bool:
        """Whether any recorded issue is an error."""
        return any(issue.severity is Severity.ERROR for issue in self._issues)
