"""The trace readers: the Azure LLM per-request CSV, per-interval count CSVs (the NASA shape), and
bad files, each rejected with the file, the line and what was expected."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from ebb.errors import EbbError
from ebb.traffic.traces import CountGap, CountTrace, RequestTrace, TraceError, read_trace

FIXTURES = Path(__file__).parent / "fixtures"


def write(tmp_path: Path, text: str, name: str = "trace.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_azure_llm_trace_reads_as_requests_with_tokens() -> None:
    """The rows are the first rows of Azure/AzurePublicDataset data/AzureLLMInferenceTrace_code.csv
    (commit 790921015d50dd6aae7f7e47f39ba0e235ad6b08): header TIMESTAMP,ContextTokens,GeneratedTokens,
    timestamps with 7 fractional digits."""
    trace = read_trace(FIXTURES / "azure_code_head.csv")
    assert isinstance(trace, RequestTrace)
    assert trace.start == datetime(2023, 11, 16, 18, 17, 3, 979960)
    assert trace.request_count == 7
    np.testing.assert_allclose(
        trace.arrivals, [0.0, 0.052, 0.0981890, 0.1406840, 0.4449940, 29.4790690, 183.0617910], atol=1e-9
    )
    assert trace.context_tokens is not None
    assert trace.generated_tokens is not None
    assert trace.context_tokens.tolist() == [4808, 3180, 110, 7433, 34, 1555, 2648]
    assert trace.generated_tokens.tolist() == [10, 8, 27, 14, 12, 19, 15]
    assert trace.duration_seconds == pytest.approx(183.0617910)
    # Minutes from the first arrival: six arrivals in minute 0, the seventh (183 s) in minute 3.
    assert trace.per_minute_counts().tolist() == [6.0, 0.0, 0.0, 1.0]
    assert trace.peak_per_minute() == 6.0


def test_seven_fractional_digits_keep_sub_microsecond_order(tmp_path: Path) -> None:
    trace = read_trace(
        write(tmp_path, "TIMESTAMP\n2023-11-16 18:17:05.2792720\n2023-11-16 18:17:05.2792721\n")
    )
    assert isinstance(trace, RequestTrace)
    assert trace.arrivals[1] == pytest.approx(1e-7, abs=1e-12)


def test_nasa_count_trace_detects_columns_interval_and_the_segment_gap() -> None:
    """The NASA file's shape: timestamp_local_edt,minute_index,requests; the index column is not
    mistaken for the count, the interval is detected as 60 s, and the gap between the July and
    August segments is filled with zero-request minutes and listed."""
    trace = read_trace(FIXTURES / "nasa_segment_boundary.csv")
    assert isinstance(trace, CountTrace)
    assert trace.interval_seconds == 60.0
    assert trace.start == datetime(1995, 7, 28, 13, 30)
    missing = 3 * 1440 + 10 * 60 + 29 - 1  # 13:31 on 28 Jul to 00:00 on 1 Aug, exclusive
    assert trace.gaps == (CountGap(line=4, missing_intervals=missing),)
    assert trace.counts.size == 5 + missing
    assert trace.counts[:2].tolist() == [75.0, 95.0]
    assert trace.counts[-3:].tolist() == [51.0, 42.0, 36.0]
    assert trace.counts[2:-3].sum() == 0.0
    assert trace.request_count == 75 + 95 + 51 + 42 + 36
    assert trace.duration_seconds == trace.counts.size * 60.0
    assert trace.peak_per_minute() == 95.0


def test_count_trace_with_named_columns_and_a_given_interval(tmp_path: Path) -> None:
    path = write(tmp_path, "when,a,b\n0,3,7\n30,4,8\n90,5,9\n")
    trace = read_trace(path, timestamp_column="when", count_column="b", interval_seconds=30)
    assert isinstance(trace, CountTrace)
    assert trace.counts.tolist() == [7.0, 8.0, 0.0, 9.0]
    assert trace.start == datetime(1970, 1, 1)  # numbers are seconds since the epoch
    # 30 s intervals sum exactly into minutes.
    assert trace.per_minute_counts().tolist() == [15.0, 9.0]


def test_count_trace_longer_interval_is_spread_over_its_minutes(tmp_path: Path) -> None:
    path = write(tmp_path, "time,hits\n2024-01-01 00:00,300\n2024-01-01 00:05,600\n")
    trace = read_trace(path)
    assert isinstance(trace, CountTrace)
    assert trace.interval_seconds == 300.0
    assert trace.per_minute_counts().tolist() == [60.0] * 5 + [120.0] * 5
    assert trace.peak_per_minute() == 120.0


def test_count_column_detected_by_content_when_no_name_fits(tmp_path: Path) -> None:
    path = write(tmp_path, "ts,row_id,value\n2024-01-01 00:00:00,1,4\n2024-01-01 00:00:10,2,6\n")
    trace = read_trace(path)
    assert isinstance(trace, CountTrace)
    assert trace.interval_seconds == 10.0
    assert trace.counts.tolist() == [4.0, 6.0]


def test_timestamp_only_file_is_a_request_trace_and_ties_are_allowed(tmp_path: Path) -> None:
    path = write(
        tmp_path, "arrival_time\n2024-01-01T00:00:00\n2024-01-01T00:00:00\n2024-01-01T00:01:30\n\n\n"
    )
    trace = read_trace(path)
    assert isinstance(trace, RequestTrace)
    assert trace.context_tokens is None
    assert trace.generated_tokens is None
    assert trace.arrivals.tolist() == [0.0, 0.0, 90.0]
    assert trace.per_minute_counts().tolist() == [2.0, 1.0]


def test_trace_error_is_an_ebb_error() -> None:
    assert issubclass(TraceError, EbbError)


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("", {}, r"trace\.csv, line 1: the file is empty; expected a header row"),
        ("\n\n", {}, r"line 1: the file is empty"),
        ("TIMESTAMP,ContextTokens,GeneratedTokens\n", {}, r"line 2: no data rows after the header"),
        (
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808\n",
            {},
            r"line 2: expected 3 fields \(TIMESTAMP,ContextTokens,GeneratedTokens\), found 2",
        ),
        (
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n"
            "2023-11-16 18:17:6x,3180,8\n",
            {},
            r"line 3: column TIMESTAMP: '2023-11-16 18:17:6x' is not a timestamp; expected a naive ISO 8601",
        ),
        (
            "TIMESTAMP\n2023-11-16 18:17:03\n\n2023-11-16 18:17:04\n",
            {},
            r"line 3: expected 1 fields \(TIMESTAMP\), found a blank line",
        ),
        (
            "TIMESTAMP,ContextTokens\n2023-11-16 18:17:03,1\n,2\n",
            {},
            r"line 3: column TIMESTAMP: '' is not a timestamp",
        ),
        (
            "TIMESTAMP\n2023-11-16 18:17:03+02:00\n",
            {},
            r"line 2: column TIMESTAMP: '2023-11-16 18:17:03\+02:00' is not a timestamp; expected a naive",
        ),
        (
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:04,1,1\n2023-11-16 18:17:03,1,1\n",
            {},
            r"line 3: timestamps go backwards \(earlier than line 2\); expected arrivals in time order",
        ),
        (
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:04,1,1\n2023-11-16 18:17:05,1.5,1\n",
            {},
            r"line 3: column ContextTokens: '1.5': expected a whole number",
        ),
        (
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:04,1,-3\n",
            {},
            r"line 2: column GeneratedTokens: '-3': expected a whole number >= 0",
        ),
        (
            "timestamp_local_edt,minute_index,requests\n1995-07-01 00:00,0,42\n1995-07-01 00:01,1,-1\n",
            {},
            r"line 3: column requests: '-1': expected a number >= 0",
        ),
        (
            "timestamp_local_edt,minute_index,requests\n1995-07-01 00:00,0,42\n1995-07-01 00:01,1,many\n",
            {},
            r"line 3: column requests: 'many' is not a number",
        ),
        (
            "timestamp_local_edt,minute_index,requests\n1995-07-01 00:01,0,42\n1995-07-01 00:00,1,1\n",
            {},
            r"line 3: column timestamp_local_edt: timestamps go backwards from line 2; expected one row per",
        ),
        (
            "timestamp_local_edt,minute_index,requests\n1995-07-01 00:01,0,42\n1995-07-01 00:01,1,1\n",
            {},
            r"line 3: column timestamp_local_edt: timestamps repeat line 2",
        ),
        (
            "time,requests\n1995-07-01 00:00,1\n1995-07-01 00:01,1\n"
            "1995-07-01 00:02,1\n1995-07-01 00:02:30,1\n",
            {},
            r"line 5: column time: 30 s after line 4, expected a whole number of 60 s intervals",
        ),
        (
            "time,requests\n1995-07-01 00:00,1\n",
            {},
            r"line 2: one row cannot show the interval; pass interval_seconds",
        ),
        (
            "start_time,end_time\n2024-01-01,2024-01-02\n",
            {},
            r"line 1: ambiguous timestamp columns \(start_time, end_time\)",
        ),
        ("a,b\n2024-01-01,2024-01-02\n", {}, r"line 2: ambiguous timestamp columns \(a, b\)"),
        ("a,b\nx,1\n", {}, r"line 1: no timestamp column among a, b; expected a column named like TIMESTAMP"),
        ("time,requests,count\n2024-01-01,1,2\n", {}, r"line 1: ambiguous count columns \(requests, count\)"),
        (
            "time,a,b\n2024-01-01,1,2\n",
            {},
            r"line 1: ambiguous count columns \(a, b\); name one with count_column",
        ),
        (
            "time,requests\n2024-01-01,1\n",
            {"count_column": "hits"},
            r"line 1: no column named 'hits'; the columns",
        ),
        ("time,x\n2024-01-01,1\n", {"timestamp_column": "when"}, r"line 1: no column named 'when'"),
        (
            "time,label\n2024-01-01,a\n",
            {"interval_seconds": 60},
            r"interval_seconds was given but no count column",
        ),
        ("time,time\n2024-01-01,1\n", {}, r"line 1: column names must be distinct and non-empty"),
    ],
)
def test_bad_files_name_the_line_and_what_was_expected(
    tmp_path: Path, text: str, kwargs: dict[str, object], message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TraceError, match=message) as raised:
        read_trace(path, **kwargs)  # type: ignore[arg-type]
    assert type(raised.value) is TraceError
    assert str(path) in str(raised.value)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r"absent\.csv: cannot be read \(No such file or directory\)"):
        read_trace(tmp_path / "absent.csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"TIMESTAMP\n\xff\xfe\n")
    with pytest.raises(TraceError, match=r"binary\.csv: is not UTF-8 text \(byte 10\); expected a CSV file"):
        read_trace(binary)


def test_two_months_per_minute_in_the_nasa_shape_read_whole(tmp_path: Path) -> None:
    """84,332 rows in the NASA file's shape (its read time is bench/bench_traffic.py's)."""
    minutes = np.arange(84_332)
    stamps = np.datetime64("1995-07-01T00:00") + minutes.astype("timedelta64[m]")
    lines = ["timestamp_local_edt,minute_index,requests"]
    lines += [
        f"{str(stamp).replace('T', ' ')},{index},{index % 409}"
        for index, stamp in zip(minutes, stamps, strict=True)
    ]
    path = write(tmp_path, "\n".join(lines) + "\n")
    trace = read_trace(path)
    assert isinstance(trace, CountTrace)
    assert trace.counts.size == 84_332
    assert trace.peak_per_minute() == 408.0
