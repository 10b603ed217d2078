"""Trace files: one row per request, or counts per interval.

Two shapes of CSV (comma separated, one header row, UTF-8) are read:

- a request trace, one row per request: a timestamp column (the arrival) and optionally token
  columns (`ContextTokens`, `GeneratedTokens`; also `InputTokens`/`PromptTokens` and
  `OutputTokens`/`CompletionTokens`). The Azure LLM inference traces are this shape.
- a count trace, one row per interval: a timestamp column (the interval's start) and a count
  column (requests in the interval). The interval is the most common step between consecutive
  timestamps, or `interval_seconds`; an interval missing from the file counts zero requests and is
  listed in `CountTrace.gaps`. The NASA per-minute trace is this shape.

Timestamps are naive ISO 8601 (`2023-11-16 18:17:03.9799600`, `1995-07-01 00:00`; any number of
fractional digits up to nanoseconds), or plain numbers meaning seconds since the Unix epoch.

Columns are found by name, then by content: the timestamp column is the one whose name contains
"time" or "date" (else the one column whose first value is a date-time); a file with token
columns is a request trace; otherwise the one column named like a count ("count", "requests",
"arrivals", "hits", ...) makes it a count trace, and failing a name, the one numeric column that is
not an index (a name containing "index", or "id"). Two candidates for either role are ambiguous:
name the column with `timestamp_column` / `count_column`. A file with no count column at all is a
request trace.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ebb.errors import EbbError

SECONDS_PER_MINUTE = 60.0
_NS_PER_SECOND = 1_000_000_000
# Off-grid tolerance for count-trace timestamps: a millisecond absorbs rounding in files written
# with fractional seconds without letting a genuinely shifted row through.
_GRID_TOLERANCE_NS = 1_000_000

_CONTEXT_TOKEN_NAMES = frozenset({"contexttokens", "inputtokens", "prompttokens"})
_GENERATED_TOKEN_NAMES = frozenset({"generatedtokens", "outputtokens", "completiontokens"})
_TIMESTAMP_NAME = re.compile(r"time|date|^ts$")
_COUNT_NAME = re.compile(r"count|requests?$|^reqs$|arrivals|hits|calls|^n$")
_INDEX_NAME = re.compile(r"index|^id$|_id$")
# numpy reads "1" as the year 1, so a column is taken for timestamps by its content only when its
# first value starts like a calendar date.
_DATE_LIKE = re.compile(r"\s*\d{4}-\d{2}-\d{2}")


class TraceError(EbbError):
    """A trace file cannot be read; the message names the file, the line and what was expected."""


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True, eq=False)
class RequestTrace:
    """One arrival per request.

    `arrivals` are seconds from the first arrival (so `arrivals[0] == 0`), non-decreasing; `start`
    is the first arrival's absolute time as written in the file (naive). Token arrays are aligned
    with `arrivals`, or None when the file has no such column.
    """

    path: str
    start: datetime
    arrivals: NDArray[np.float64]
    context_tokens: NDArray[np.int64] | None
    generated_tokens: NDArray[np.int64] | None

    @property
    def request_count(self) -> int:
        return int(self.arrivals.size)

    @property
    def duration_seconds(self) -> float:
        """From the first arrival to the last."""
        return float(self.arrivals[-1]) if self.arrivals.size else 0.0

    def per_minute_counts(self) -> NDArray[np.float64]:
        """Arrivals in each minute [60 m, 60 (m + 1)) from the first arrival."""
        minutes = np.floor(self.arrivals / SECONDS_PER_MINUTE).astype(np.int64)
        length = int(self.duration_seconds // SECONDS_PER_MINUTE) + 1
        return np.bincount(minutes, minlength=length).astype(np.float64)

    def peak_per_minute(self) -> float:
        return float(self.per_minute_counts().max())


class CountGap(NamedTuple):
    """Intervals absent from a count trace, filled with zero requests."""

    line: int  # the file line of the row right after the gap
    missing_intervals: int


@dataclass(frozen=True, eq=False)
class CountTrace:
    """Requests counted per interval.

    `counts[i]` is the number of requests in [start + i * interval, start + (i + 1) * interval);
    intervals absent from the file are zeros, listed in `gaps`. Counts may be fractional after
    scaling, never negative.
    """

    path: str
    start: datetime
    interval_seconds: float
    counts: NDArray[np.float64]
    gaps: tuple[CountGap, ...] = ()

    @property
    def request_count(self) -> float:
        return float(self.counts.sum())

    @property
    def duration_seconds(self) -> float:
        return float(self.counts.size * self.interval_seconds)

    def per_minute_counts(self) -> NDArray[np.float64]:
        """Requests in each minute from `start`.

        An interval's requests are spread uniformly over it (the queueing model's assumption), so
        an interval that divides a minute sums exactly and a longer one is shared pro rata.
        """
        edges = np.arange(self.counts.size + 1, dtype=np.float64) * self.interval_seconds
        cumulative = np.concatenate(([0.0], np.cumsum(self.counts)))
        minutes = int(np.ceil(self.duration_seconds / SECONDS_PER_MINUTE - 1e-9))
        minute_edges = np.arange(minutes + 1, dtype=np.float64) * SECONDS_PER_MINUTE
        return np.diff(np.interp(minute_edges, edges, cumulative))

    def peak_per_minute(self) -> float:
        return float(self.per_minute_counts().max())


Trace = RequestTrace | CountTrace


def read_trace(
    path: str | Path,
    *,
    timestamp_column: str | None = None,
    count_column: str | None = None,
    interval_seconds: float | None = None,
) -> RequestTrace | CountTrace:
    """Read a request trace or a count trace (see the module docstring); raise TraceError."""
    source = Path(path)
    header, rows = _read_rows(source)
    where = str(source)
    ts_index = _timestamp_column(where, header, rows, timestamp_column)
    context_index = _named_column(header, _CONTEXT_TOKEN_NAMES)
    generated_index = _named_column(header, _GENERATED_TOKEN_NAMES)
    if count_column is not None:
        count_index: int | None = _column_by_name(where, header, count_column)
    elif context_index is not None or generated_index is not None:
        count_index = None
    else:
        count_index = _detected_count_column(where, header, rows, ts_index)
    columns = list(zip(*rows, strict=True))
    lines = range(2, len(rows) + 2)  # the header is line 1 and _read_rows refuses blank lines
    ts_name = header[ts_index]
    stamps_ns, start = _parse_timestamps(where, ts_name, columns[ts_index], lines)
    if count_index is None:
        if interval_seconds is not None:
            raise TraceError(
                f"{where}, line 1: interval_seconds was given but no count column was found among "
                f"{', '.join(header)}; name it with count_column"
            )
        return _request_trace(
            where=where,
            header=header,
            columns=columns,
            lines=lines,
            stamps_ns=stamps_ns,
            start=start,
            context_index=context_index,
            generated_index=generated_index,
        )
    counts = _parse_numbers(where, header[count_index], columns[count_index], lines, integer=False)
    return _count_trace(
        where=where,
        column=ts_name,
        stamps_ns=stamps_ns,
        start=start,
        counts=counts,
        lines=lines,
        interval_seconds=interval_seconds,
    )


def _read_rows(source: Path) -> tuple[list[str], list[list[str]]]:
    where = str(source)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise TraceError(f"{where}: cannot be read ({error.strerror})") from error
    except UnicodeDecodeError as error:
        raise TraceError(f"{where}: is not UTF-8 text (byte {error.start}); expected a CSV file") from error
    records = list(csv.reader(io.StringIO(text)))
    # Trailing blank lines are common in hand-edited files; a blank line inside the data is not.
    while records and not records[-1]:
        records.pop()
    if not records:
        raise TraceError(f"{where}, line 1: the file is empty; expected a header row such as TIMESTAMP,...")
    header = [name.strip() for name in records[0]]
    if len(set(header)) != len(header) or "" in header:
        raise TraceError(
            f"{where}, line 1: column names must be distinct and non-empty, found {','.join(header)}"
        )
    rows = records[1:]
    if not rows:
        raise TraceError(f"{where}, line 2: no data rows after the header; expected at least one row")
    width = len(header)
    for line, row in enumerate(rows, start=2):
        if len(row) != width:
            found = "a blank line" if not row else f"{len(row)} fields"
            raise TraceError(
                f"{where}, line {line}: expected {width} fields ({','.join(header)}), found {found}"
            )
    return header, rows


def _column_by_name(where: str, header: list[str], name: str) -> int:
    if name not in header:
        raise TraceError(f"{where}, line 1: no column named {name!r}; the columns are {', '.join(header)}")
    return header.index(name)


def _named_column(header: list[str], names: frozenset[str]) -> int | None:
    found = [index for index, name in enumerate(header) if _normalized(name) in names]
    return found[0] if found else None


def _is_timestamp(value: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return not np.isnat(np.datetime64(value.strip(), "ns"))
    except (ValueError, UserWarning):
        return False


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _timestamp_column(where: str, header: list[str], rows: list[list[str]], given: str | None) -> int:
    if given is not None:
        return _column_by_name(where, header, given)
    by_name = [index for index, name in enumerate(header) if _TIMESTAMP_NAME.search(name.lower())]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        names = ", ".join(header[index] for index in by_name)
        raise TraceError(
            f"{where}, line 1: ambiguous timestamp columns ({names}); name one with timestamp_column"
        )
    first = rows[0]
    by_content = [
        index for index, value in enumerate(first) if _DATE_LIKE.match(value) and _is_timestamp(value)
    ]
    if len(by_content) == 1:
        return by_content[0]
    if len(by_content) > 1:
        names = ", ".join(header[index] for index in by_content)
        raise TraceError(
            f"{where}, line 2: ambiguous timestamp columns ({names}); name one with timestamp_column"
        )
    raise TraceError(
        f"{where}, line 1: no timestamp column among {', '.join(header)}; expected a column named like "
        "TIMESTAMP or holding ISO 8601 date-times (or name it with timestamp_column)"
    )


def _detected_count_column(where: str, header: list[str], rows: list[list[str]], ts_index: int) -> int | None:
    others = [index for index in range(len(header)) if index != ts_index]
    by_name = [index for index in others if _COUNT_NAME.search(_normalized(header[index]))]
    if len(by_name) > 1:
        names = ", ".join(header[index] for index in by_name)
        raise TraceError(f"{where}, line 1: ambiguous count columns ({names}); name one with count_column")
    if by_name:
        return by_name[0]
    sample = rows[:100]
    by_content = [
        index
        for index in others
        if not _INDEX_NAME.search(header[index].lower()) and all(_is_number(row[index]) for row in sample)
    ]
    if len(by_content) > 1:
        names = ", ".join(header[index] for index in by_content)
        raise TraceError(f"{where}, line 1: ambiguous count columns ({names}); name one with count_column")
    return by_content[0] if by_content else None


def _parse_timestamps(
    where: str, column: str, values: tuple[str, ...], lines: Sequence[int]
) -> tuple[NDArray[np.int64], datetime]:
    """Nanoseconds from the first row, and the first row's absolute time."""
    if _is_number(values[0]):
        seconds = _parse_numbers(where, column, values, lines, integer=False, allow_negative=True)
        stamps = np.round(seconds * _NS_PER_SECOND).astype(np.int64)
        start = datetime(1970, 1, 1) + timedelta(seconds=float(seconds[0]))
        return stamps - stamps[0], start
    try:
        with warnings.catch_warnings():
            # numpy warns (and then guesses UTC) on a time zone suffix; a naive file is expected.
            warnings.simplefilter("error")
            try:
                parsed = np.array(values, dtype="datetime64[ns]")
            except ValueError:
                # Stripping every value costs a tenth of the read; only files that need it pay.
                parsed = np.array([value.strip() for value in values], dtype="datetime64[ns]")
        bad = np.flatnonzero(np.isnat(parsed))
    except (ValueError, UserWarning):
        bad = np.array([index for index, value in enumerate(values) if not _is_timestamp(value)])
    if bad.size:
        index = int(bad[0])
        raise TraceError(
            f"{where}, line {lines[index]}: column {column}: {values[index]!r} is not a timestamp; "
            "expected a naive ISO 8601 date-time such as 2023-11-16 18:17:03.9799600, "
            "or seconds since the epoch"
        )
    stamps = parsed.astype(np.int64)
    start = parsed[0].astype("datetime64[us]").item()
    return stamps - stamps[0], start


