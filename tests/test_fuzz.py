"""Fuzzing: hostile answers for every registered wire protocol.

Whatever a server sends (random JSON shapes, a wrong type in any field,
``NaN``, huge numbers, JSON nested 10,000 deep in a body, an SSE ``data:``
or tool arguments, invalid UTF-8, bytes cut at any offset, any chunking),
the client only ever raises an :class:`~ellmer_py.EllmerError`, and never
loses a turn:

- the pure decoders (``parse_response(doc)``, ``open_stream().feed()`` /
  ``close()``) raise nothing else, and a stream decoder's ``turn()`` never
  raises, at any moment, so a failed stream still leaves what arrived;
- end to end, through a chat on a real loopback server: a request that fails
  before any answer leaves the turns as they were; a stream that fails after
  its 200 leaves the user's turn followed by an ``AssistantPartialTurn``; an
  answer that was read leaves the user's turn and an ``AssistantTurn``.

The hostile answers are built from each protocol's conformance fake (a good
answer, mutated), so a protocol registered later is fuzzed without a line
here. Examples follow the hypothesis profile of ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import json_scalars

from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    Chat,
    EllmerError,
    Tokens,
    UserTurn,
    get_protocol_spec,
    get_provider_spec,
    list_protocols,
    list_providers,
)
from ellmer_py._content import ContentText, ContentThinking, ContentToolRequest
from ellmer_py._eventstream import EventStreamDecoder, encode_message
from ellmer_py._http_errors import server_message
from ellmer_py._protocols import WireProtocol
from ellmer_py._sse import iter_sse
from ellmer_py.conformance import Context, FakeServer, Reply
from ellmer_py.conformance._protocol import Answer, ToolCall, Usage, protocol_fake

PROTOCOLS = list_protocols()
#: The provider driven end to end for a protocol (else the first one that speaks it).
PREFERRED_PROVIDER = {"openai-chat": "huggingface", "anthropic-messages": "anthropic"}

DEEP = 10_000
DEEP_LIST = "[" * DEEP + "]" * DEEP
DEEP_OBJECT = '{"a":' * DEEP + "1" + "}" * DEEP
#: Deep, but maybe not too deep for the JSON parser: what else recurses must cope.
NEAR_LIMIT = ["[" * n + "]" * n for n in (500, 900, 990)]
#: Raw JSON text put where a value goes: what ``json.dumps`` can't write.
RAW_VALUES = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1" * 5000,  # more digits than int() takes: the parser refuses it
    "123456789012345678901234567890",
    "-0",
    DEEP_LIST,
    DEEP_OBJECT,
    *NEAR_LIMIT,
    *(json.dumps(text) for text in NEAR_LIMIT),
    json.dumps(DEEP_LIST),  # deep JSON as a string: tool arguments, partial_json
    json.dumps(DEEP_OBJECT),
]
#: Values of the wrong type (or a doubtful value of the right one) for any field.
WRONG_VALUES: list[Any] = [
    {},
    [],
    "",
    "x",
    "12",
    "[DONE]",
    "\ud800",
    0,
    -1,
    5,
    2**70,
    -(2**63),
    1.5,
    math.nan,
    math.inf,
    True,
    False,
    None,
    [{}],
    [[]],
    [None, 1],
    {"a": None},
    {"type": "text"},
    {"index": {}},
]
_DELETE = object()
#: Lines of SSE framing a server may send between events (or in one).
SSE_LINES = [
    "retry: " + "1" * 5000,
    "retry: -5",
    "id: a\x00b",
    ": keep-alive",
    "data",
    "data:",
    "event",
    "event: error",
    "\ufeffdata: x",
    "no-colon-field",
    "data: " + "x" * 70_000,
    "",
]
_LINE = "\x00line"
GOOD_ANSWER = Answer(
    text_pieces=("Hel", "lo"),
    thinking_pieces=("hm",),
    tool_calls=(
        ToolCall("call_1", "lookup", {"q": "x", "n": 1}, pieces=('{"q": "x", ', '"n": 1}')),
    ),
    finish_reason="tool_calls",
    usage=Usage(input=12, output=5, cached=2),
)
TEXT_ANSWER = Answer(text_pieces=("Hi",), usage=Usage(input=3, output=1))


# -- the good answers of each protocol, from its fake ---------------------------------


def _docs(name: str) -> list[Any]:
    """Non-streamed answer documents of the protocol."""
    fake = protocol_fake(name)
    return [json.loads(fake.answer(a).body) for a in (GOOD_ANSWER, TEXT_ANSWER)]


def _events(name: str) -> list[tuple[str, Any]]:
    """The events of the protocol's streamed good answer: (event name, JSON doc or text)."""
    out: list[tuple[str, Any]] = []
    for event in iter_sse([protocol_fake(name).stream(GOOD_ANSWER).body]):
        try:
            out.append((event.event, json.loads(event.data)))
        except ValueError:
            out.append((event.event, event.data))  # [DONE]
    return out


