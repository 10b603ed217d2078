"""A configuration document as read, before validation: from YAML, or from the bundle built from it.

Kept apart from :mod:`ebb.config.yaml_documents` so that a function reading the bundled JSON
(:mod:`ebb.config.bundle`) does not import PyYAML at its cold start.
"""

from dataclasses import dataclass
from typing import Any

from ebb.config.issues import DocumentRef


@dataclass(frozen=True)
class RawDocument:
    """One YAML document as parsed, with where it came from (1-based index within its file)."""

    file: str
    index: int
    body: Any

    @property
    def ref(self) -> DocumentRef:
        """The document's reference for messages (kind and name when it has them)."""
        kind = name = None
        if isinstance(self.body, dict):
            kind = self.body.get("kind") if isinstance(self.body.get("kind"), str) else None
            metadata = self.body.get("metadata")
            if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
                namespace = metadata.get("namespace")
                name = metadata["name"]
                if kind == "ScaledObject":
                    name = f"{namespace if isinstance(namespace, str) else 'default'}/{name}"
        return DocumentRef(index=self.index, kind=kind, name=name)