def _parse_numbers(
    where: str,
    column: str,
    values: tuple[str, ...],
    lines: Sequence[int],
    *,
    integer: bool,
    allow_negative: bool = False,
) -> NDArray[np.float64]:
    kind = "a whole number" if integer else "a number"
    try:
        numbers = np.array(values, dtype=np.float64)
    except ValueError:
        index = next(index for index, value in enumerate(values) if not _is_number(value))
        raise TraceError(
            f"{where}, line {lines[index]}: column {column}: {values[index]!r} is not {kind}"
        ) from None
    finite = np.isfinite(numbers)
    checks: list[tuple[NDArray[np.bool_], str]] = [(~finite, f"expected {kind}")]
    if not allow_negative:
        checks.append((numbers < 0, f"expected {kind} >= 0"))
    if integer:
        checks.append((finite & (numbers != np.floor(numbers)), f"expected {kind}"))
    for failing, expected in checks:
        bad = np.flatnonzero(failing)
        if bad.size:
            index = int(bad[0])
            raise TraceError(f"{where}, line {lines[index]}: column {column}: {values[index]!r}: {expected}")
    return numbers


def _request_trace(
    *,
    where: str,
    header: list[str],
    columns: list[tuple[str, ...]],
    lines: Sequence[int],
    stamps_ns: NDArray[np.int64],
    start: datetime,
    context_index: int | None,
    generated_index: int | None,
) -> RequestTrace:
    backwards = np.flatnonzero(np.diff(stamps_ns) < 0)
    if backwards.size:
        index = int(backwards[0]) + 1
        raise TraceError(
            f"{where}, line {lines[index]}: timestamps go backwards (earlier than line {lines[index - 1]}); "
            "expected arrivals in time order"
        )

    def tokens(index: int | None) -> NDArray[np.int64] | None:
        if index is None:
            return None
        return _parse_numbers(where, header[index], columns[index], lines, integer=True).astype(np.int64)

    return RequestTrace(
        path=where,
        start=start,
        arrivals=stamps_ns.astype(np.float64) / _NS_PER_SECOND,
        context_tokens=tokens(context_index),
        generated_tokens=tokens(generated_index),
    )


