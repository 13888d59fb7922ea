"""Hypothesis strategies shared by the tests (the attrs/cattrs habit)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = ["json_dicts", "json_keys", "json_scalars", "json_values"]

#: Short keys from a small alphabet, so that two generated dicts share keys often.
json_keys = st.text(alphabet="abc", min_size=1, max_size=2)

#: JSON scalars; floats are finite so that ``==`` is a fair comparison.
json_scalars: st.SearchStrategy[Any] = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)

#: Any JSON value: scalars, lists and dicts with str keys, nested.
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4)
    ),
    max_leaves=12,
)

#: A JSON object: a dict with str keys and JSON values.
json_dicts: st.SearchStrategy[dict[str, Any]] = st.dictionaries(json_keys, json_values, max_size=5)