def _keys(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            _keys(item, found)
    elif isinstance(value, list):
        for item in value:
            _keys(item, found)
    return found


def _vocabulary(name: str) -> list[str]:
    """Every key and string the protocol's good answers use: random shapes speak it."""
    found: set[str] = set()
    for doc in [*_docs(name), *(d for _, d in _events(name))]:
        _keys(doc, found)
    for _, doc in _events(name):
        for key in ("type",):
            if isinstance(doc, dict) and isinstance(doc.get(key), str):
                found.add(doc[key])
    return sorted(found)


# -- mutation -------------------------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _replaced(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``doc`` with the value at ``path`` replaced (or deleted: ``_DELETE``)."""
    if not path:
        return None if new is _DELETE else new
    doc = copy.deepcopy(doc)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if new is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return doc


def _json_shapes(keys: Sequence[str]) -> st.SearchStrategy[Any]:
    """Random JSON values whose dict keys are mostly the protocol's own."""
    key = st.sampled_from(keys) | st.text(alphabet="abc", min_size=1, max_size=2)
    scalar = json_scalars | st.sampled_from([*keys[:20], 2**70, math.nan])
    return st.recursive(
        scalar,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(key, children, max_size=4)
        ),
        max_leaves=10,
    )


@st.composite
def hostile_texts(draw: st.DrawFn, doc: Any, keys: Sequence[str], raw: bool = True) -> str:
    """``doc`` with up to three fields changed (wrong type, raw JSON, random, deleted), as text."""
    raws: list[str] = []
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(list(_paths(doc))))
        kind = draw(st.sampled_from(["wrong", "raw", "shape", "delete"] if raw else ["wrong"]))
        if kind == "wrong":
            new = draw(st.sampled_from(WRONG_VALUES))
        elif kind == "raw":
            new = f"\x00raw{len(raws)}\x00"
            raws.append(draw(st.sampled_from(RAW_VALUES)))
        elif kind == "shape":
            new = draw(_json_shapes(keys))
        else:
            new = _DELETE if path else None
        doc = _replaced(doc, path, new)
    text = json.dumps(doc)
    for index, value in enumerate(raws):
        text = text.replace(json.dumps(f"\x00raw{index}\x00"), value)
    return text


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` as it is, cut at any offset, or with invalid UTF-8 or a byte changed in it."""
    kind = draw(st.sampled_from(["as is", "as is", "cut", "invalid utf-8", "byte"]))
    if kind == "as is" or not data:
        return data
    at = draw(st.integers(0, len(data)))
    if kind == "cut":
        return data[:at]
    if kind == "invalid utf-8":
        return (
            data[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90"]))
            + data[at:]
        )
    return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]


def _split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` split at random offsets (or byte by byte, or whole)."""
    kind = draw(st.sampled_from(["whole", "random", "random", "bytes"]))
    if kind == "whole" or not data:
        return [data] if data else []
    if kind == "bytes" and len(data) < 4000:
        return [data[i : i + 1] for i in range(len(data))]
    cuts = draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=12))
    return _split(data, cuts)


@st.composite
def hostile_streams(draw: st.DrawFn, name: str) -> bytes:
    """The protocol's good event stream with events changed, added, dropped or reordered."""
    events = list(_EVENTS[name])
    keys = _VOCABULARY[name]
    texts: list[tuple[str, str]] = []
    for event, doc in events:
        texts.append((event, doc if isinstance(doc, str) else json.dumps(doc)))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(
            st.sampled_from(
                ["mutate", "mutate", "mutate", "shape", "drop", "swap", "error", "line"]
            )
        )
        at = draw(st.integers(0, len(texts) - 1)) if texts else 0
        if kind == "mutate" and texts:
            event, doc = events[at] if at < len(events) else ("message", {})
            texts[at] = (event, draw(hostile_texts(doc, keys)))
        elif kind == "shape":
            event = draw(st.sampled_from([e for e, _ in events] + ["message", "error", "x"]))
            texts.insert(at, (event, json.dumps(draw(_json_shapes(keys)), allow_nan=True)))
        elif kind == "drop" and texts:
            del texts[at]
        elif kind == "swap" and len(texts) > 1:
            other = draw(st.integers(0, len(texts) - 1))
            texts[at], texts[other] = texts[other], texts[at]
        elif kind == "error":
            body = draw(st.sampled_from(["not json", "{}", '{"error": 5}', DEEP_LIST, "[]", "7"]))
            texts.insert(at, ("error", body))
        elif kind == "line":
            texts.insert(at, (_LINE, draw(st.sampled_from(SSE_LINES))))
    eol = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    out = []
    for event, data in texts:
        if event == _LINE:
            out.append(f"{data}{eol}")
            continue
        head = f"event: {event}{eol}" if event != "message" else ""
        out.append(f"{head}data: {data}{eol}{eol}")
    return draw(damaged("".join(out).encode("utf-8", "surrogatepass")))


