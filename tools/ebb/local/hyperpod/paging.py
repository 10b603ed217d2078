"""NextToken/MaxResults pagination of the stand-in's list operations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from ebb.local.hyperpod.errors import ApiError

_Item = TypeVar("_Item")

_PREFIX = "ebb-local-page-"


def _position(next_token: str) -> int:
    offset = next_token.removeprefix(_PREFIX)
    if not next_token.startswith(_PREFIX) or not offset.isdigit():
        raise ApiError("ValidationException", f"Invalid pagination token: {next_token}")
    return int(offset)


def page(
    items: Sequence[_Item], *, max_results: int | None, next_token: str | None, default_size: int
) -> tuple[list[_Item], str | None]:
    """The page `next_token` points at, and the token of the next page (None after the last)."""
    start = 0 if next_token is None else _position(next_token)
    size = max_results or default_size
    end = start + size
    return list(items[start:end]), (f"{_PREFIX}{end}" if end < len(items) else None)


def scan_page(
    items: Sequence[_Item],
    *,
    matches: Callable[[_Item], bool],
    descending: bool,
    max_results: int | None,
    next_token: str | None,
    default_size: int,
) -> tuple[list[_Item], str | None]:
    """A page of the `items` that match, newest first if `descending`.

    `items` must only ever grow at the end (an event log): the token is an absolute position, so
    a page costs what it returns plus what it skips, and a long history is read in linear time.
    A page may come back short, or empty, before the last token, as AWS list operations may.
    """
    if next_token is None:
        position = len(items) - 1 if descending else 0
    else:
        position = _position(next_token)
        if position >= len(items):
            raise ApiError("ValidationException", f"Invalid pagination token: {next_token}")
    step = -1 if descending else 1
    size = max_results or default_size
    shown: list[_Item] = []
    while 0 <= position < len(items) and len(shown) < size:
        if matches(items[position]):
            shown.append(items[position])
        position += step
    return shown, (f"{_PREFIX}{position}" if 0 <= position < len(items) else None)
