"""A state table exported as `aws dynamodb scan --table-name T --output json` writes it, queried
as `ebb explain` queries a live table.

The file is `{"Items": [...], ...}` with each item in DynamoDB's attribute-value JSON (`{"pk":
{"S": ...}, ...}`); `ebb demo` writes one at its end (`.ebb/demo/audit.json`). `query` answers the
one request shape `ebb explain` makes (`pk = :pk AND sk >= :since`, in sort-key order, as DynamoDB
orders a partition's string sort keys: by their UTF-8 bytes), and refuses any other, so the two
cannot drift apart silently; a test compares it with moto's Query on the same items.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

EXPLAIN_CONDITION = "pk = :pk AND sk >= :since"


class ExportError(Exception):
    """The file is not a table export; the message names the file and what was expected."""


class ExportedTable:
    """The items of one exported table, with the Query `ebb explain` makes."""

    def __init__(self, items: list[dict[str, Any]], source: str) -> None:
        self.items = items
        self.source = source

    @classmethod
    def read(cls, path: Path) -> ExportedTable:
        """The export at `path`, or `ExportError` saying what is wrong with it."""
        expected = "expected the output of `aws dynamodb scan --table-name TABLE --output json`"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ExportError(f"{path}: cannot be read: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise ExportError(f"{path}: is not UTF-8 text; {expected}") from None
        except json.JSONDecodeError as error:
            raise ExportError(
                f"{path}: line {error.lineno} column {error.colno}: not JSON ({error.msg}); {expected}"
            ) from None
        if not isinstance(document, dict) or not isinstance(document.get("Items"), list):
            raise ExportError(f"{path}: has no list 'Items'; {expected}")
        for index, item in enumerate(document["Items"]):
            for key in ("pk", "sk"):
                if not isinstance(item, dict) or not isinstance(item.get(key), dict) or "S" not in item[key]:
                    raise ExportError(
                        f"{path}: Items[{index}] has no string attribute {key!r} "
                        f"(as {{{key!r}: {{'S': '...'}}}}); {expected} of ebb's state table"
                    )
        return cls(document["Items"], str(path))

    def newest_audit_time(self) -> datetime | None:
        """When the newest audit record was written (its sort key's time), if there is one."""
        times = [
            item["sk"]["S"].split("#", 1)[0] for item in self.items if item["pk"]["S"].startswith("AUDIT#")
        ]
        return datetime.fromisoformat(max(times)) if times else None

    def query(self, **request: Any) -> dict[str, Any]:
        """DynamoDB Query, for `ebb explain`'s request only; one page, in sort-key order."""
        if request.get("KeyConditionExpression") != EXPLAIN_CONDITION or "ExclusiveStartKey" in request:
            raise ExportError(f"{self.source}: answers only ebb explain's query ({EXPLAIN_CONDITION})")
        values = request["ExpressionAttributeValues"]
        pk, since = values[":pk"]["S"], values[":since"]["S"].encode()
        found = [item for item in self.items if item["pk"]["S"] == pk and item["sk"]["S"].encode() >= since]
        found.sort(key=lambda item: item["sk"]["S"].encode())
        return {"Items": found, "Count": len(found), "ScannedCount": len(found)}
