"""Tests for ``ellmer_py._eventstream``: AWS event-stream framing (Bedrock's ConverseStream).

Proven on every vector in ``shared/fixtures/native/aws_bedrock/vectors/eventstream/``
(aws-sdk-go-v2's decoded positives and botocore's positive and negative byte strings), fed
whole, one byte at a time and split anywhere; on every Bedrock recording that keeps the raw
stream (``response.body_base64`` against its ``response.frames``); and by a round trip of
``encode_message`` over all ten header types.
"""

from __future__ import annotations

import base64
import itertools
import json
import struct
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ellmer_py import _eventstream
from ellmer_py._errors import MalformedResponseError, StreamError
from ellmer_py._eventstream import (
    EventMessage,
    EventStreamDecoder,
    HeaderInt,
    HeaderValue,
    encode_message,
)

NATIVE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "native" / "aws_bedrock"
VECTOR_DIR = NATIVE / "vectors" / "eventstream"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@cache
def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


VECTORS = sorted(VECTOR_DIR.glob("*/*.json"))
POSITIVE = [p for p in VECTORS if load(p)["expect"] == "decode"]
NEGATIVE = [p for p in VECTORS if load(p)["expect"] == "error"]
RECORDINGS = [
    p
    for p in sorted([*NATIVE.glob("pydantic-ai/**/*.json"), *NATIVE.glob("chatlas/**/*.json")])
    if any("body_base64" in i["response"] for i in load(p)["interactions"])
]


def vector_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@cache
def encoded(path: Path) -> bytes:
    """The vector's bytes, from hex, base64 (which must agree) or ``encoded_parts``."""
    vector = load(path)
    if "encoded_parts" in vector:
        parts = [
            bytes.fromhex(part["repeat_hex"]) * part["count"]
            if "repeat_hex" in part
            else bytes.fromhex(part["hex"])
            for part in vector["encoded_parts"]
        ]
        data = b"".join(parts)
        assert len(data) == vector["encoded_length"]
        return data
    data = base64.b64decode(vector["encoded_base64"])
    if "encoded_hex" in vector:
        assert bytes.fromhex(vector["encoded_hex"]) == data
    return data


def decode(chunks: Iterable[bytes], **kwargs: Any) -> list[EventMessage]:
    decoder = EventStreamDecoder(**kwargs)
    messages = [m for chunk in chunks for m in decoder.feed(chunk)]
    decoder.close()
    return messages


def bytewise(data: bytes) -> Iterator[bytes]:
    return (data[i : i + 1] for i in range(len(data)))  # lazy: the 24 MiB case stops early


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


def typed(headers: Mapping[str, object]) -> list[tuple[str, type, object]]:
    """Headers with their Python types, so that ``True`` never passes for ``1``."""
    return [(name, type(value), value) for name, value in headers.items()]


# -- what the vectors say -----------------------------------------------------------------

GO_INT_BITS = {2: 8, 3: 16, 4: 32, 5: 64}


def go_value(header: dict[str, Any]) -> HeaderValue:
    """A header of aws-sdk-go-v2's decoded form (types 6, 7 and 9 in base64) in Python."""
    kind, value = header["type"], header["value"]
    if kind in (0, 1):
        assert value is (kind == 0)
    if kind == 6:
        return base64.b64decode(value)
    if kind == 7:
        return base64.b64decode(value).decode("utf-8")
    if kind == 8:
        return EPOCH + timedelta(milliseconds=value)
    if kind == 9:
        return uuid.UUID(bytes=base64.b64decode(value))
    assert isinstance(value, (bool, int))
    return value


def botocore_form(value: HeaderValue) -> object:
    """Our value the way botocore's vectors write it (timestamps in ms, bytes as base64)."""
    if isinstance(value, datetime):
        return (value - EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, uuid.UUID):
        value = value.bytes
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return value


