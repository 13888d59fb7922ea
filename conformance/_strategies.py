"""Hypothesis strategies of the conformance checks (JSON values, headers, answers)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import strategies as st

from ._protocol import Answer, ToolCall, Usage

__all__ = [
    "PROTECTED_HEADERS",
    "answers",
    "byte_cuts",
    "header_names",
    "header_values",
    "json_dicts",
    "json_values",
]

#: Short keys from a small alphabet, so that generated dicts share keys often.
json_keys = st.text(alphabet="abc", min_size=1, max_size=2)

json_scalars: st.SearchStrategy[Any] = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)


def json_values(keys: st.SearchStrategy[str] = json_keys) -> st.SearchStrategy[Any]:
    """Any JSON value (finite floats, so ``==`` is fair), dicts keyed by ``keys``."""
    return st.recursive(
        json_scalars,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3)
        ),
        max_leaves=10,
    )


def json_dicts(keys: st.SearchStrategy[str] = json_keys) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object whose keys come from ``keys``."""
    return st.dictionaries(keys, json_values(keys), max_size=5)


#: Headers an HTTP client must own (framing, hop-by-hop): not "extra headers".
PROTECTED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "proxy-connection",
    }
)

_TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

#: Any valid header name (an RFC 9110 token) except the protected ones.
header_names: st.SearchStrategy[str] = st.text(alphabet=_TOKEN, min_size=1, max_size=12).filter(
    lambda name: name.lower() not in PROTECTED_HEADERS
)

#: Visible ASCII with inner spaces: what a header value can carry unchanged.
header_values: st.SearchStrategy[str] = (
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=24)
    .map(str.strip)
    .filter(bool)
)


def byte_cuts() -> st.SearchStrategy[list[int]]:
    """Where to split a byte stream into HTTP chunks (positions past its end are ignored)."""
    return st.lists(st.integers(min_value=1, max_value=3000), max_size=12)


def _pieces(max_pieces: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.text(min_size=1, max_size=8), max_size=max_pieces)


@st.composite
def _split_text(draw: st.DrawFn, text: str) -> list[str]:
    cuts = draw(st.lists(st.integers(min_value=0, max_value=len(text)), max_size=4))
    edges = [0, *sorted(cuts), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(edges)]


@st.composite
def _tool_calls(draw: st.DrawFn) -> list[ToolCall]:
    ids = draw(
        st.lists(
            st.text(alphabet="abcdef0123456789", min_size=1, max_size=8), max_size=2, unique=True
        )
    )
    calls = []
    for call_id in ids:
        arguments = draw(json_dicts())
        calls.append(
            ToolCall(
                id="call_" + call_id,
                name=draw(st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)),
                arguments=arguments,
                pieces=tuple(draw(_split_text(json.dumps(arguments)))),
            )
        )
    return calls


@st.composite
def _answers(draw: st.DrawFn) -> Answer:
    text_pieces = draw(_pieces(6))
    thinking_pieces = draw(st.one_of(st.just([]), _pieces(3)))
    tool_calls = draw(_tool_calls())
    finish = "tool_calls" if tool_calls else draw(st.sampled_from(["stop", "length"]))
    input_tokens = draw(st.integers(min_value=0, max_value=100_000))
    usage = Usage(
        input=input_tokens,
        output=draw(st.integers(min_value=0, max_value=100_000)),
        cached=draw(st.integers(min_value=0, max_value=input_tokens)),
    )
    return Answer(
        text_pieces=tuple(text_pieces),
        thinking_pieces=tuple(thinking_pieces),
        tool_calls=tuple(tool_calls),
        finish_reason=finish,
        usage=usage,
    )


#: A scripted answer: text, maybe reasoning, up to two tool calls, with usage.
answers: st.SearchStrategy[Answer] = _answers()
