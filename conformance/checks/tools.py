"""Tools: one call, parallel calls and tool errors, streamed and not."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from ellmer_py import (
    AssistantTurn,
    Chat,
    ContentText,
    ContentToolRequest,
    ContentToolResult,
    Turn,
    UserTurn,
)

from .._context import Context
from .._protocol import Answer, ToolCall, Usage
from ..fake_server import FakeServer
from ._common import _HELLO, _check, _conformance_tools, _Log, _short
from .limitations import _usable_model

#: Split a stream's bytes into HTTP chunks every few bytes (tool-call deltas land in pieces).
_SMALL_CUTS = tuple(range(11, 20_000, 11))

_TOOL_NAMES = ["conformance_add", "conformance_fail", "conformance_upper"]


@dataclasses.dataclass
class _Exchange:
    """One chat() / stream() with tools, and what the chat and the server saw."""

    chat: Chat
    text: str
    pieces: list[Any]
    log: _Log
    bodies: list[Any]
    requested: list[ContentToolRequest]
    results: list[ContentToolResult]
    warnings: list[str]


def _tool_exchange(
    ctx: Context,
    srv: FakeServer,
    model: Mapping[str, Any],
    answers: Sequence[Answer],
    *,
    stream: bool,
    content: str = "text",
    label: str,
) -> _Exchange:
    fake = ctx.fake
    log: _Log = []
    chat = ctx.make_chat(srv, **model)
    chat.register_tools(_conformance_tools(log))
    requested: list[ContentToolRequest] = []
    results: list[ContentToolResult] = []
    chat.on_tool_request(requested.append)
    chat.on_tool_result(results.append)
    for answer in answers:
        srv.enqueue(fake.stream(answer, _SMALL_CUTS) if stream else fake.answer(answer))
    before = len(srv.requests)
    how = f"stream(content={content!r})" if stream else "chat()"
    pieces: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if stream:
                pieces = list(chat.stream(_HELLO, content=content))  # type: ignore[call-overload]
                text = "".join(
                    p if isinstance(p, str) else p.text
                    for p in pieces
                    if isinstance(p, (str, ContentText))
                )
            else:
                text = chat.chat(_HELLO)
        except Exception as exc:
            raise AssertionError(
                f"{label}: {how} raised {type(exc).__name__}: {exc} (a tool error must reach "
                "the model as an error result, not crash the chat)"
            ) from None
    bodies = [r.json for r in srv.requests[before:]]
    if len(bodies) != len(answers):
        raise AssertionError(
            f"{label}: {how} sent {len(bodies)} request(s), expected {len(answers)} (the tool "
            "loop sends the results back until the model answers in text)"
        )
    return _Exchange(
        chat,
        text,
        pieces,
        log,
        bodies,
        requested,
        results,
        [str(w.message) for w in caught],
    )


def _check_offered(ctx: Context, label: str, body: Any) -> None:
    offered = ctx.fake.tools_offered(body)
    assert sorted(offered) == _TOOL_NAMES, (
        f"{label}: the request offers the tools {sorted(offered)}, expected {_TOOL_NAMES}"
    )
    add = offered["conformance_add"]
    parameters = add.get("parameters")
    properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
    described = {
        name: (prop.get("type"), prop.get("description"))
        for name, prop in (properties or {}).items()
        if isinstance(prop, Mapping)
    }
    assert add.get("description") == "Add two whole numbers." and described == {
        "a": ("integer", "The first number."),
        "b": ("integer", "The second number."),
    }, f"{label}: conformance_add(a: int, b: int) is offered as {_short(add, 400)}"
    required = parameters.get("required") if isinstance(parameters, Mapping) else None
    assert isinstance(required, list) and {"a", "b"} <= set(required), (
        f"{label}: conformance_add's arguments a and b are not required: {_short(parameters)}"
    )


def _calls(calls: Sequence[ToolCall]) -> list[tuple[str, str, Any]]:
    return [(c.id, c.name, c.arguments) for c in calls]


def _requests(calls: Sequence[ToolCall]) -> tuple[ContentToolRequest, ...]:
    return tuple(ContentToolRequest(c.id, c.name, c.arguments) for c in calls)


def _check_turns(label: str, chat: Chat, expected: Sequence[Turn]) -> None:
    turns = chat.get_turns()
    got = [(type(t).__name__, t.contents) for t in turns]
    want = [(type(t).__name__, t.contents) for t in expected]
    assert got == want, f"{label}: the turns are {_short(got, 800)}, expected {_short(want, 800)}"


def _one_call(ctx: Context, srv: FakeServer, model: Mapping[str, Any]) -> None:
    """The model asks for one tool; it runs; the result goes back; the text is returned."""
    call = ToolCall(
        "call_conformance_1",
        "conformance_add",
        {"a": 2, "b": 40},
        pieces=('{"a": 2', ', "b": ', "40}"),
    )
    first = Answer(
        text_pieces=("Let me ", "add that."),
        tool_calls=(call,),
        finish_reason="tool_calls",
        usage=Usage(input=30, output=9),
    )
    last = Answer(text_pieces=("The sum ", "is 42."), usage=Usage(input=50, output=5))
    result = ContentToolResult(call.id, value=42)
    expected: list[Turn] = [
        UserTurn(_HELLO),
        AssistantTurn((ContentText(first.text), *_requests([call]))),
        UserTurn((result,)),
        AssistantTurn(last.text),
    ]
    seen: list[list[Turn]] = []
    for stream in (False, True):
        label = f"one tool call ({'streamed' if stream else 'not streamed'})"
        ex = _tool_exchange(
            ctx, srv, model, [first, last], stream=stream, content="all", label=label
        )
        _check_offered(ctx, f"{label}, first request", ex.bodies[0])
        assert ex.log == [("conformance_add", {"a": 2, "b": 40})], (
            f"{label}: the tool ran as {ex.log}, expected conformance_add(a=2, b=40) once"
        )
        assert ex.requested == list(_requests([call])) and ex.results == [result], (
            f"{label}: on_tool_request / on_tool_result saw {ex.requested} / {ex.results}"
        )
        sent_calls = _calls(ctx.fake.tool_calls_sent(ex.bodies[1]))
        assert sent_calls == _calls([call]), (
            f"{label}: the second request sends back the tool calls {sent_calls}, expected "
            f"{_calls([call])}"
        )
        sent = ctx.fake.tool_results_sent(ex.bodies[1])
        assert sent == [(call.id, "42")], (
            f"{label}: the second request sends the tool results {sent}, expected "
            f"[({call.id!r}, '42')] (the result, with the id of the call it answers)"
        )
        _check_offered(ctx, f"{label}, second request", ex.bodies[1])
        if stream:
            others = [p for p in ex.pieces if not isinstance(p, ContentText)]
            assert others == [*_requests([call]), result], (
                f"{label}: stream(content='all') yielded {_short(others, 400)} besides text, "
                "expected the ContentToolRequest then its ContentToolResult"
            )
            at = ex.pieces.index(others[0])
            before = "".join(p.text for p in ex.pieces[:at] if isinstance(p, ContentText))
            assert before == first.text and ex.text.replace("\n", "") == first.text + last.text, (
                f"{label}: stream(content='all') text is {ex.text!r} ({before!r} before the "
                f"tool call), expected {first.text!r} then {last.text!r}"
            )
        else:
            assert ex.text == last.text, f"{label}: chat() returned {ex.text!r}, not {last.text!r}"
        _check_turns(label, ex.chat, expected)
        seen.append(ex.chat.get_turns())
    assert seen[0] == seen[1], (
        f"one tool call: streamed turns differ from non-streamed ones: {_short(seen[1], 600)} != "
        f"{_short(seen[0], 600)}"
    )


def _parallel_calls(ctx: Context, srv: FakeServer, model: Mapping[str, Any]) -> None:
    """Two calls in one answer: both run, in order; both results go back."""
    calls = (
        ToolCall(
            "call_conformance_a",
            "conformance_add",
            {"a": 1, "b": 2},
            pieces=('{"a"', ': 1, "b": 2}'),
        ),
        ToolCall(
            "call_conformance_b",
            "conformance_upper",
            {"text": "ellmer"},
            pieces=('{"text": "ell', 'mer"}'),
        ),
    )
    first = Answer(tool_calls=calls, finish_reason="tool_calls", usage=Usage(input=20, output=7))
    last = Answer(text_pieces=("3 and ", "ELLMER."), usage=Usage(input=40, output=3))
    results = (
        ContentToolResult("call_conformance_a", value=3),
        ContentToolResult("call_conformance_b", value="ELLMER"),
    )
    for stream in (False, True):
        label = f"parallel tool calls ({'streamed' if stream else 'not streamed'})"
        ex = _tool_exchange(ctx, srv, model, [first, last], stream=stream, label=label)
        assert ex.log == [
            ("conformance_add", {"a": 1, "b": 2}),
            ("conformance_upper", {"text": "ellmer"}),
        ], f"{label}: the tools ran as {ex.log}, expected conformance_add then conformance_upper"
        sent_calls = _calls(ctx.fake.tool_calls_sent(ex.bodies[1]))
        assert sent_calls == _calls(calls), (
            f"{label}: the second request sends back the tool calls {sent_calls}"
        )
        sent = ctx.fake.tool_results_sent(ex.bodies[1])
        assert sent == [("call_conformance_a", "3"), ("call_conformance_b", "ELLMER")], (
            f"{label}: the second request sends the tool results {sent}, expected both, each "
            "with the id of its call"
        )
        assert ex.text == last.text, f"{label}: the answer is {ex.text!r}, not {last.text!r}"
        _check_turns(
            label,
            ex.chat,
            [
                UserTurn(_HELLO),
                AssistantTurn(_requests(calls)),
                UserTurn(results),
                AssistantTurn(last.text),
            ],
        )


def _tool_errors(ctx: Context, srv: FakeServer, model: Mapping[str, Any]) -> None:
    """A tool that raises, an unknown tool, bad arguments: error results, no crash."""
    calls = (
        ToolCall("call_conformance_raises", "conformance_fail", {"reason": "on purpose"}),
        ToolCall("call_conformance_unknown", "conformance_missing", {"x": 1}),
        ToolCall("call_conformance_bad_args", "conformance_add", {"a": "two", "b": 2}),
        ToolCall(
            "call_conformance_bad_json",
            "conformance_add",
            raw_arguments='{"a": 1, "b":',
            pieces=('{"a": 1', ', "b":'),
        ),
    )
    first = Answer(tool_calls=calls, finish_reason="tool_calls", usage=Usage(input=20, output=9))
    last = Answer(text_pieces=("Sorry, ", "the tools failed."), usage=Usage(input=60, output=4))
    for stream in (False, True):
        label = f"tool errors ({'streamed' if stream else 'not streamed'})"
        ex = _tool_exchange(ctx, srv, model, [first, last], stream=stream, label=label)
        assert ex.text == last.text, f"{label}: the answer is {ex.text!r}, not {last.text!r}"
        assert ex.log == [("conformance_fail", {"reason": "on purpose"})], (
            f"{label}: the tools ran as {ex.log}; only conformance_fail should have run (the "
            "others had an unknown name or unusable arguments)"
        )
        turns = ex.chat.get_turns()
        got = turns[2].contents if len(turns) == 4 else ()
        ids = [getattr(r, "id", None) for r in got]
        assert ids == [c.id for c in calls] and all(
            isinstance(r, ContentToolResult) and r.value is None and r.error for r in got
        ), f"{label}: expected an error result for each of the 4 calls, got {_short(got, 600)}"
        errors = [r.error or "" for r in got if isinstance(r, ContentToolResult)]
        assert "conformance tool failure: on purpose" in errors[0], (
            f"{label}: the error result of a tool that raised does not say why: {errors[0]!r}"
        )
        assert "conformance_missing" in errors[1], (
            f"{label}: the error result for an unknown tool does not name it: {errors[1]!r}"
        )
        sent = ctx.fake.tool_results_sent(ex.bodies[1])
        assert [i for i, _ in sent] == [c.id for c in calls], (
            f"{label}: the second request sends results for {[i for i, _ in sent]}, expected "
            f"{[c.id for c in calls]}"
        )
        for (call_id, text), error in zip(sent, errors, strict=True):
            assert error in text, (
                f"{label}: the result sent for {call_id} does not carry its error {error!r}: "
                f"{text!r}"
            )
        failed = [w for w in ex.warnings if "Failed to evaluate 4 tool calls" in w]
        assert len(failed) == 1, (
            f"{label}: expected one warning 'Failed to evaluate 4 tool calls', got {ex.warnings}"
        )


@_check
def check_tools(ctx: Context) -> None:
    """Tools: one call, parallel calls and tool errors, streamed and not.

    The model asks for a registered tool: the request offered it (name,
    description, argument types); it runs with the arguments; the result
    goes back with the id of its call, and the model's tool calls in the
    history; the final text is returned and the four turns are recorded in
    order, the same streamed (tool-call deltas split across chunks) and
    not; ``on_tool_request`` / ``on_tool_result`` see each call, and
    ``stream(content="all")`` yields the request then its result. Two calls
    in one answer both run and both results go back. A tool that raises,
    an unknown tool, arguments of the wrong type and arguments that are not
    JSON give the model error results and one warning, never a crash. A
    model with a declared ``tools`` limitation refuses before any request.
    (R: ``tool()``, ``$register_tool()``, the tool loop of ``$chat()``.)
    """
    with ctx.server() as srv:
        model = _usable_model(ctx, srv, "tools")
        if model is None:
            return
        _one_call(ctx, srv, model)
        _parallel_calls(ctx, srv, model)
        _tool_errors(ctx, srv, model)