def assert_matches_vector(path: Path, messages: list[EventMessage]) -> None:
    decoded = load(path)["decoded"]
    assert len(messages) == 1
    [message] = messages
    if isinstance(decoded["headers"], list):  # aws-sdk-go-v2: a list with the types
        expected = {h["name"]: go_value(h) for h in decoded["headers"]}
        assert typed(message.headers) == typed(expected)
        assert message.payload == base64.b64decode(decoded["payload"])
    else:  # botocore: a dict, timestamps in ms and bytes as {"base64": ...}
        ours = {name: botocore_form(value) for name, value in message.headers.items()}
        assert ours == decoded["headers"]
        assert [type(v) is bool for v in ours.values()] == [
            type(v) is bool for v in decoded["headers"].values()
        ]
        assert message.payload == base64.b64decode(decoded["payload_base64"])


def assert_refused(chunks: Iterable[bytes], **kwargs: Any) -> MalformedResponseError:
    decoder = EventStreamDecoder(**kwargs)
    with pytest.raises(MalformedResponseError) as info:
        for chunk in chunks:
            decoder.feed(chunk)
        decoder.close()
    # A failed decoder stays failed: no silent reuse.
    with pytest.raises(MalformedResponseError):
        decoder.feed(encode_message({}, b""))
    with pytest.raises(MalformedResponseError):
        decoder.close()
    return info.value


def test_the_globs_found_every_vector_and_recording() -> None:
    assert len(VECTORS) >= 15
    assert len(POSITIVE) >= 10
    assert len(NEGATIVE) >= 5
    assert len(RECORDINGS) >= 1
    assert len(POSITIVE) + len(NEGATIVE) == len(VECTORS)


# -- positive vectors ---------------------------------------------------------------------


@pytest.mark.parametrize("path", POSITIVE, ids=vector_id)
def test_positive_vector_fed_whole(path: Path) -> None:
    assert_matches_vector(path, decode([encoded(path)]))


@pytest.mark.parametrize("path", POSITIVE, ids=vector_id)
def test_positive_vector_fed_byte_by_byte(path: Path) -> None:
    assert_matches_vector(path, decode(bytewise(encoded(path))))


@pytest.mark.parametrize("path", POSITIVE, ids=vector_id)
@given(data=st.data())
def test_positive_vector_split_anywhere(path: Path, data: st.DataObject) -> None:
    raw = encoded(path)
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=12))
    assert_matches_vector(path, decode(split_at(raw, cuts)))


@given(data=st.data())
def test_all_positive_vectors_in_one_stream_split_anywhere(data: st.DataObject) -> None:
    order = data.draw(st.permutations(POSITIVE))
    raw = b"".join(encoded(p) for p in order)
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=40))
    messages = decode(split_at(raw, cuts))
    assert len(messages) == len(order)
    for path, message in zip(order, messages, strict=True):
        assert_matches_vector(path, [message])


@pytest.mark.parametrize("path", [p for p in POSITIVE if "aws-sdk-go-v2" in str(p)], ids=vector_id)
def test_encoder_rebuilds_the_typed_vectors_byte_for_byte(path: Path) -> None:
    headers: dict[str, HeaderValue | HeaderInt] = {}
    for header in load(path)["decoded"]["headers"]:
        bits = GO_INT_BITS.get(header["type"])
        headers[header["name"]] = (
            HeaderInt(header["value"], bits) if bits else go_value(header)  # type: ignore[arg-type]
        )
    payload = base64.b64decode(load(path)["decoded"]["payload"])
    assert encode_message(headers, payload) == encoded(path)


def test_the_all_headers_vector_covers_the_ten_types() -> None:
    kinds = {
        h["type"]
        for p in POSITIVE
        if "aws-sdk-go-v2" in str(p)
        for h in load(p)["decoded"]["headers"]
    }
    assert kinds == set(range(10))


# -- negative vectors ---------------------------------------------------------------------


