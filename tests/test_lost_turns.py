"""Nothing a user saw is lost, and results of tools that ran are kept (issue 9).

Two rules, each on real loopback servers, for chat completions
(``chat_huggingface``) and Anthropic Messages (``chat_anthropic``):

- once an answer has arrived (streamed, or a whole document received), any
  failure to make it a turn (the decoder's ``turn()``, ``parse_response()``,
  pricing, reading structured JSON; a TypeError, a RecursionError, tokens of
  the wrong type) leaves the user's turn and an ``AssistantPartialTurn`` with
  the reason in ``get_turns()``, and raises one of our errors;
- a tool that ran (with its side effects) keeps its result when the request
  carrying it fails: the next request tells the model the real result.

The decoders are made to fail on purpose (a protocol wrapper), so these
tests hold whatever the decoders do with hostile answers; the hostile
answers themselves (string token counts, deeply nested arguments) are then
checked against the same law.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from attrs import evolve

import ellmer_py._exchange as exchange_module
import ellmer_py._provider as provider_module
import ellmer_py._structured as structured_module
from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    BadRequestError,
    Chat,
    ConnectionCutError,
    ContentToolRequest,
    ContentToolResult,
    EllmerError,
    MalformedResponseError,
    ServerError,
    Tokens,
    UserTurn,
    chat_anthropic,
    chat_huggingface,
    tool,
)
from ellmer_py.conformance import anthropic as anthropic_fake
from ellmer_py.conformance import openai_chat as openai_fake
from ellmer_py.conformance._protocol import Answer, ToolCall, Usage
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply, sse_data

KEY = "test_key_0123456789"
HELLO = Answer(text_pieces=("Hello", " there"), usage=Usage(input=10, output=5))


@dataclass(frozen=True)
class Side:
    """One protocol: its fake and how to make a chat that speaks it."""

    name: str
    fake: Any
    make: Callable[..., Chat]

    def chat(self, srv: FakeServer, **kwargs: Any) -> Chat:
        kwargs.setdefault("echo", "none")
        return self.make(
            base_url=srv.base_url, credentials=lambda: KEY, max_tries=1, timeout_s=5, **kwargs
        )


def _hf(**kwargs: Any) -> Chat:
    return chat_huggingface(model="org/model", **kwargs)


def _claude(**kwargs: Any) -> Chat:
    return chat_anthropic(model="claude-sonnet-5", **kwargs)


SIDES = [
    Side("openai-chat", openai_fake.FAKE, _hf),
    Side("anthropic", anthropic_fake.FAKE, _claude),
]


@pytest.fixture(params=SIDES, ids=[s.name for s in SIDES])
def side(request: pytest.FixtureRequest) -> Side:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HUGGINGFACE_API_KEY", "HF_TOKEN", "ANTHROPIC_API_KEY", "ELLMER_ECHO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


# -- a protocol whose decoding fails on purpose ---------------------------------------------


class _BreakingDecoder:
    """The real stream decoder, except that ``turn()`` raises ``error``."""

    def __init__(self, inner: Any, error: BaseException) -> None:
        self._inner = inner
        self._error = error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def feed(self, chunk: bytes) -> Any:
        return self._inner.feed(chunk)

    def close(self) -> Any:
        return self._inner.close()

    def turn(self, duration: float | None = None) -> AssistantTurn:
        raise self._error


class Breaks:
    """The real protocol, except that turning an answer into a turn raises ``error``."""

    def __init__(self, inner: Any, error: BaseException) -> None:
        self._inner = inner
        self._error = error
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def parse_response(self, doc: Any, duration: float | None = None) -> AssistantTurn:
        raise self._error

    def open_stream(self) -> Any:
        return _BreakingDecoder(self._inner.open_stream(), self._error)


class BadTokens(Breaks):
    """The real protocol, whose turns carry token counts that are not numbers."""

    def parse_response(self, doc: Any, duration: float | None = None) -> AssistantTurn:
        return evolve(self._inner.parse_response(doc, duration), tokens=Tokens("10", 5))  # type: ignore[arg-type]

    def open_stream(self) -> Any:
        inner = self._inner.open_stream()

        class Decoder(_BreakingDecoder):
            def turn(self, duration: float | None = None) -> AssistantTurn:
                return evolve(inner.turn(duration), tokens=Tokens("10", 5))  # type: ignore[arg-type]

        return Decoder(inner, RuntimeError())


def broken(side: Side, srv: FakeServer, protocol: Callable[[Any], Any]) -> Chat:
    """A chat of ``side`` whose provider speaks ``protocol(the real protocol)``."""
    provider = side.chat(srv).get_provider()
    return Chat(evolve(provider, protocol=protocol(provider.protocol)), echo="none")


def ask(chat: Chat, stream: bool, prompt: str = "hi") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if stream:
            return "".join(chat.stream(prompt))
        return chat.chat(prompt)


EARLIER = [UserTurn("earlier"), AssistantTurn("answered")]

FAILURES = [
    TypeError("unsupported operand type(s) for -: 'str' and 'int'"),
    RecursionError("maximum recursion depth exceeded"),
    KeyError("usage"),
    AttributeError("'str' object has no attribute 'get'"),
]


# -- the answer arrived: the turn is kept -----------------------------------------------------


@pytest.mark.parametrize("failure", FAILURES, ids=lambda e: type(e).__name__)
def test_a_streamed_answer_whose_turn_fails_is_kept(
    side: Side, srv: FakeServer, failure: BaseException
) -> None:
    chat = broken(side, srv, lambda p: Breaks(p, failure))
    chat.set_turns(EARLIER)
    srv.enqueue(side.fake.stream(HELLO))
    shown: list[str] = []
    with pytest.raises(MalformedResponseError) as info:
        shown.extend(chat.stream("hi"))
    assert "".join(shown) == "Hello there"
    assert type(failure).__name__ in str(info.value)
    assert info.value.provider
    turns = chat.get_turns()
    assert turns[:2] == EARLIER
    assert turns[2] == UserTurn("hi")
    partial = turns[3]
    assert isinstance(partial, AssistantPartialTurn)
    assert partial.text == "Hello there"  # what the user saw
    assert type(failure).__name__ in partial.reason
    assert len(turns) == 4


@pytest.mark.parametrize("failure", FAILURES, ids=lambda e: type(e).__name__)
def test_a_received_answer_whose_turn_fails_is_kept(
    side: Side, srv: FakeServer, failure: BaseException
) -> None:
    chat = broken(side, srv, lambda p: Breaks(p, failure))
    chat.set_turns(EARLIER)
    srv.enqueue(side.fake.answer(HELLO))
    with pytest.raises(MalformedResponseError) as info:
        chat.chat("hi")
    assert type(failure).__name__ in str(info.value)
    turns = chat.get_turns()
    assert turns[:3] == [*EARLIER, UserTurn("hi")]
    partial = turns[3]
    assert isinstance(partial, AssistantPartialTurn)
    assert type(failure).__name__ in partial.reason
    assert partial.json == json.loads(side.fake.answer(HELLO).body)  # the answer, kept raw
    assert len(turns) == 4


def test_our_own_error_from_a_received_answer_keeps_its_class(side: Side, srv: FakeServer) -> None:
    failure = MalformedResponseError("the answer has no content")
    chat = broken(side, srv, lambda p: Breaks(p, failure))
    srv.enqueue(side.fake.answer(HELLO))
    with pytest.raises(MalformedResponseError) as info:
        chat.chat("hi")
    assert info.value.provider == chat.get_provider().name
    assert str(info.value) == f"{chat.get_provider().name}: the answer has no content"
    assert [type(t) for t in chat.get_turns()] == [UserTurn, AssistantPartialTurn]


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_pricing_that_fails_keeps_the_answer(
    side: Side, srv: FakeServer, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    def account_turn(*args: Any) -> Any:
        raise TypeError("can't multiply sequence by non-int of type 'float'")

    monkeypatch.setattr(exchange_module, "account_turn", account_turn)
    monkeypatch.setattr(provider_module, "account_turn", account_turn)
    chat = side.chat(srv)
    srv.enqueue(side.fake.stream(HELLO) if stream else side.fake.answer(HELLO))
    with pytest.raises(MalformedResponseError, match="TypeError: can't multiply"):
        ask(chat, stream)
    user, partial = chat.get_turns()
    assert user == UserTurn("hi")
    assert isinstance(partial, AssistantPartialTurn)
    assert partial.text == "Hello there"
    assert "can't multiply" in partial.reason


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_token_counts_of_the_wrong_type_are_not_recorded(
    side: Side, srv: FakeServer, stream: bool
) -> None:
    chat = broken(side, srv, lambda p: BadTokens(p, RuntimeError()))
    srv.enqueue(side.fake.stream(HELLO) if stream else side.fake.answer(HELLO))
    with pytest.raises(EllmerError, match="token counts that are not whole numbers"):
        ask(chat, stream)
    user, partial = chat.get_turns()
    assert user == UserTurn("hi")
    assert isinstance(partial, AssistantPartialTurn)
    assert partial.text == "Hello there"
    assert partial.tokens is None
    assert chat.get_tokens()[0]["input"] == 0  # the chat's accounting still works
    repr(chat)


@dataclass
class Person:
    name: str


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_structured_json_that_fails_keeps_the_answer(
    side: Side, srv: FakeServer, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    def json_turn(turn: AssistantTurn) -> AssistantTurn:
        raise RecursionError("maximum recursion depth exceeded while decoding a JSON array")

    monkeypatch.setattr(structured_module, "json_turn", json_turn)
    chat = side.chat(srv)
    text = '{"name": "Ada"}'
    if side.name == "anthropic":
        srv.enqueue(anthropic_fake.FAKE.structured_responder(text, stream=stream))
    else:
        answer = Answer(text_pieces=(text,))
        srv.enqueue(side.fake.stream(answer) if stream else side.fake.answer(answer))
    with pytest.raises(MalformedResponseError, match="RecursionError"):
        chat.chat_structured("Who?", type=Person, echo="output" if stream else "none")
    user, partial = chat.get_turns()
    assert user == UserTurn("Who?")
    assert isinstance(partial, AssistantPartialTurn)
    assert "RecursionError" in partial.reason


def test_deeply_nested_structured_json_is_our_error(side: Side, srv: FakeServer) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    answer = Answer(text_pieces=(deep,))
    if side.name == "anthropic":
        srv.enqueue(anthropic_fake.FAKE.stream(answer))
    else:
        srv.enqueue(side.fake.stream(answer))
    chat = side.chat(srv, echo="none")
    with pytest.raises(EllmerError):
        chat.chat_structured("Who?", type=list[int], echo="output")
    user, answer_turn = chat.get_turns()
    assert user == UserTurn("Who?")
    assert answer_turn.text == deep  # left as text: nothing lost


def test_ctrl_c_while_the_turn_is_made_keeps_what_arrived(side: Side, srv: FakeServer) -> None:
    chat = broken(side, srv, lambda p: Breaks(p, KeyboardInterrupt()))
    srv.enqueue(side.fake.stream(HELLO))
    with pytest.raises(KeyboardInterrupt):
        ask(chat, stream=True)
    user, partial = chat.get_turns()
    assert user == UserTurn("hi")
    assert isinstance(partial, AssistantPartialTurn)
    assert partial.text == "Hello there"


def test_a_request_refused_before_any_answer_still_changes_nothing(
    side: Side, srv: FakeServer
) -> None:
    chat = side.chat(srv)
    chat.set_turns(EARLIER)
    for stream in (False, True):
        srv.enqueue(side.fake.error(400, "prompt too long"))
        with pytest.raises(BadRequestError):
            ask(chat, stream)
        assert chat.get_turns() == EARLIER


# -- hostile answers: the same law ------------------------------------------------------------


def _string_usage(side: Side, stream: bool) -> Reply:
    """HELLO, with token counts sent as strings."""
    if side.name == "anthropic":
        if not stream:
            doc = anthropic_fake.message(HELLO)
            doc["usage"] = {"input_tokens": "10", "output_tokens": "5"}
            return Reply.json(doc)
        items = []
        for name, data in anthropic_fake.events(HELLO):
            if name == "message_start":
                data = {**data, "message": {**data["message"], "usage": {"input_tokens": "10"}}}
            if name == "message_delta":
                data = {**data, "usage": {"output_tokens": "5", "input_tokens": "10"}}
            items.append(anthropic_fake.sse_event(name, data))
        return Reply.sse(items)
    usage = {"prompt_tokens": "10", "completion_tokens": "5", "total_tokens": "15"}
    if not stream:
        return Reply.json({**openai_fake.completion(HELLO), "usage": usage})
    chunks = openai_fake.chunks(HELLO)
    chunks[-1] = {**chunks[-1], "usage": usage}
    return Reply.sse([*(sse_data(c) for c in chunks), sse_data("[DONE]")])


def _deep_arguments(side: Side) -> Reply:
    """A streamed tool call whose arguments are JSON nested 100,000 deep."""
    deep = "[" * 100_000 + "]" * 100_000
    call = ToolCall(
        id="call_1", name="f", raw_arguments=deep, pieces=(deep[:150_000], deep[150_000:])
    )
    return side.fake.stream(Answer(text_pieces=("Let me see.",), tool_calls=(call,)))


def _check_the_law(chat: Chat, shown: str, error: EllmerError | None) -> None:
    """The user's turn and an answer are kept; a partial one when the call failed."""
    turns = chat.get_turns()
    assert turns[:2] == EARLIER
    assert len(turns) == 4, turns
    assert turns[2] == UserTurn("hi")
    answer = turns[3]
    assert isinstance(answer, AssistantTurn)
    assert answer.text == shown
    if error is not None:
        assert isinstance(answer, AssistantPartialTurn)
        assert answer.reason
    for turn in turns:
        tokens = getattr(turn, "tokens", None)
        assert tokens is None or all(
            type(n) is int for n in (tokens.input, tokens.output, tokens.cached_input)
        )
    chat.get_tokens()
    chat.get_cost()
    repr(chat)


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_string_token_counts(side: Side, srv: FakeServer, stream: bool) -> None:
    chat = side.chat(srv)
    chat.set_turns(EARLIER)
    srv.enqueue(_string_usage(side, stream))
    error: EllmerError | None = None
    try:
        said = ask(chat, stream)
    except EllmerError as exc:
        error, said = exc, "Hello there"
    _check_the_law(chat, "Hello there", error)
    assert said == "Hello there"


