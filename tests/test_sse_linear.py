"""The SSE parser's long-line path: a line that spans many chunks.

The parser keeps an unfinished line as the pieces it came in and joins them
once, when the line ends (``bench/sse_long_line.py`` times it: linear, not
quadratic). These tests check that this path gives exactly the events the
whole stream gives, whatever the line ending and wherever the chunks split;
timing is left to the benchmark.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ellmer_py._sse import ServerSentEvent, SSEParser

BOM = b"\xef\xbb\xbf"


def feed_all(chunks: list[bytes]) -> tuple[list[ServerSentEvent], ServerSentEvent | None, bytes]:
    parser = SSEParser()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    last, tail = parser.finish()
    return events, last, tail


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
@pytest.mark.parametrize("size", [1, 7, 1024, 4096])
def test_a_long_line_in_small_chunks(eol: bytes, size: int) -> None:
    value = b"x" * (50_000 if size == 1 else 300_000)
    stream = b"event: big" + eol + b"data: " + value + eol + eol + b"data: after" + eol + eol
    expected = [ServerSentEvent(value.decode(), "big"), ServerSentEvent("after")]
    assert feed_all([stream])[0] == expected
    assert feed_all(pieces(stream, size))[0] == expected


def test_the_line_end_alone_in_the_next_chunk() -> None:
    for eol in (b"\n", b"\r", b"\r\n"):
        chunks = [b"data: ", b"a" * 5000, b"b" * 5000, eol, eol]
        assert feed_all(chunks)[0] == [ServerSentEvent("a" * 5000 + "b" * 5000)]


def test_a_crlf_split_after_a_long_line() -> None:
    chunks = [b"data: ", b"z" * 3000, b"\r", b"\n\r", b"\ndata: next\r\n\r\n"]
    assert feed_all(chunks)[0] == [ServerSentEvent("z" * 3000), ServerSentEvent("next")]


def test_a_bom_then_a_long_line_byte_by_byte() -> None:
    stream = BOM + b"data: " + b"q" * 2000 + b"\n\n"
    assert feed_all(pieces(stream, 1))[0] == [ServerSentEvent("q" * 2000)]


def test_an_unfinished_long_line_is_the_tail_at_the_end() -> None:
    events, last, tail = feed_all([b"data: one\n", *pieces(b"data: " + b"t" * 10_000, 100)])
    assert events == []
    assert last == ServerSentEvent("one")
    assert tail == b"data: " + b"t" * 10_000


def test_a_multibyte_character_split_across_pieces() -> None:
    text = "é€😀" * 3000
    stream = ("data: " + text + "\n\n").encode()
    assert feed_all(pieces(stream, 5))[0] == [ServerSentEvent(text)]


@given(
    st.lists(
        st.tuples(st.sampled_from(["data", "event", "id", ":"]), st.integers(0, 3000)),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([b"\n", b"\r", b"\r\n"]),
    st.lists(st.integers(1, 2000), min_size=1, max_size=30),
)
def test_long_lines_any_split_same_events(
    fields: list[tuple[str, int]], eol: bytes, sizes: list[int]
) -> None:
    stream = b"".join(f"{name}: ".encode() + b"v" * n + eol for name, n in fields) + eol
    whole = feed_all([stream])
    chunks, at, i = [], 0, 0
    while at < len(stream):
        size = sizes[i % len(sizes)]
        chunks.append(stream[at : at + size])
        at += size
        i += 1
    assert feed_all(chunks) == whole