@pytest.mark.parametrize("path", NEGATIVE, ids=vector_id)
def test_negative_vector_fed_whole(path: Path) -> None:
    assert_refused([encoded(path)])


@pytest.mark.parametrize("path", NEGATIVE, ids=vector_id)
def test_negative_vector_fed_byte_by_byte(path: Path) -> None:
    assert_refused(bytewise(encoded(path)))


@pytest.mark.parametrize("path", [p for p in NEGATIVE if load(p).get("encoded_hex")], ids=vector_id)
@given(data=st.data())
def test_negative_vector_split_anywhere(path: Path, data: st.DataObject) -> None:
    raw = encoded(path)
    assert_refused(split_at(raw, data.draw(st.lists(st.integers(0, len(raw)), max_size=12))))


def big_vector() -> Path:
    [path] = [p for p in NEGATIVE if "encoded_parts" in load(p)]
    return path


def test_an_oversized_frame_is_refused_from_its_prelude_alone() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(encoded(big_vector())[:11]) == []
    with pytest.raises(MalformedResponseError) as info:
        decoder.feed(encoded(big_vector())[11:12])
    assert str(info.value) == (
        "event-stream frame: frame of 25165857 bytes is over the 16777216-byte limit"
    )
    assert isinstance(info.value, StreamError)


def test_the_24_mib_vector_under_a_larger_cap_is_a_truncated_frame() -> None:
    # Its prelude declares 16 bytes more than the stored bytes (botocore's test only
    # checks the length), so with room for it the stream simply ends inside the frame.
    raw = encoded(big_vector())
    error = assert_refused([raw], max_message_size=32 * 1024 * 1024)
    assert "stream ended in the middle of a frame (25165841 of 25165857 bytes)" in str(error)


# -- every framing problem, in plain words ------------------------------------------------


def frame(
    headers: bytes, payload: bytes = b"", *, total: int = 0, headers_length: int = -1
) -> bytes:
    """A frame with correct CRCs around raw header bytes (built without the module)."""
    total = total or 16 + len(headers) + len(payload)
    prelude = struct.pack(">II", total, len(headers) if headers_length < 0 else headers_length)
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


GOOD = frame(b"\x01a\x07\x00\x02hi", b"{}")
BAD_CASES = {
    "prelude CRC": (b"\x01" + GOOD[1:], "prelude CRC mismatch (expected 0x"),
    "message CRC": (GOOD[:-5] + b"]" + GOOD[-4:], "message CRC mismatch (expected 0x"),
    "too short": (frame(b"", total=10), "total length 10 is under the 16-byte minimum"),
    "cap": (frame(b"", total=2**32 - 1), "frame of 4294967295 bytes is over the"),
    "headers length": (
        frame(b"", headers_length=300),
        "headers length 300 is larger than the frame (16 bytes)",
    ),
    "unknown type": (frame(b"\x01a\x0c"), "unknown header type 12 (header 'a')"),
    "name cut": (frame(b"\x05ab"), "a header name runs past the end of the headers"),
    "type cut": (frame(b"\x01a"), "the type of header 'a' runs past the end"),
    "int cut": (frame(b"\x01a\x04\x00\x00"), "the value of header 'a' runs past the end"),
    "string cut": (frame(b"\x01a\x07\x00\x09abc"), "the value of header 'a' runs past the end"),
    "uuid cut": (frame(b"\x01a\x09" + bytes(15)), "the value of header 'a' runs past the end"),
    "bad utf-8 value": (frame(b"\x01a\x07\x00\x01\xff"), "the value of header 'a' is not valid"),
    "bad utf-8 name": (frame(b"\x01\xff\x00"), "a header name is not valid UTF-8"),
    "duplicate": (frame(b"\x01a\x00\x01a\x01"), "duplicate header 'a'"),
    "timestamp": (
        frame(b"\x01t\x08" + struct.pack(">q", 2**62)),
        "timestamp 4611686018427387904 ms of 't' is out of range",
    ),
    "cut short": (GOOD[:-1], f"stream ended in the middle of a frame ({len(GOOD) - 1} of"),
    "cut in prelude": (GOOD[:5], "(5 bytes of a 12-byte prelude)"),
}