def test_deeply_nested_tool_arguments(side: Side, srv: FakeServer) -> None:
    chat = side.chat(srv)
    chat.set_turns(EARLIER)
    srv.enqueue(_deep_arguments(side))
    shown: list[str] = []
    error: EllmerError | None = None
    try:
        shown.extend(chat.stream("hi"))
    except EllmerError as exc:
        error = exc
    _check_the_law(chat, "".join(shown), error)
    assert "".join(shown) == "Let me see."


# -- a tool ran, the request carrying its result failed ---------------------------------------


class Counter:
    """A tool with a side effect: it counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, n: int) -> int:
        """Add one to the counter, return n squared.

        Args:
            n: A number.
        """
        self.calls += 1
        return n * n


CALL = Answer(tool_calls=(ToolCall(id="call_1", name="square", arguments={"n": 6}),))
DONE = Answer(text_pieces=("36, and the counter moved.",))


def _failure(side: Side, how: str) -> Reply:
    if how == "400":
        return side.fake.error(400, "the request was rejected")
    if how == "500":
        return side.fake.error(500, "the server fell over")
    return Reply.drop()


_RAISED = {"400": BadRequestError, "500": ServerError, "drop": ConnectionCutError}


def _results_sent(side: Side, request: RecordedRequest) -> list[tuple[str, str]]:
    return list(side.fake.tool_results_sent(request.json))


@pytest.mark.parametrize("how", ["400", "500", "drop"])
@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_a_tool_result_outlives_the_request_that_failed(
    side: Side, srv: FakeServer, how: str, stream: bool
) -> None:
    square = Counter()
    chat = side.chat(srv, echo="output" if stream else "none")
    chat.register_tool(tool(square, name="square"))
    srv.enqueue(side.fake.stream(CALL) if stream else side.fake.answer(CALL))
    srv.default = lambda request: _failure(side, how)  # however often the request is tried
    with pytest.raises(_RAISED[how]):
        chat.chat("Square 6, please.")
    assert square.calls == 1
    result = ContentToolResult("call_1", value=36)
    turns = chat.get_turns()
    assert [type(t) for t in turns] == [UserTurn, AssistantTurn, UserTurn]
    assert turns[0] == UserTurn("Square 6, please.")
    assert turns[1].contents == (ContentToolRequest("call_1", "square", {"n": 6}),)
    assert turns[2] == UserTurn([result])
    assert len(srv.requests) >= 2
    assert _results_sent(side, srv.requests[1]) == [("call_1", "36")]

    sent = len(srv.requests)
    srv.default = None
    srv.enqueue(side.fake.stream(DONE) if stream else side.fake.answer(DONE))
    assert chat.chat("Go on.") == DONE.text
    assert square.calls == 1  # the tool did not run again
    assert len(srv.requests) == sent + 1
    third = srv.requests[-1]
    assert _results_sent(side, third) == [("call_1", "36")]  # the real result, once
    assert "Chat ended before the tool could be invoked" not in third.text
    turns = chat.get_turns()
    assert turns[2:4] == [UserTurn([result]), UserTurn("Go on.")]
    assert len(turns) == 5
    assert turns[-1].text == DONE.text


def test_results_stay_when_the_reader_stops_after_them(side: Side, srv: FakeServer) -> None:
    square = Counter()
    chat = side.chat(srv)
    chat.register_tool(tool(square, name="square"))
    srv.enqueue(side.fake.stream(CALL), side.fake.answer(DONE))
    stream = chat.stream("Square 6, please.", content="all")
    for piece in stream:
        if isinstance(piece, ContentToolResult):
            break
    stream.close()  # type: ignore[attr-defined]
    assert square.calls == 1
    assert chat.get_turns()[-1] == UserTurn([ContentToolResult("call_1", value=36)])
    assert len(srv.requests) == 1
    assert chat.chat("Go on.") == DONE.text
    assert _results_sent(side, srv.requests[1]) == [("call_1", "36")]
    assert square.calls == 1


def test_a_tool_result_that_cannot_be_sent_is_kept(side: Side, srv: FakeServer) -> None:
    """A result the body can't carry fails before the request, naming where; it stays."""

    def shout() -> str:
        """Shout."""
        return "bad \ud800 text"

    chat = side.chat(srv)
    chat.register_tool(tool(shout))
    srv.enqueue(side.fake.answer(Answer(tool_calls=(ToolCall(id="call_1", name="shout"),))))
    with pytest.raises(EllmerError, match="lone surrogate") as info:
        chat.chat("Shout.")
    assert "the request body[" in str(info.value)
    assert len(srv.requests) == 1  # the second request was never sent
    assert isinstance(chat.get_turns()[-1], UserTurn)
    assert isinstance(chat.get_turns()[-1].contents[0], ContentToolResult)