def _count_trace(
    *,
    where: str,
    column: str,
    stamps_ns: NDArray[np.int64],
    start: datetime,
    counts: NDArray[np.float64],
    lines: Sequence[int],
    interval_seconds: float | None,
) -> CountTrace:
    steps = np.diff(stamps_ns)
    not_after = np.flatnonzero(steps <= 0)
    if not_after.size:
        index = int(not_after[0]) + 1
        how = "repeat" if steps[index - 1] == 0 else "go backwards from"
        raise TraceError(
            f"{where}, line {lines[index]}: column {column}: timestamps {how} line {lines[index - 1]}; "
            "expected one row per interval in time order"
        )
    if interval_seconds is not None:
        if not interval_seconds > 0:
            raise TraceError(f"{where}: interval_seconds must be > 0, got {interval_seconds}")
        interval_ns = round(interval_seconds * _NS_PER_SECOND)
    elif steps.size:
        values, occurrences = np.unique(steps, return_counts=True)
        interval_ns = int(values[int(np.argmax(occurrences))])  # argmax takes the smallest on a tie
    else:
        raise TraceError(
            f"{where}, line 2: one row cannot show the interval; "
            "pass interval_seconds for a one-row count trace"
        )
    whole = np.rint(steps / interval_ns).astype(np.int64)
    off_grid = np.flatnonzero((whole < 1) | (np.abs(steps - whole * interval_ns) > _GRID_TOLERANCE_NS))
    if off_grid.size:
        index = int(off_grid[0]) + 1
        raise TraceError(
            f"{where}, line {lines[index]}: column {column}: {steps[index - 1] / _NS_PER_SECOND:g} s after "
            f"line {lines[index - 1]}, "
            f"expected a whole number of {interval_ns / _NS_PER_SECOND:g} s intervals"
        )
    positions = np.concatenate(([0], np.cumsum(whole)))
    filled = np.zeros(int(positions[-1]) + 1, dtype=np.float64)
    filled[positions] = counts
    gaps = tuple(
        CountGap(lines[int(index) + 1], int(whole[index]) - 1) for index in np.flatnonzero(whole > 1)
    )
    return CountTrace(
        path=where, start=start, interval_seconds=interval_ns / _NS_PER_SECOND, counts=filled, gaps=gaps
    )
