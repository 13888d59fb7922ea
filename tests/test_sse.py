"""Tests for ``ellmer_py._sse``: the WHATWG server-sent-events parser.

The checklist follows the WHATWG "event stream interpretation" rules and the
habits of openai-python's SSE framing tests: every line ending, chunk
boundaries anywhere (also inside a CRLF or a multi-byte character), comments,
multi-line data, ``event`` / ``id`` / ``retry``, and a partial event at the
end being dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ellmer_py._sse import ServerSentEvent, SSEParser, iter_sse

BOM = b"\xef\xbb\xbf"


def parse(*chunks: bytes) -> list[ServerSentEvent]:
    return list(iter_sse(chunks))


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


# --- line endings ------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
def test_each_line_ending(eol: bytes) -> None:
    stream = eol.join([b"event: add", b"data: 1", b"data: 2", b"", b"data: 3", b"", b""])
    expected = [ServerSentEvent("1\n2", "add"), ServerSentEvent("3", "message")]
    assert parse(stream) == expected
    assert parse(*bytewise(stream)) == expected


def test_mixed_line_endings_in_one_event() -> None:
    stream = b"data: a\rdata: b\r\ndata: c\n\r\n"
    assert parse(stream) == [ServerSentEvent("a\nb\nc")]


def test_cr_then_crlf_is_two_line_ends() -> None:
    # "a" CR, then a blank line ended by CRLF: the event is dispatched.
    assert parse(b"data: a\r\r\n") == [ServerSentEvent("a")]


def test_lf_then_cr_is_two_line_ends() -> None:
    assert parse(b"data: a\n\r") == [ServerSentEvent("a")]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    # If the LF that opens the second chunk were read as a blank line, "a"
    # would be dispatched alone and "b" would be a second event.
    assert parse(b"data: a\r", b"\ndata: b\n\n") == [ServerSentEvent("a\nb")]


def test_crlf_split_across_chunks_then_blank_line() -> None:
    assert parse(b"data: a\r", b"\n\r", b"\n") == [ServerSentEvent("a")]


def test_cr_at_chunk_end_followed_by_cr() -> None:
    assert parse(b"data: a\r", b"\rdata: b\r\r") == [ServerSentEvent("a"), ServerSentEvent("b")]


def test_cr_at_chunk_end_then_empty_chunks_then_lf() -> None:
    assert parse(b"data: a\r", b"", b"", b"\ndata: b\n\n") == [ServerSentEvent("a\nb")]


def test_only_cr_and_lf_end_lines() -> None:
    # str.splitlines would also split on these; the SSE standard does not.
    value = "a\x0bb\x0cc\x1cd\x1de\x1ef\u2028g\u2029h\x85i"
    stream = b"data: " + value.encode() + b"\n\n"
    assert parse(stream) == [ServerSentEvent(value)]


# --- comments and keep-alives -----------------------------------------------


def test_keep_alive_comments_alone_dispatch_nothing() -> None:
    assert parse(b": ping\n\n: ping\n\n:\n\n") == []


def test_comments_between_and_inside_events() -> None:
    stream = b": hello\n\ndata: a\n: in the middle\ndata: b\n\n: ping\n\ndata: c\n\n"
    assert parse(stream) == [ServerSentEvent("a\nb"), ServerSentEvent("c")]


def test_comment_looking_like_a_field_is_still_a_comment() -> None:
    assert parse(b":data: x\n\n") == []


# --- data -------------------------------------------------------------------


def test_multi_line_data_joined_with_lf() -> None:
    assert parse(b"data: a\ndata: b\ndata: c\n\n") == [ServerSentEvent("a\nb\nc")]


@pytest.mark.parametrize(
    ("line", "data"),
    [
        (b"data: x", "x"),
        (b"data:x", "x"),
        (b"data:  x", " x"),
        (b"data: x ", "x "),
        (b"data:", ""),
        (b"data: ", ""),
        (b"data: a: b", "a: b"),
        (b"data::x", ":x"),
        (b"data: [DONE]", "[DONE]"),
        (b'data: {"a": 1}', '{"a": 1}'),
    ],
)
def test_data_value(line: bytes, data: str) -> None:
    assert parse(line + b"\n\n") == [ServerSentEvent(data)]


def test_empty_data_lines_make_empty_lines() -> None:
    assert parse(b"data\ndata\n\n") == [ServerSentEvent("\n")]
    assert parse(b"data:\ndata: x\ndata:\n\n") == [ServerSentEvent("\nx\n")]


def test_nul_in_data_is_kept() -> None:
    assert parse(b"data: a\x00b\n\n") == [ServerSentEvent("a\x00b")]


def test_invalid_utf8_is_replaced() -> None:
    assert parse(b"data: \xff\xfe\n\n") == [ServerSentEvent("\ufffd\ufffd")]


# --- event, id, retry -------------------------------------------------------


def test_event_type_applies_to_one_event_only() -> None:
    stream = b"event: add\ndata: 1\n\ndata: 2\n\n"
    assert parse(stream) == [ServerSentEvent("1", "add"), ServerSentEvent("2", "message")]


def test_last_event_type_wins() -> None:
    assert parse(b"event: a\nevent: b\ndata: x\n\n") == [ServerSentEvent("x", "b")]


def test_empty_event_type_means_message() -> None:
    assert parse(b"event:\ndata: x\n\n") == [ServerSentEvent("x", "message")]
    assert parse(b"event\ndata: x\n\n") == [ServerSentEvent("x", "message")]


def test_id_persists_across_events() -> None:
    stream = b"id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\n"
    assert parse(stream) == [
        ServerSentEvent("a", id="7"),
        ServerSentEvent("b", id="7"),
        ServerSentEvent("c", id="8"),
    ]


def test_id_with_nul_is_ignored() -> None:
    stream = b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"
    assert parse(stream) == [ServerSentEvent("a", id="1"), ServerSentEvent("b", id="1")]


def test_empty_id_resets_the_last_event_id() -> None:
    stream = b"id: 1\ndata: a\n\nid\ndata: b\n\nid:\ndata: c\n\n"
    assert parse(stream) == [
        ServerSentEvent("a", id="1"),
        ServerSentEvent("b", id=""),
        ServerSentEvent("c", id=""),
    ]


def test_id_set_in_an_event_without_data_still_counts() -> None:
    assert parse(b"id: 5\n\ndata: x\n\n") == [ServerSentEvent("x", id="5")]


def test_retry_digits() -> None:
    assert parse(b"retry: 1500\ndata: a\n\n") == [ServerSentEvent("a", retry=1500)]
    assert parse(b"retry:0\ndata: a\n\n") == [ServerSentEvent("a", retry=0)]


@pytest.mark.parametrize(
    "value",
    [b"", b"1.5", b"-1", b"+1", b"15a", b" 100", b"1e3", "\u0661\u0662".encode(), b"\xc2\xb2"],
    ids=["empty", "float", "negative", "plus", "suffix", "space", "exp", "arabic", "superscript"],
)
def test_retry_that_is_not_only_ascii_digits_is_ignored(value: bytes) -> None:
    stream = b"retry: 10\ndata: a\n\nretry: " + value + b"\ndata: b\n\n"
    assert parse(stream) == [ServerSentEvent("a", retry=10), ServerSentEvent("b", retry=10)]


def test_retry_is_kept_for_later_events() -> None:
    stream = b"retry: 10\ndata: a\n\ndata: b\n\nretry: 20\ndata: c\n\n"
    assert parse(stream) == [
        ServerSentEvent("a", retry=10),
        ServerSentEvent("b", retry=10),
        ServerSentEvent("c", retry=20),
    ]


# --- dispatch ----------------------------------------------------------------


def test_blank_line_dispatches_incrementally() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\n") == []
    assert parser.feed(b"data: b") == []
    assert parser.feed(b"\n") == []
    assert parser.feed(b"\n") == [ServerSentEvent("a\nb")]
    assert parser.feed(b"data: c\n\ndata: d\n\n") == [ServerSentEvent("c"), ServerSentEvent("d")]


def test_feed_of_empty_chunk_returns_nothing() -> None:
    parser = SSEParser()
    assert parser.feed(b"") == []
    assert parser.feed(b"data: a\n") == []
    assert parser.feed(b"") == []
    assert parser.feed(b"\n") == [ServerSentEvent("a")]


def test_event_without_data_is_not_dispatched_but_resets_type() -> None:
    stream = b"event: foo\n\ndata: x\n\nevent: bar\nid: 1\nretry: 5\n\n"
    assert parse(stream) == [ServerSentEvent("x", "message")]


def test_extra_blank_lines_dispatch_nothing() -> None:
    assert parse(b"\n\n\r\n\rdata: a\n\n\n\n") == [ServerSentEvent("a")]


@pytest.mark.parametrize(
    "tail",
    [b"data: b", b"data: b\n", b"data: b\r", b"data: b\ndata: c\n", b"event: x\ndata: b\r\n"],
)
def test_partial_event_at_the_end_is_dropped(tail: bytes) -> None:
    assert parse(b"data: a\n\n" + tail) == [ServerSentEvent("a")]


def test_empty_stream() -> None:
    assert parse() == []
    assert parse(b"") == []


# --- byte-order mark and UTF-8 ------------------------------------------------


def test_leading_bom_is_skipped() -> None:
    assert parse(BOM + b"data: a\n\n") == [ServerSentEvent("a")]


def test_leading_bom_split_across_chunks() -> None:
    assert parse(b"\xef", b"\xbb", b"\xbfdata: a\n\n") == [ServerSentEvent("a")]
    assert parse(b"\xef\xbb", b"\xbf", b"data: a\n\n") == [ServerSentEvent("a")]


def test_only_one_leading_bom_is_skipped() -> None:
    # The second BOM is part of the field name "\ufeffdata", which is unknown.
    assert parse(BOM + BOM + b"data: a\n\ndata: b\n\n") == [ServerSentEvent("b")]


def test_bom_after_the_start_is_not_skipped() -> None:
    assert parse(b"data: a\n\n" + BOM + b"data: b\n\n") == [ServerSentEvent("a")]
    assert parse(b"data: " + BOM + b"x\n\n") == [ServerSentEvent("\ufeffx")]


def test_stream_of_a_bom_prefix_alone() -> None:
    assert parse(b"\xef\xbb") == []
    assert parse(BOM) == []


def test_non_bom_start_that_shares_a_prefix_with_the_bom() -> None:
    # "\xef\xbc\x9a" is U+FF1A (fullwidth colon): a field name, unknown.
    assert parse(b"\xef", b"\xbc\x9a\ndata: a\n\n") == [ServerSentEvent("a")]


@pytest.mark.parametrize("text", ["h\u00e9llo", "\u20ac", "\U0001f600 ok", "\u65e5\u672c\u8a9e"])
def test_multibyte_utf8_split_at_every_byte(text: str) -> None:
    stream = b"event: " + text.encode() + b"\ndata: " + text.encode() + b"\n\n"
    expected = [ServerSentEvent(text, text)]
    assert parse(stream) == expected
    for i in range(len(stream) + 1):
        assert parse(stream[:i], stream[i:]) == expected, i
    assert parse(*bytewise(stream)) == expected


# --- field names --------------------------------------------------------------


def test_unknown_fields_are_ignored() -> None:
    stream = b"foo: bar\ndata: a\nDATA: b\nData: c\n data: d\ndata : e\n\n"
    assert parse(stream) == [ServerSentEvent("a")]


def test_unknown_field_alone_dispatches_nothing() -> None:
    assert parse(b"foo: bar\n\n") == []


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"data\n\n", [ServerSentEvent("")]),
        (b"foo\ndata: x\n\n", [ServerSentEvent("x")]),
        (b"event\ndata: x\n\n", [ServerSentEvent("x", "message")]),
        (b"retry\ndata: x\n\n", [ServerSentEvent("x")]),
        (b"id: 1\nid\ndata: x\n\n", [ServerSentEvent("x", id="")]),
    ],
)
def test_field_without_colon_has_empty_value(
    stream: bytes, expected: list[ServerSentEvent]
) -> None:
    assert parse(stream) == expected


# --- a realistic stream -----------------------------------------------------------


def test_openai_style_stream_at_every_split() -> None:
    stream = (
        b": OPENROUTER PROCESSING\r\n\r\n"
        b'data: {"choices":[{"delta":{"content":"H\xc3\xa9"}}]}\r\n\r\n'
        b'data: {"choices":[{"delta":{"content":"llo"}}]}\r\n\r\n'
        b"data: [DONE]\r\n\r\n"
    )
    expected = [
        ServerSentEvent('{"choices":[{"delta":{"content":"H\u00e9"}}]}'),
        ServerSentEvent('{"choices":[{"delta":{"content":"llo"}}]}'),
        ServerSentEvent("[DONE]"),
    ]
    assert parse(stream) == expected
    for i in range(len(stream) + 1):
        for j in range(i, len(stream) + 1, 7):
            assert parse(stream[:i], stream[i:j], stream[j:]) == expected, (i, j)


# --- properties ------------------------------------------------------------------

line_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12
)
eols = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def event_specs(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "event": draw(st.none() | line_text),
        "id": draw(st.none() | line_text.filter(lambda s: "\0" not in s)),
        "retry": draw(st.none() | st.integers(min_value=0, max_value=10**9)),
        "data": draw(st.lists(line_text, min_size=1, max_size=4)),
        "comment": draw(st.none() | line_text),
        "spaced": draw(st.booleans()),
    }


def render_lines(spec: dict[str, Any]) -> list[str]:
    def field(name: str, value: str) -> str:
        # "name:value" is only the same as "name: value" if value has no leading space.
        sep = ": " if spec["spaced"] or value.startswith(" ") else ":"
        return name + sep + value

    lines = []
    if spec["comment"] is not None:
        lines.append(":" + spec["comment"])
    if spec["event"] is not None:
        lines.append(field("event", spec["event"]))
    if spec["id"] is not None:
        lines.append(field("id", spec["id"]))
    if spec["retry"] is not None:
        lines.append(field("retry", str(spec["retry"])))
    lines.extend(field("data", d) for d in spec["data"])
    lines.append("")  # the blank line that dispatches
    return lines


def expected_events(specs: list[dict[str, Any]]) -> list[ServerSentEvent]:
    out = []
    last_id = retry = None
    for spec in specs:
        if spec["id"] is not None:
            last_id = spec["id"]
        if spec["retry"] is not None:
            retry = spec["retry"]
        out.append(
            ServerSentEvent("\n".join(spec["data"]), spec["event"] or "message", last_id, retry)
        )
    return out


@st.composite
def rendered_streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    """A stream of whole events, an arbitrary line ending on every line."""
    specs = draw(st.lists(event_specs(), max_size=5))
    lines = [line for spec in specs for line in render_lines(spec)]
    # A trailing partial event, which must be dropped.
    partial = draw(st.lists(line_text.map(lambda s: "data: " + s), max_size=2))
    parts = []
    prev = ""
    for line in lines + partial:
        eol = draw(eols)
        if prev == "\r" and line == "" and eol == "\n":
            # CR followed by an LF-terminated blank line would read as one CRLF.
            eol = "\r\n"
        parts.append(line + eol)
        prev = eol
    if partial and draw(st.booleans()):
        parts[-1] = parts[-1].rstrip("\r\n")  # the cut may also fall mid-line
    body = "".join(parts).encode("utf-8")
    if draw(st.booleans()):
        body = BOM + body
    return body, expected_events(specs)


@given(rendered_streams())
def test_rendered_events_parse_back(case: tuple[bytes, list[ServerSentEvent]]) -> None:
    stream, expected = case
    assert parse(stream) == expected


@given(rendered_streams(), st.data())
def test_chunk_boundaries_do_not_matter(
    case: tuple[bytes, list[ServerSentEvent]], data: st.DataObject
) -> None:
    stream, expected = case
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=12))
    assert parse(*split_at(stream, cuts)) == expected


@given(rendered_streams())
def test_one_byte_at_a_time(case: tuple[bytes, list[ServerSentEvent]]) -> None:
    stream, expected = case
    assert parse(*bytewise(stream)) == expected


byte_soup = st.lists(
    st.sampled_from(
        [
            b"\r",
            b"\n",
            b"\r\n",
            b":",
            b" ",
            b"data",
            b"event",
            b"id",
            b"retry",
            b"x",
            b"7",
            b"\x00",
            BOM,
            b"\xef",
            b"\xc3",
            b"\xa9",
            b"\xe2\x82\xac",
        ]
    ),
    max_size=40,
).map(b"".join)


@given(byte_soup, st.data())
def test_any_bytes_parse_the_same_whatever_the_split(stream: bytes, data: st.DataObject) -> None:
    whole = parse(stream)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=12))
    assert parse(*split_at(stream, cuts)) == whole
    assert parse(*bytewise(stream)) == whole
