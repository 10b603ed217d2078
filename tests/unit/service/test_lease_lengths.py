"""The leases a crashed holder leaves behind run out, and never while the holder can still act.

A lease only keeps others off safely if its holder cannot act after it has run out: Lambda stops
an invocation at its function's timeout (AWS Lambda Developer Guide, "Configure Lambda function
timeout", https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html: "Lambda runs
your code for a set amount of time before timing out"; the local world enforces it the same way,
ebb.local.lambda_runtime). So every function that claims a pool
(decide, a backfill's take-over; a lowering claim also holds the acting lease) times out before
CLAIM_LEASE ends, and the provisioning round, which acts under the acting lease, before
ACTING_LEASE ends. A crashed holder then blocks the pool for at most the lease.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ebb.local.template_yaml import load_template
from ebb.service.decide import CLAIM_LEASE
from ebb.service.provisioning import ACTING_LEASE

ROOT = Path(__file__).resolve().parents[3]


def _timeout(template: dict[str, Any], function: str) -> int:
    properties = template["Resources"][function]["Properties"]
    return int(properties.get("Timeout", template["Globals"]["Function"]["Timeout"]))


@pytest.mark.parametrize(
    ("function", "lease"),
    [
        ("DecideFunction", CLAIM_LEASE),
        ("BackfillFunction", CLAIM_LEASE),
        ("ProvisionRoundFunction", ACTING_LEASE),
    ],
)
def test_a_lease_outlasts_the_timeout_of_the_function_that_holds_it(function: str, lease: Any) -> None:
    template = load_template(ROOT / "template.yaml")
    assert _timeout(template, function) < lease.total_seconds()
