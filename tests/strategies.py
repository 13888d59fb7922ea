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


# --- Contents and turns (the data model; tests/test_serialize.py) -----------

from ellmer_py import (  # noqa: E402 - the data-model strategies start here
    AssistantPartialTurn,
    AssistantTurn,
    Content,
    ContentImageInline,
    ContentImageRemote,
    ContentJson,
    ContentPDF,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    SystemTurn,
    Tokens,
    Turn,
    UserTurn,
)

__all__ += [
    "assistant_turns",
    "content_classes",
    "contents",
    "tokens",
    "turn_lists",
    "turns",
]

_short_text = st.text(max_size=12)
_finite = st.floats(allow_nan=False, allow_infinity=False)

#: One strategy per Content class, so a test can ask for every kind.
content_classes: dict[type[Content], st.SearchStrategy[Content]] = {
    ContentText: st.builds(ContentText, _short_text),
    ContentImageRemote: st.builds(
        ContentImageRemote, _short_text, st.sampled_from(["auto", "low", "high"])
    ),
    ContentImageInline: st.builds(
        ContentImageInline, st.sampled_from(["image/png", "image/jpeg", "image/webp"]), st.binary()
    ),
    ContentPDF: st.builds(ContentPDF, st.binary(), _short_text),
    ContentToolRequest: st.builds(ContentToolRequest, _short_text, _short_text, json_dicts),
    ContentToolResult: (
        st.builds(ContentToolResult, _short_text, value=json_values)
        | st.builds(ContentToolResult, _short_text, error=_short_text)
    ),
    ContentThinking: st.builds(ContentThinking, _short_text, json_values),
    ContentJson: st.builds(ContentJson, json_values),
}

#: Any Content, of any kind.
contents: st.SearchStrategy[Content] = st.one_of(*content_classes.values())

#: Token counts, or none at all.
tokens: st.SearchStrategy[Tokens | None] = st.none() | st.builds(
    Tokens, *[st.integers(min_value=0, max_value=2**40)] * 3
)

_content_lists = st.lists(contents, max_size=4)
_assistant_fields = {
    "contents": _content_lists,
    "tokens": tokens,
    "cost": st.none() | _finite,
    "finish_reason": st.none() | _short_text,
    "duration": st.none() | _finite,
    "json": json_values,
}

#: Assistant turns, complete or partial, with every accounting field set at random.
assistant_turns: st.SearchStrategy[AssistantTurn] = st.builds(
    AssistantTurn, **_assistant_fields
) | st.builds(AssistantPartialTurn, **_assistant_fields, reason=_short_text)

#: A turn of any role.
turns: st.SearchStrategy[Turn] = (
    st.builds(UserTurn, _content_lists) | st.builds(SystemTurn, _content_lists) | assistant_turns
)

#: A conversation's worth of turns (roles in any order: records don't check order).
turn_lists: st.SearchStrategy[list[Turn]] = st.lists(turns, max_size=5)