_DOCS = {name: _docs(name) for name in PROTOCOLS}
_EVENTS = {name: _events(name) for name in PROTOCOLS}
_VOCABULARY = {name: _vocabulary(name) for name in PROTOCOLS}


@st.composite
def hostile_bodies(draw: st.DrawFn, name: str) -> bytes:
    """A 200 body: the good answer mutated, a random shape, or a deep one; maybe damaged."""
    kind = draw(st.sampled_from(["mutate", "mutate", "shape", "raw"]))
    if kind == "mutate":
        doc = draw(st.sampled_from(_DOCS[name]))
        text = draw(hostile_texts(doc, _VOCABULARY[name]))
    elif kind == "shape":
        text = json.dumps(draw(_json_shapes(_VOCABULARY[name])))
    else:
        text = draw(st.sampled_from(RAW_VALUES))
    return draw(damaged(text.encode("utf-8", "surrogatepass")))


# -- the laws -------------------------------------------------------------------------


def _protocol(name: str) -> WireProtocol:
    return get_protocol_spec(name).factory()


def _check_turn(turn: Any) -> None:
    """A turn a caller can use: the types the data model promises."""
    assert isinstance(turn, AssistantTurn)
    assert isinstance(turn.text, str)
    assert turn.finish_reason is None or isinstance(turn.finish_reason, str)
    if turn.tokens is not None:
        assert isinstance(turn.tokens, Tokens)
        for count in (turn.tokens.input, turn.tokens.output, turn.tokens.cached_input):
            assert type(count) is int, turn.tokens
    for content in turn.contents:
        if isinstance(content, ContentText):
            assert isinstance(content.text, str)
        elif isinstance(content, ContentThinking):
            assert isinstance(content.thinking, str)
        elif isinstance(content, ContentToolRequest):
            assert isinstance(content.id, str) and content.id
            assert isinstance(content.name, str)


def _decode_stream(protocol: WireProtocol, chunks: Sequence[bytes]) -> AssistantTurn:
    """Feed ``chunks`` as the provider does; only our errors; ``turn()`` works at any time."""
    decoder = protocol.open_stream()
    try:
        for chunk in chunks:
            for piece in decoder.feed(chunk):
                assert isinstance(piece, (ContentText, ContentThinking)), piece
            _check_turn(decoder.turn())
            if decoder.done:
                break
        else:
            decoder.close()
    except EllmerError:
        pass
    turn = decoder.turn(1.0)
    _check_turn(turn)
    return turn


def _parse(protocol: WireProtocol, doc: Any) -> None:
    try:
        turn = protocol.parse_response(doc)
    except EllmerError:
        return
    _check_turn(turn)


# -- (a) the pure decoders -------------------------------------------------------------


@pytest.mark.parametrize("name", PROTOCOLS)
@given(data=st.data())
def test_parse_response_wrong_types(name: str, data: st.DataObject) -> None:
    doc = data.draw(st.sampled_from(_DOCS[name]))
    text = data.draw(hostile_texts(doc, _VOCABULARY[name], raw=False))
    _parse(_protocol(name), json.loads(text))


def _sse(events: Sequence[tuple[str, Any]]) -> bytes:
    return "".join(
        (f"event: {e}\n" if e != "message" else "")
        + f"data: {d if isinstance(d, str) else json.dumps(d)}\n\n"
        for e, d in events
    ).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("name", PROTOCOLS)
