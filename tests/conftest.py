"""Suite-wide pytest configuration.

A test module that defines no tests is an error, not a silent pass: a file renamed by mistake,
or tests lost in a bad merge, would otherwise shrink the suite without anyone noticing.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest
from _pytest.reports import CollectReport


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, CollectReport, CollectReport]:
    report = yield
    if isinstance(collector, pytest.Module | pytest.Class) and report.passed and not report.result:
        report.outcome = "failed"
        report.longrepr = (
            f"{collector.nodeid}: defines no tests. Add tests or delete the module "
            "(an empty test module is refused so that lost tests cannot go unnoticed)."
        )
    return report
