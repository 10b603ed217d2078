"""Read YAML text into documents: safe loading only, several documents per file, duplicate keys refused.

PyYAML's safe loader builds plain data (no Python objects). Kubernetes refuses a manifest that
repeats a key, where PyYAML would silently keep the last value, so a repeated key is an error here.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from yaml.nodes import MappingNode

from ebb.config.issues import DocumentRef, IssueLog
from ebb.config.raw_documents import RawDocument

__all__ = ["RawDocument", "read_documents"]


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


# libyaml's parser when PyYAML was built with it (it is, in the wheels), the pure-Python one otherwise;
# both construct with SafeConstructor, so only plain data is ever built.
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictSafeLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """A safe loader that refuses a key repeated in one mapping."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        if isinstance(node, MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, Hashable) and key in seen:
                    raise _DuplicateKey(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        mapping: dict[Hashable, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def read_documents(text: str, file: str, log: IssueLog) -> list[RawDocument]:
    """Parse every document of `text`; YAML errors go to `log`, empty documents are skipped."""
    documents: list[RawDocument] = []
    index = 0
    try:
        for body in yaml.load_all(text, Loader=_StrictSafeLoader):
            index += 1
            if body is None:
                continue
            documents.append(RawDocument(file=file, index=index, body=body))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        log.error(file, DocumentRef(index=index + 1), "", f"not valid YAML: {where}{error.problem}")
    except yaml.YAMLError as error:
        log.error(file, DocumentRef(index=index + 1), "", f"not valid YAML: {error}")
    return documents