def test_every_field_every_wrong_type(name: str) -> None:
    """Each field of each good document and event, in turn, gets each wrong value (or goes)."""
    protocol = _protocol(name)
    for doc in _DOCS[name]:
        for path in _paths(doc):
            for value in [*WRONG_VALUES, _DELETE]:
                _parse(protocol, _replaced(doc, path, value))
    events = _EVENTS[name]
    for position, (event, doc) in enumerate(events):
        for path in _paths(doc):
            for value in [*WRONG_VALUES, _DELETE]:
                changed = list(events)
                changed[position] = (event, _replaced(doc, path, value))
                if changed[position][1] is None and value is _DELETE:
                    del changed[position]
                _decode_stream(protocol, [_sse(changed)])


@pytest.mark.parametrize("name", PROTOCOLS)
@given(data=st.data())
def test_parse_response_random_shapes(name: str, data: st.DataObject) -> None:
    doc = data.draw(_json_shapes(_VOCABULARY[name]))
    _parse(_protocol(name), doc)


@pytest.mark.parametrize("name", PROTOCOLS)
@given(data=st.data())
def test_parse_response_raw_values(name: str, data: st.DataObject) -> None:
    """NaN, infinities, huge numbers and nesting as deep as the JSON parser takes."""
    doc = data.draw(st.sampled_from(_DOCS[name]))
    text = data.draw(hostile_texts(doc, _VOCABULARY[name]))
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return  # the transport's business: a body that is not JSON (tested end to end)
    _parse(_protocol(name), parsed)


@pytest.mark.parametrize("name", PROTOCOLS)
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_stream_decoder_hostile_events(name: str, data: st.DataObject) -> None:
    stream = data.draw(hostile_streams(name))
    _decode_stream(_protocol(name), data.draw(chunkings(stream)))


@pytest.mark.parametrize("name", PROTOCOLS)
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_stream_decoder_unframed_body(name: str, data: st.DataObject) -> None:
    """A server that ignores ``stream: true`` sends a bare JSON body (maybe hostile)."""
    body = data.draw(hostile_bodies(name))
    _decode_stream(_protocol(name), data.draw(chunkings(body)))


@pytest.mark.parametrize("name", PROTOCOLS)
def test_stream_decoder_random_bytes(name: str) -> None:
    @given(st.lists(st.binary(max_size=64), max_size=8))
    def run(chunks: list[bytes]) -> None:
        _decode_stream(_protocol(name), chunks)

    run()


def _deep_streams(name: str) -> dict[str, bytes]:
    """The good stream with deep JSON as a whole event, and in every string field."""
    events = _EVENTS[name]
    out = {
        "data": b"data: " + DEEP_LIST.encode() + b"\n\n",
        "object": b"data: " + DEEP_OBJECT.encode() + b"\n\n",
    }
    for position, (event, doc) in enumerate(events):
        for path in _paths(doc):
            value = doc
            for step in path:
                value = value[step]
            if isinstance(value, str) and path:
                changed = _replaced(doc, path, DEEP_LIST)
                lines = [(e, d if isinstance(d, str) else json.dumps(d)) for e, d in events]
                lines[position] = (event, json.dumps(changed))
                body = "".join(
                    (f"event: {e}\n" if e != "message" else "") + f"data: {d}\n\n" for e, d in lines
                )
                out[f"{position}:{'.'.join(map(str, path))}"] = body.encode()
    return out


@pytest.mark.parametrize("name", PROTOCOLS)
def test_deep_nesting_in_streams_and_arguments(name: str) -> None:
    """10,000 levels in a ``data:`` line, and as the text of every string field (tool arguments)."""
    protocol = _protocol(name)
    for where, stream in _deep_streams(name).items():
        turn = _decode_stream(protocol, [stream])
        _decode_stream(protocol, _split(stream, range(0, len(stream), 1024)))
        assert isinstance(turn, AssistantTurn), where
    for doc in _DOCS[name]:
        for path in _paths(doc):
            _parse(protocol, _replaced(doc, path, DEEP_LIST))