@pytest.mark.parametrize(("data", "words"), BAD_CASES.values(), ids=BAD_CASES.keys())
def test_each_framing_problem_is_named(data: bytes, words: str) -> None:
    for chunks in ([data], bytewise(data), [GOOD, data]):
        error = assert_refused(chunks)
        assert words in str(error)
        assert str(error).startswith("event-stream frame: ")


def test_messages_before_an_error_are_returned_and_the_error_comes_next() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(GOOD + BAD_CASES["unknown type"][0]) == [EventMessage({"a": "hi"}, b"{}")]
    with pytest.raises(MalformedResponseError, match="unknown header type 12"):
        decoder.close()
    with pytest.raises(MalformedResponseError, match="unknown header type 12"):
        decoder.feed(GOOD)


@pytest.mark.parametrize("path", POSITIVE, ids=vector_id)
def test_every_truncation_is_caught_at_close(path: Path) -> None:
    raw = encoded(path)
    for cut in range(1, len(raw)):
        decoder = EventStreamDecoder()
        assert decoder.feed(raw[:cut]) == []
        with pytest.raises(MalformedResponseError, match="stream ended in the middle of a frame"):
            decoder.close()


def test_max_message_size() -> None:
    assert decode([GOOD], max_message_size=len(GOOD)) == [EventMessage({"a": "hi"}, b"{}")]
    assert "over the 24-byte limit" in str(assert_refused([GOOD], max_message_size=24))
    with pytest.raises(ValueError):
        EventStreamDecoder(max_message_size=15)


# -- linear time --------------------------------------------------------------------------


def test_byte_at_a_time_checks_each_crc_once_and_keeps_the_buffer_small(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def counting_crc32(data: Any, value: int = 0) -> int:
        calls.append(len(data))
        return zlib.crc32(data, value)

    stream = b"".join(encode_message({"n": n}, b"x" * (n % 50)) for n in range(300))
    monkeypatch.setattr(_eventstream, "crc32", counting_crc32)
    decoder = EventStreamDecoder()
    messages: list[EventMessage] = []
    largest = 0
    for chunk in bytewise(stream):
        messages += decoder.feed(chunk)
        largest = max(largest, len(decoder._buf))
    decoder.close()
    assert [m.headers["n"] for m in messages] == list(range(300))
    assert len(calls) == 2 * 300  # a prelude CRC and a message CRC per frame, no rescans
    assert sum(calls) == 300 * 8 + len(stream) - 4 * 300
    assert largest <= 2 * max(len(encode_message({"n": 1}, b"x" * 49)), 1) + 1


# -- the round trip -----------------------------------------------------------------------

INT64 = st.integers(-(2**63), 2**63 - 1)
HEADER_VALUES = st.one_of(
    st.booleans(),  # 0 and 1
    st.builds(HeaderInt, st.integers(-128, 127), st.just(8)),  # 2
    st.builds(HeaderInt, st.integers(-(2**15), 2**15 - 1), st.just(16)),  # 3
    st.integers(-(2**31), 2**31 - 1),  # 4
    INT64,  # 4 or 5
    st.builds(HeaderInt, INT64, st.just(64)),  # 5
    st.binary(max_size=200),  # 6
    st.text(max_size=60),  # 7
    st.datetimes(timezones=st.just(timezone.utc)).map(  # 8, to the millisecond
        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
    ),
    st.uuids(),  # 9
)


def plain(value: HeaderValue | HeaderInt) -> HeaderValue:
    return value.value if isinstance(value, HeaderInt) else value


@settings(max_examples=300)
@given(
    headers=st.dictionaries(st.text(max_size=40), HEADER_VALUES, max_size=12),
    payload=st.binary(max_size=500),
    data=st.data(),
)
def test_round_trip(
    headers: dict[str, HeaderValue | HeaderInt], payload: bytes, data: st.DataObject
) -> None:
    raw = encode_message(headers, payload)
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=8))
    [message] = decode(split_at(raw, cuts))
    assert typed(message.headers) == typed({k: plain(v) for k, v in headers.items()})
    assert message.payload == payload


