"""The moto internals the local world patches are where it expects them, and are put back.

If a moto upgrade moves or reshapes any of them, these tests fail by name, before any scenario
silently runs moto's real threads, sleeps or echoing Lambda.
"""

from __future__ import annotations

import importlib.metadata
import threading
import time
from pathlib import Path

import pytest

from ebb.local import stepfunctions_driver
from ebb.local.errors import ClockMisuse, PinMismatch
from ebb.local.patches import PatchSet, PinnedAttribute
from ebb.local.world import LocalWorldConfig, start_local_world

from .world_testkit import TEMPLATE

pytestmark = pytest.mark.integration


def test_moto_is_the_pinned_release() -> None:
    assert importlib.metadata.version("moto") == "5.2.5"


def test_every_patched_attribute_of_the_interpreter_exists_with_its_signature() -> None:
    pins = stepfunctions_driver.pins()
    for pin in pins:
        pin.check()
    names = {f"{getattr(pin.owner, '__name__', '')}.{pin.attribute}" for pin in pins}
    assert {"RetrierDecl._eval_body", "LambdaSimpleBackend.invoke"} <= names
    assert len([pin for pin in pins if pin.attribute == "threading"]) == len(
        stepfunctions_driver.THREADING_MODULES
    )


def test_a_reshaped_or_missing_attribute_is_refused_by_name() -> None:
    class Target:
        def method(self, a: int) -> int:
            return a

    with pytest.raises(PinMismatch, match=r"Target\.method changed signature"):
        PinnedAttribute(Target, "method", "(self, a: int, b: int) -> int").check()
    with pytest.raises(PinMismatch, match=r"Target\.gone no longer exists"):
        PatchSet().replace(PinnedAttribute(Target, "gone"), None)


def test_the_world_puts_every_original_back_when_it_stops() -> None:
    from moto.events.models import Rule
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    def current() -> tuple[object, ...]:
        return (
            Rule.send_to_targets,
            StepFunctionsParserBackend.start_execution,
            vars(program)["threading"],
            vars(retrier_decl)["time"],
        )

    before = current()
    assert before[2:] == (threading, time)
    with start_local_world(TEMPLATE, LocalWorldConfig()):
        assert vars(program)["threading"] is not threading
        assert vars(retrier_decl)["time"] is not time
    assert current() == before


def test_only_one_world_runs_at_a_time(tmp_path: Path) -> None:
    with (
        start_local_world(TEMPLATE),
        pytest.raises(ClockMisuse, match="already running"),
        start_local_world(TEMPLATE),
    ):
        pass


def test_a_world_config_is_read_from_yaml_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "world.yaml"
    path.write_text("seed: 4\nstart_time: 2025-02-01T00:00:00Z\nparameters: {Stage: demo}\n")
    config = LocalWorldConfig.from_yaml(path)
    assert (config.seed, config.start_time.isoformat(), config.parameters) == (
        4,
        "2025-02-01T00:00:00+00:00",
        {"Stage": "demo"},
    )

    path.write_text("seed: 4\naccount_id: '12'\n")
    from ebb.local.errors import TemplateError

    with pytest.raises(TemplateError, match="account_id"):
        LocalWorldConfig.from_yaml(path)
