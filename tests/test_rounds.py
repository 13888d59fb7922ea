"""Rounds and R's smaller Chat helpers: get_rounds(), last_round(), add_turn(), stream=.

(R: ``Round``, ``$get_rounds()``, ``$last_round()``, ``$add_turn()``,
``$stream(stream = "content")``; issue 12, item 12.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ellmer_py import (
    AssistantTurn,
    ConfigurationError,
    ContentText,
    ContentToolRequest,
    ContentToolResult,
    SystemTurn,
    Tokens,
    UserTurn,
    chat_openai_compatible,
    token_usage,
)
from ellmer_py._rounds import Round, get_rounds
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data

REQUEST = ContentToolRequest(id="c1", name="weather", arguments={"city": "Oslo"})
RESULT = ContentToolResult(id="c1", value="cold")


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def make_chat(url: str = "http://127.0.0.1:9/v1", system: str | None = None):  # type: ignore[no-untyped-def]
    return chat_openai_compatible(
        base_url=url, model="m", credentials=lambda: "k", echo="none", system_prompt=system
    )


def tool_conversation() -> list:  # type: ignore[type-arg]
    return [
        UserTurn("What's the weather?"),
        AssistantTurn((REQUEST,)),
        UserTurn((RESULT,)),
        AssistantTurn("Cold."),
        UserTurn("Thanks"),
        AssistantTurn("You're welcome."),
    ]


def test_rounds_group_the_tool_loop_with_its_question() -> None:
    turns = tool_conversation()
    rounds = get_rounds(turns)
    assert [r.input for r in rounds] == [(turns[0],), (turns[4],)]
    assert [r.response for r in rounds] == [tuple(turns[1:4]), (turns[5],)]
    assert all(r.complete for r in rounds)
    assert [t for r in rounds for t in r.turns] == turns


def test_a_round_waiting_for_a_tool_or_an_answer_is_not_complete() -> None:
    assert not Round([UserTurn("hi")]).complete
    assert not Round([UserTurn("hi")], [AssistantTurn((REQUEST,))]).complete
    assert not Round([UserTurn("hi")], [AssistantTurn((REQUEST,)), UserTurn((RESULT,))]).complete


def test_a_system_turn_starts_the_round_of_the_user_turn_after_it() -> None:
    system, user, answer = SystemTurn("Be brief."), UserTurn("hi"), AssistantTurn("hello")
    (only,) = get_rounds([system, user, answer])
    assert only.input == (system, user) and only.response == (answer,)
    assert get_rounds([]) == []


def test_bad_rounds_are_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match="no preceding input turn"):
        get_rounds([AssistantTurn("hello")])
    with pytest.raises(ConfigurationError, match="at least one turn"):
        Round([])
    with pytest.raises(ConfigurationError, match="must not hold tool-result turns"):
        Round([UserTurn((RESULT,))])


def test_chat_rounds_leave_out_the_system_prompt_unless_asked() -> None:
    chat = make_chat(system="Be brief.")
    assert chat.get_rounds() == []
    # as R: with only a system prompt, the last round is that prompt alone
    assert chat.last_round() == Round([SystemTurn("Be brief.")])
    assert make_chat().last_round() is None
    chat.set_turns(tool_conversation())
    assert [r.input[0].text for r in chat.get_rounds()] == ["What's the weather?", "Thanks"]
    first = chat.get_rounds(include_system_prompt=True)[0]
    assert first.input == (SystemTurn("Be brief."), UserTurn("What's the weather?"))
    last = chat.last_round()
    assert last is not None and last.response == (AssistantTurn("You're welcome."),)


def test_add_turn_appends_a_pair_and_logs_its_tokens() -> None:
    chat = make_chat()
    before = {(r["provider"], r["model"]): r for r in token_usage()}.get(("OpenAI-compatible", "m"))
    answer = AssistantTurn("Paris.", tokens=Tokens(11, 3), cost=None)
    assert chat.add_turn(UserTurn("Capital of France?"), answer) is chat
    assert chat.get_turns() == [UserTurn("Capital of France?"), answer]
    after = {(r["provider"], r["model"]): r for r in token_usage()}[("OpenAI-compatible", "m")]
    assert after["input"] - (before["input"] if before else 0) == 11
    assert after["output"] - (before["output"] if before else 0) == 3
    chat.add_turn(UserTurn("And Spain?"), AssistantTurn("Madrid.", tokens=Tokens(5, 2)), False)
    again = {(r["provider"], r["model"]): r for r in token_usage()}[("OpenAI-compatible", "m")]
    assert again["input"] == after["input"]  # log_tokens=False: not logged
    assert len(chat.get_turns()) == 4


def test_add_turn_refuses_what_is_not_a_turn() -> None:
    chat = make_chat()
    with pytest.raises(ConfigurationError, match="add_turn\\(\\)'s user must be"):
        chat.add_turn("hi", AssistantTurn("hello"))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="set_system_prompt"):
        chat.add_turn(UserTurn("hi"), SystemTurn("x"))
    with pytest.raises(ConfigurationError, match="log_tokens"):
        chat.add_turn(UserTurn("hi"), AssistantTurn("x"), log_tokens="yes")  # type: ignore[arg-type]
    assert chat.get_turns() == []


def streamed(*pieces: str) -> Reply:
    events = [
        sse_data({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]})
        for p in pieces
    ]
    events.append(sse_data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    events.append(sse_data("[DONE]"))
    return Reply.sse(events)


def test_stream_takes_r_s_stream_argument(srv: FakeServer) -> None:
    srv.enqueue(streamed("a", "b"), streamed("c"))
    chat = make_chat(srv.base_url)
    pieces = list(chat.stream("hi", stream="content"))
    assert pieces == [ContentText("a"), ContentText("b")]
    assert list(chat.stream("again", stream="text")) == ["c"]
    with pytest.raises(ConfigurationError, match="stream must be 'text' or 'content'"):
        chat.stream("x", stream="all")  # type: ignore[call-overload]
    with pytest.raises(ConfigurationError, match="disagree"):
        chat.stream("x", stream="text", content="all")  # type: ignore[call-overload]
    assert len(chat.get_turns()) == 4