@pytest.mark.parametrize("name", PROTOCOLS)
def test_deep_arguments_are_kept_as_text(name: str) -> None:
    """Tool arguments too deep to parse stay as their text: the tool loop reports them."""
    fake = protocol_fake(name)
    answer = Answer(
        tool_calls=(ToolCall("call_1", "f", raw_arguments=DEEP_LIST),), finish_reason="tool_calls"
    )
    turn = _decode_stream(_protocol(name), [fake.stream(answer).body])
    calls = [c for c in turn.contents if isinstance(c, ContentToolRequest)]
    assert [c.arguments for c in calls] == [DEEP_LIST]


def _counts(doc: Any, change: Any) -> Any:
    """``doc`` with every integer under a ``*_tokens`` key changed.

    (Gemini: ``*TokenCount``, Bedrock: ``*Tokens``.)
    """
    if isinstance(doc, dict):
        return {
            k: change(v)
            if k.endswith(("_tokens", "TokenCount", "Tokens")) and type(v) is int
            else _counts(v, change)
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [_counts(v, change) for v in doc]
    return doc


def _turn_of(name: str, change: Any, stream: bool) -> AssistantTurn:
    """The text answer with its token counts changed, decoded."""
    protocol = _protocol(name)
    fake = protocol_fake(name)
    if not stream:
        return protocol.parse_response(_counts(json.loads(fake.answer(TEXT_ANSWER).body), change))
    reply = fake.stream(TEXT_ANSWER)
    if any(v.startswith("application/vnd.amazon.eventstream") for _, v in reply.headers):
        frames = EventStreamDecoder().feed(reply.body)
        data = b"".join(
            encode_message(f.headers, json.dumps(_counts(json.loads(f.payload), change)).encode())
            for f in frames
        )
        return _decode_stream(protocol, [data])
    lines = []
    for event in iter_sse([reply.body]):
        try:
            data = json.dumps(_counts(json.loads(event.data), change))
        except ValueError:
            data = event.data
        lines.append(
            (f"event: {event.event}\n" if event.event != "message" else "") + f"data: {data}\n\n"
        )
    return _decode_stream(protocol, ["".join(lines).encode()])


@pytest.mark.parametrize("name", PROTOCOLS)
@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_string_token_counts(name: str, stream: bool) -> None:
    """Digit strings count (``"12"`` is 12); any other non-integer counts as 0."""
    good = _turn_of(name, lambda n: n, stream).tokens
    assert good is not None and good != Tokens()
    assert _turn_of(name, str, stream).tokens == good
    for odd in (
        "x",
        {},
        [],
        1.5,
        -3,
        True,
        math.inf,
        math.nan,
        "\u00b2",
        " 3",
        "+3",
        2**70,
        "9" * 40,
    ):
        tokens = _turn_of(name, lambda n, odd=odd: odd, stream).tokens
        assert tokens == Tokens(), (odd, tokens)


@given(st.data())
def test_server_message_of_any_body(data: st.DataObject) -> None:
    """An error body of any shape gives one line of text, never an exception."""
    body = data.draw(
        st.one_of(
            st.binary(max_size=64),
            _json_shapes(
                ["error", "message", "detail", "msg", "loc", "type", "code", "reason"]
            ).map(lambda v: json.dumps(v).encode()),
            st.sampled_from(RAW_VALUES).map(str.encode),
            st.sampled_from(
                [
                    b'{"detail": ' + DEEP_LIST.encode() + b"}",
                    b'{"error": ' + DEEP_OBJECT.encode() + b"}",
                    b'{"detail": [' * 400 + b"]}" * 400,
                    b"[" * 900 + b'"m"' + b"]" * 900,
                    b'{"error": ' * 900 + b'"m"' + b"}" * 900,
                ]
            ),
        )
    )
    ctype = data.draw(st.sampled_from([None, "application/json", "text/html", "text/plain"]))
    message = server_message(body, ctype, {})
    assert isinstance(message, str) and "\n" not in message


# -- (b) end to end, through a chat on a loopback server ----------------------------------


def _provider_for(name: str) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        providers = list_providers()
    preferred = PREFERRED_PROVIDER.get(name)
    if preferred in providers and get_provider_spec(preferred).protocol == name:
        return preferred
    return next((p for p in providers if get_provider_spec(p).protocol == name), None)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


def _chat(name: str, srv: FakeServer) -> Chat:
    provider = _provider_for(name)
    assert provider is not None, f"no registered provider speaks {name}"  # built-ins speak all
    chat = Context(get_provider_spec(provider)).make_chat(srv, credentials=lambda: "k")
    chat.set_turns([UserTurn("earlier"), AssistantTurn("answered")])
    return chat


def _exchange(chat: Chat, srv: FakeServer, reply: Reply, *, stream: bool) -> EllmerError | None:
    """One chat call against ``reply``; checks the law on the turns, returns the error if any."""
    srv.reset()
    srv.enqueue(reply)
    before = chat.get_turns()
    error: EllmerError | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if stream:
                for _ in chat.stream("hi"):
                    pass
            else:
                chat.chat("hi")
        except EllmerError as exc:
            error = exc
    after = chat.get_turns()
    unchanged = after == before
    if error is not None and reply.status != 200:
        assert unchanged, f"a request refused with {reply.status} changed the turns: {error!r}"
        return error
    if error is not None and not stream and unchanged:
        return error  # a body that is no answer at all: nothing arrived to keep
    # The answer (or a stream) arrived: the user's turn and an assistant turn are kept,
    # a partial one when the call failed.
    assert after[: len(before)] == before
    assert len(after) == len(before) + 2, (after, error)
    user, answer = after[-2:]
    assert isinstance(user, UserTurn) and user.text == "hi"
    assert isinstance(answer, AssistantTurn)
    if error is not None:
        assert isinstance(answer, AssistantPartialTurn), (answer, error)
    _check_turn(answer)
    return error


_E2E = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("name", PROTOCOLS)
@_E2E
@given(data=st.data())
def test_chat_hostile_body(name: str, server: FakeServer, data: st.DataObject) -> None:
    """A 200 JSON body, mutated, asked for with and without streaming."""
    chat = _chat(name, server)
    body = data.draw(hostile_bodies(name))
    stream = data.draw(st.booleans())
    _exchange(chat, server, Reply.raw(200, body, "application/json"), stream=stream)


@pytest.mark.parametrize("name", PROTOCOLS)
@_E2E
@given(data=st.data())
def test_chat_hostile_stream(name: str, server: FakeServer, data: st.DataObject) -> None:
    """A 200 event stream, mutated, chunked anyhow, maybe cut off."""
    chat = _chat(name, server)
    stream = data.draw(hostile_streams(name))
    chunks = data.draw(chunkings(stream))
    reply = Reply.cut(*chunks) if data.draw(st.booleans()) else Reply.sse(chunks)
    _exchange(chat, server, reply, stream=True)


@pytest.mark.parametrize("name", PROTOCOLS)
@_E2E
@given(data=st.data())
def test_chat_hostile_error_status(name: str, server: FakeServer, data: st.DataObject) -> None:
    """An error status with any body: our error, the turns as they were."""
    chat = _chat(name, server)
    status = data.draw(st.sampled_from([400, 401, 402, 403, 404, 413, 422, 429, 500, 503]))
    body = data.draw(hostile_bodies(name) | st.binary(max_size=40))
    ctype = data.draw(st.sampled_from(["application/json", "text/html", "text/plain", None]))
    stream = data.draw(st.booleans())
    error = _exchange(chat, server, Reply.raw(status, body, ctype), stream=stream)
    assert error is not None


@pytest.mark.parametrize("name", PROTOCOLS)
@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_chat_deep_nesting(name: str, stream: bool, server: FakeServer) -> None:
    """10,000 levels in a 200 body, an error body, an SSE event and tool arguments."""
    chat = _chat(name, server)
    deep = DEEP_LIST.encode()
    replies = [
        Reply.raw(200, deep, "application/json"),
        Reply.raw(200, DEEP_OBJECT.encode(), "application/json"),
        Reply.raw(500, deep, "application/json"),
        Reply.raw(400, b'{"error": ' + DEEP_OBJECT.encode() + b"}", "application/json"),
    ]
    if stream:
        replies.append(Reply.sse([b"data: " + deep + b"\n\n"]))
        replies += [Reply.sse([body]) for body in list(_deep_streams(name).values())[:12]]
    fake = protocol_fake(name)
    answer = Answer(
        tool_calls=(ToolCall("call_1", "f", raw_arguments=DEEP_LIST),), finish_reason="tool_calls"
    )
    # (A protocol that carries arguments as an object can't: deep only as a whole body, above.)
    with contextlib.suppress(RecursionError):
        replies.append(fake.stream(answer) if stream else fake.answer(answer))
    for reply in replies:
        _exchange(chat, server, reply, stream=stream)