WHEN = datetime(2024, 5, 6, 7, 8, 9, 10_999, tzinfo=timezone(timedelta(hours=2)))
TYPE_OF = [
    (True, 0),
    (False, 1),
    (HeaderInt(-1, 8), 2),
    (HeaderInt(-1, 16), 3),
    (-(2**31), 4),
    (2**31 - 1, 4),
    (2**31, 5),
    (-(2**31) - 1, 5),
    (HeaderInt(1, 64), 5),
    (b"\x00", 6),
    ("é", 7),
    (WHEN, 8),
    (uuid.UUID(int=1), 9),
]


@pytest.mark.parametrize(("value", "kind"), TYPE_OF, ids=[str(t) for _, t in TYPE_OF])
def test_encoder_picks_the_header_type_from_the_python_type(
    value: HeaderValue | HeaderInt, kind: int
) -> None:
    raw = encode_message({"h": value}, b"")
    assert raw[14] == kind


def test_timestamps_are_aware_utc_datetimes_to_the_millisecond() -> None:
    [message] = decode([encode_message({"t": WHEN}, b"")])
    assert message.headers["t"] == WHEN.replace(microsecond=10_000)
    assert message.headers["t"].tzinfo is timezone.utc  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"f": 1.5}, TypeError),
        ({"n": datetime(2024, 1, 1)}, ValueError),  # naive
        ({"x" * 256: True}, ValueError),
        ({"s": "x" * 32768}, ValueError),
        ({"b": b"x" * 32768}, ValueError),
        ({"i": 2**63}, ValueError),
        ({"i": HeaderInt(128, 8)}, ValueError),
    ],
    ids=["float", "naive", "long name", "long str", "long bytes", "int", "int8"],
)
def test_encoder_refuses_what_it_cannot_send(headers: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        encode_message(headers, b"")


def test_header_int_takes_only_the_four_widths() -> None:
    with pytest.raises(ValueError):
        HeaderInt(1, 12)  # type: ignore[arg-type]


# -- convenience properties ---------------------------------------------------------------


def test_convenience_properties() -> None:
    [err] = decode([encoded(VECTOR_DIR / "botocore" / "error_event_message.json")])
    assert (err.message_type, err.error_code, err.error_message) == ("error", "code", "message")
    assert err.event_type is None and err.exception_type is None and err.content_type is None
    [plain_ct] = decode([encoded(VECTOR_DIR / "botocore" / "payload_one_str_header.json")])
    assert plain_ct.content_type == "application/json"
    exception = EventMessage(
        {":message-type": "exception", ":exception-type": "throttlingException", ":x": 1}, b""
    )
    assert (exception.message_type, exception.exception_type) == (
        "exception",
        "throttlingException",
    )
    assert EventMessage({":event-type": 5}, b"").event_type is None


# -- the Bedrock recordings ---------------------------------------------------------------


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recording_decodes_to_its_frames(path: Path) -> None:
    streams = [i["response"] for i in load(path)["interactions"] if "body_base64" in i["response"]]
    assert streams
    for response in streams:
        raw = base64.b64decode(response["body_base64"])
        expected = [(f["headers"], f["payload"]) for f in response["frames"]]
        for chunks in ([raw], bytewise(raw), split_at(raw, range(0, len(raw), 97))):
            messages = decode(chunks)
            assert [(dict(m.headers), m.payload.decode("utf-8")) for m in messages] == expected
            assert all(m.message_type == "event" for m in messages)
            assert all(m.content_type == "application/json" for m in messages)
