"""`ebb.config` exports its names lazily (PEP 562); each is the defining module's object."""

from __future__ import annotations

import importlib

import pytest

import ebb.config
import ebb.service.powertools


@pytest.mark.parametrize("name", ebb.config.__all__)
def test_every_exported_name_is_the_object_of_its_module(name: str) -> None:
    module = importlib.import_module(ebb.config._MODULES[name])
    assert getattr(ebb.config, name) is getattr(module, name)


def test_the_lazy_names_are_exactly_the_exported_ones() -> None:
    assert sorted(ebb.config._MODULES) == sorted(ebb.config.__all__)
    assert dir(ebb.config) == sorted(ebb.config.__all__)


def test_from_import_of_an_exported_name_works() -> None:
    from ebb.config import EbbConfig, load_config_files, summarize

    assert (EbbConfig.__name__, load_config_files.__name__, summarize.__name__) == (
        "EbbConfig",
        "load_config_files",
        "summarize",
    )


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match=r"module 'ebb\.config' has no attribute 'NoSuchModel'"):
        ebb.config.NoSuchModel  # noqa: B018


def test_the_powertools_parser_names_are_powertools_own() -> None:
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.parser.models import SqsModel

    assert ebb.service.powertools.parse is parse
    assert ebb.service.powertools.SqsModel is SqsModel
    with pytest.raises(AttributeError, match=r"module 'ebb\.service\.powertools' has no attribute 'Parser'"):
        ebb.service.powertools.Parser  # noqa: B018
