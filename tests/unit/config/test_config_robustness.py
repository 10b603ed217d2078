"""Any edit of a valid configuration yields a config or a list of issues, never an exception.

Cross-document checks run even when some documents have errors (to report everything at once), so
they must cope with half-valid input. Hypothesis replaces one field of the example with an
arbitrary YAML value, or deletes it, and the loader must answer with issues.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PathParts = tuple[str | int, ...]


def _paths(value: Any, prefix: PathParts = ()) -> list[PathParts]:
    found: list[PathParts] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((*prefix, index))
            found.extend(_paths(item, (*prefix, index)))
    return found


YAML_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), value=YAML_VALUES, delete=st.booleans())
def test_an_arbitrary_edit_never_raises(
    make_docs: Any, data: st.DataObject, value: Any, delete: bool
) -> None:
    docs = make_docs()
    document = data.draw(st.sampled_from(docs.documents))
    path = data.draw(st.sampled_from(_paths(document)))
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    result = docs.check()
    assert (result.config is None) == bool(result.errors)
    assert all(str(issue) for issue in result.issues)
