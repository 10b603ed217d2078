"""KEDA's string-typed trigger metadata, parsed into typed values the way KEDA parses it.

KEDA's typed configuration (kedacore/keda, pkg/scalers/scalersconfig/typed_config.go, c90e20f4)
trims each metadata value, treats an empty value as absent (so the default applies), parses a
bool with Go's `strconv.ParseBool` (`1`, `t`, `T`, `TRUE`, `true`, `True` and the false forms
`0`, `f`, `F`, `FALSE`, `false`, `False`) and decodes the other non-string fields with Go's
`encoding/json`: an int64 must be a JSON integer (`5`, not `5.0` or `+5`), a float a JSON number
(`2`, `0.5`, `1e3`, not `.5` or `NaN`) that fits a float64 (`1e400` is out of range). Annotations
are parsed with `strconv` too (`ParseBool`, `ParseInt`), as KEDA does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator

from ebb.config.model_errors import custom_error, describe_yaml_value

_JSON_INTEGER_RE = re.compile(r"^-?(0|[1-9][0-9]*)$")
_JSON_NUMBER_RE = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")
_STRCONV_INT_RE = re.compile(r"^[+-]?[0-9]+$")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# Go's strconv.ParseBool spellings, in the order its documentation lists them.
STRCONV_TRUE = ("1", "t", "T", "TRUE", "true", "True")
STRCONV_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def trim_metadata(values: dict[str, Any]) -> dict[str, Any]:
    """KEDA's view of trigger metadata: string values trimmed, empty ones dropped."""
    trimmed: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(value, str):
            trimmed[key] = value
        elif value.strip():
            trimmed[key] = value.strip()
    return trimmed


def parse_go_json_int64(text: str) -> int:
    """Decode like `json.Unmarshal` into an int64."""
    if not _JSON_INTEGER_RE.match(text) or not INT64_MIN <= int(text) <= INT64_MAX:
        raise ValueError(f'{text!r} is not an integer; allowed: a whole number such as "5"')
    return int(text)


def parse_go_json_float(text: str) -> float:
    """Decode like `json.Unmarshal` into a float64."""
    if not _JSON_NUMBER_RE.match(text):
        raise ValueError(f'{text!r} is not a number; allowed: a decimal number such as "2" or "0.5"')
    value = float(text)
    if math.isinf(value):
        # Go's decoder refuses a number beyond float64 ("value out of range"); Python rounds it to inf.
        raise ValueError(f"{text!r} is out of range for a 64-bit float")
    return value


def parse_keda_bool(text: str) -> bool:
    """A bool as KEDA's typed config reads it: Go's `strconv.ParseBool`."""
    parsed = parse_strconv_bool(text)
    if parsed is None:
        raise ValueError(
            f"{text!r} is not a boolean; allowed: {', '.join(STRCONV_TRUE)} or {', '.join(STRCONV_FALSE)}"
        )
    return parsed


def parse_strconv_bool(text: str) -> bool | None:
    """Go's `strconv.ParseBool`; None when the text is not one of its spellings."""
    if text in STRCONV_TRUE:
        return True
    if text in STRCONV_FALSE:
        return False
    return None


def parse_strconv_int32(text: str) -> int:
    """Go's `strconv.ParseInt(text, 10, 32)`."""
    if not _STRCONV_INT_RE.match(text) or not INT32_MIN <= int(text) <= INT32_MAX:
        raise ValueError(f"{text!r} is not a 32-bit integer")
    return int(text)


def _metadata_validator(kind: str, parse: Callable[[str], Any]) -> BeforeValidator:
    def validate(value: object) -> Any:
        if not isinstance(value, str):
            hint = (
                f'; quote it: "{value}"'
                if isinstance(value, int | float) and not isinstance(value, bool)
                else ""
            )
            raise custom_error(
                "metadata_type",
                "must be a string (KEDA trigger metadata is a map of strings), got "
                f"{describe_yaml_value(value)}{hint}",
            )
        try:
            return parse(value)
        except ValueError as error:
            raise custom_error(kind, str(error)) from None

    return BeforeValidator(validate)


def _metadata_string(value: str) -> str:
    return value


KedaInt64 = Annotated[int, _metadata_validator("keda_int64", parse_go_json_int64)]
KedaFloat = Annotated[float, _metadata_validator("keda_float", parse_go_json_float)]
KedaBool = Annotated[bool, _metadata_validator("keda_bool", parse_keda_bool)]
KedaString = Annotated[str, _metadata_validator("keda_string", _metadata_string)]
