"""Tools (``ellmer_py._tools``) and the tool loop in ``Chat`` (R: ``tool()``, ``chat_impl``).

Pure tests of ``tool()`` and ``invoke_tool()``, then whole conversations
against a loopback FakeServer with scripted answers, then the recorded tool
answers of the Hugging Face router replayed through the loop.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

from ellmer_py import (
    BadRequestError,
    Chat,
    ConfigurationError,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
    ServerError,
    ToolDef,
    ToolError,
    ToolReject,
    TypeBasic,
    TypeObject,
    UserTurn,
    chat_huggingface,
    contents_record,
    contents_replay,
    tool,
    tool_annotations,
    tool_reject,
    type_ignore,
    type_integer,
    type_number,
    type_string,
)
from ellmer_py._invoke import invoke_tool, invoke_tools
from ellmer_py._protocols.openai_chat import OpenAIChat
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply, sse_data

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "hf-router"
KEY = "hf_test_key_0123456789"


# -- functions used as tools (module level, so their type hints resolve) ----------------------


def square_root(number: float) -> float:
    """Calculates and return the square root of a number.

    Args:
        number: The number to take the square root of.
    """
    return math.sqrt(number)


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


@dataclasses.dataclass
class Place:
    city: str
    country: str = "US"


def forecast(
    location: str,
    format: Literal["celsius", "fahrenheit"],
    num_days: int,
) -> dict[str, Any]:
    """Get an N-day weather forecast.

    Parameters
    ----------
    location : str
        The city and state, e.g. San Francisco, CA.
    format : str
        The temperature unit to use.
    num_days : int
        The number of days to forecast.
    """
    return {"location": location, "format": format, "days": [20] * num_days}


def describe(place: Place, unit: Unit = Unit.CELSIUS, note: str | None = None) -> str:
    """Describe a place.

    :param place: Where.
    :param unit: Which unit.
    """
    return f"{place.city}, {place.country} in {unit.value} ({note})"


def no_args() -> str:
    """Gets the current date."""
    return "2025-01-01"


# -- tool() ------------------------------------------------------------------------------------


def test_tool_reads_the_signature_hints_and_docstring() -> None:
    t = tool(square_root)
    assert t.name == "square_root"
    assert t.description == "Calculates and return the square root of a number."
    assert t.arguments == TypeObject(
        {"number": TypeBasic("number", description="The number to take the square root of.")}
    )
    assert t(16) == 4.0  # a ToolDef calls its function
    assert OpenAIChat().tool_json(t) == {
        "type": "function",
        "function": {
            "name": "square_root",
            "description": "Calculates and return the square root of a number.",
            "strict": True,
            "parameters": {
                "type": "object",
                "description": "",
                "properties": {
                    "number": {
                        "type": "number",
                        "description": "The number to take the square root of.",
                    }
                },
                "required": ["number"],
                "additionalProperties": False,
            },
        },
    }


def test_tool_schema_for_richer_signatures() -> None:
    assert tool(forecast).schema(strict=True)["properties"] == {
        "location": {
            "type": "string",
            "description": "The city and state, e.g. San Francisco, CA.",
        },
        "format": {
            "type": "string",
            "description": "The temperature unit to use.",
            "enum": ["celsius", "fahrenheit"],
        },
        "num_days": {"type": "integer", "description": "The number of days to forecast."},
    }
    schema = tool(describe).schema(strict=True)
    assert schema["required"] == ["place", "unit", "note"]
    assert schema["properties"]["place"] == {
        "type": "object",
        "description": "Where.",
        "properties": {
            "city": {"type": "string", "description": ""},
            "country": {"type": ["string", "null"], "description": ""},
        },
        "required": ["city", "country"],
        "additionalProperties": False,
    }
    assert schema["properties"]["unit"] == {
        "type": ["string", "null"],
        "description": "Which unit.",
        "enum": ["celsius", "fahrenheit", None],
    }
    assert schema["properties"]["note"] == {"type": ["string", "null"], "description": ""}
    assert tool(no_args).schema() == {
        "type": "object",
        "description": "",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


def test_annotated_descriptions_win_over_the_docstring() -> None:
    def f(x: Annotated[int, "From the annotation"]) -> int:
        """Doc.

        Args:
            x: From the docstring.
        """
        return x

    assert tool(f).arguments.properties["x"] == TypeBasic(
        "integer", description="From the annotation"
    )


def test_tool_with_explicit_arguments_name_and_description() -> None:
    t = tool(
        math.sqrt,  # a builtin: no type hints, positional-only
        "Square root",
        arguments={"x": type_number("A number")},
        name="root",
        annotations=tool_annotations(title="Root", read_only_hint=True),
    )
    assert (t.name, t.description) == ("root", "Square root")
    assert t.arguments == TypeObject({"x": type_number("A number")})
    assert t.annotations == {"title": "Root", "read_only_hint": True}
    result = invoke_tool(t, ContentToolRequest("c1", "root", {"x": 9}))
    assert result == ContentToolResult("c1", value=3.0)


def test_tool_arguments_as_a_type_object_and_ignored_ones() -> None:
    def f(a: int, b: int = 2) -> int:
        return a * b

    t = tool(f, "Multiply", arguments={"a": type_integer(), "b": type_ignore()})
    assert list(t.arguments.properties) == ["a"]
    assert invoke_tool(t, ContentToolRequest("1", "f", {"a": 3})).value == 6
    t2 = tool(f, "Multiply", arguments=TypeObject({"a": type_integer(), "b": type_integer()}))
    assert list(t2.arguments.properties) == ["a", "b"]


class Adder:
    """Add to a number."""

    def __call__(self, x: int, y: int = 1) -> int:
        return x + y


def multiply(a: int, b: int) -> int:
    """Multiply two numbers."""
    return a * b


def test_callable_objects_and_partials_read_their_hints() -> None:
    import functools

    adder = tool(Adder(), name="adder")
    assert adder.description == "Add to a number."
    assert adder.arguments == TypeObject(
        {"x": TypeBasic("integer"), "y": TypeBasic("integer", required=False)}
    )
    assert invoke_tool(adder, ContentToolRequest("1", "adder", {"x": 4})).value == 5
    double = tool(functools.partial(multiply, b=2), "Double", name="double")
    assert list(double.arguments.properties) == ["a", "b"]
    assert invoke_tool(double, ContentToolRequest("1", "double", {"a": 4, "b": None})).value == 8


def test_lambdas_get_unique_names() -> None:
    first = tool(lambda: 1, "One")
    second = tool(lambda: 2, "Two")
    assert first.name.startswith("tool_") and second.name.startswith("tool_")
    assert first.name != second.name


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: tool(42, "x"), "tool() needs a function, not int"),
        (lambda: tool(square_root, name="has space"), "only letters, numbers, - and _"),
        (lambda: tool(lambda x: x), "needs a description of tool_"),
        (lambda: tool(lambda x: x, "d"), "argument 'x' has no type hint"),
        (
            lambda: tool(square_root, arguments={"number": type_number(), "y": type_string()}),
            "extra type definitions: y",
        ),
        (lambda: tool(forecast, arguments={"location": str}), "missing type definitions: format"),
        (lambda: tool(square_root, arguments=["number"]), "must be a dict of parameter names"),
        (lambda: tool(square_root, description=3), "description must be a string"),
        (lambda: tool(square_root, convert="yes"), "convert must be True or False"),
        (lambda: tool(math.sqrt, "no hints"), "argument 'x' has no type hint"),
        (lambda: tool_annotations(read_only_hint="yes"), "read_only_hint must be True"),
        (lambda: ToolDef(square_root, name="a b"), "only letters, numbers"),
        (lambda: ToolDef(square_root, name="ok", arguments={}), "must be a TypeObject"),
    ],
)
def test_bad_tool_definitions_say_what_is_wrong(make: Any, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        make()
    assert fragment in str(info.value)


def test_tool_reject() -> None:
    with pytest.raises(ToolReject) as info:
        tool_reject()
    assert str(info.value) == "Tool call rejected. The user has chosen to disallow the tool call."
    assert isinstance(info.value, ToolError)
    with pytest.raises(ToolReject, match=r"^Tool call rejected\. Not today\.$"):
        tool_reject("Not today.")


# -- invoke_tool() ---------------------------------------------------------------------------------

ROOT = tool(square_root)


def run(t: ToolDef | None, arguments: Any, name: str = "square_root") -> ContentToolResult:
    return invoke_tool(t, ContentToolRequest("call_1", name, arguments))


@pytest.mark.parametrize(
    ("t", "arguments", "error"),
    [
        (None, {"number": 4}, "Unknown tool 'square_root'."),
        (
            ROOT,
            '{"number": 4',
            'The arguments are not valid JSON: {"number": 4; send a JSON object.',
        ),
        (ROOT, [4], "The arguments must be a JSON object, not a JSON array."),
        (ROOT, {"number": 4, "base": 2}, "Unused argument: base"),
        (ROOT, {"number": 4, "a": 1, "b": 2}, "Unused arguments: a, b"),
        (ROOT, {}, "Invalid arguments: $: missing required property 'number'"),
        (
            ROOT,
            {"number": "four"},
            'Invalid arguments: $.number: expected number, got string "four"',
        ),
        (ROOT, {"number": None}, "Invalid arguments: $.number: expected number, got null null"),
        (ROOT, {"number": -1}, "ValueError: math domain error"),
    ],
)
def test_failures_become_error_results(t: ToolDef | None, arguments: Any, error: str) -> None:
    result = run(t, arguments)
    assert result == ContentToolResult("call_1", error=error)
    assert result.model_text() == f"Tool calling failed with error {error}"


def test_arguments_are_converted_to_the_annotated_types() -> None:
    result = run(tool(describe), {"place": {"city": "Oslo", "country": None}, "unit": "fahrenheit"})
    assert result == ContentToolResult("call_1", value="Oslo, US in fahrenheit (None)")
    # null for a parameter with a default means the default (ellmer drops NULL arguments)
    assert run(tool(describe), {"place": {"city": "Rome"}, "unit": None, "note": "hi"}).value == (
        "Rome, US in celsius (hi)"
    )
    # an integer will do for a float, and an integral float for an int
    assert run(ROOT, {"number": 16}).value == 4.0
    days = run(tool(forecast), {"location": "X", "format": "celsius", "num_days": 2.0})
    assert days.value == {"location": "X", "format": "celsius", "days": [20, 20]}


def test_conversion_errors_name_the_argument() -> None:
    result = run(tool(describe), {"place": {"city": "Oslo", "zip": 1}})
    assert result.error is not None
    assert result.error.startswith("Invalid arguments: $.place: unexpected property 'zip'")
    result = run(tool(describe), {"place": {"city": "Oslo"}, "unit": "kelvin"})
    assert result.error == (
        'Invalid arguments: $.unit: "kelvin" is not one of "celsius", "fahrenheit", null'
    )

    def f(x: int) -> int:
        return x

    # a schema given by hand that lets through what the annotation refuses
    result = run(tool(f, "f", arguments={"x": type_string()}), {"x": "seven"}, "f")
    assert result.error == "Invalid argument x: expected int, got str 'seven' @ $"


def test_convert_false_passes_the_arguments_as_they_came() -> None:
    seen: list[Any] = []

    def f(**kwargs: Any) -> str:
        seen.append(kwargs)
        return "ok"

    t = tool(f, "Anything", arguments={}, convert=False)
    assert run(t, {"whatever": [1, 2]}, "f").value == "ok"
    assert seen == [{"whatever": [1, 2]}]


def test_results_are_made_json_ready() -> None:
    @dataclasses.dataclass
    class Out:
        unit: Unit
        values: tuple[int, ...]

    def f() -> Out:
        return Out(Unit.CELSIUS, (1, 2))

    assert run(tool(f, "f"), {}, "f").value == {"unit": "celsius", "values": [1, 2]}

    def g() -> object:
        return object()

    result = run(tool(g, "g"), {}, "g")
    assert result.error == (
        "The tool returned a object, which cannot be sent as JSON; return a string or JSON-ready "
        "data."
    )

    def h() -> ContentToolResult:
        return ContentToolResult("ignored", value="custom", error=None)

    assert run(tool(h, "h"), {}, "h") == ContentToolResult("call_1", value="custom")


def test_a_tool_may_reject_its_own_call() -> None:
    def guarded() -> str:
        tool_reject("No access.")
        return "never"

    assert run(tool(guarded, "g"), {}, "guarded").error == "Tool call rejected. No access."


def test_async_tools_cannot_run_in_a_sync_chat() -> None:
    async def later() -> int:
        return 1

    with pytest.raises(ToolError, match=r"later\(\) is async"):
        run(tool(later, "Later"), {}, "later")


def test_invoke_tools_yields_each_request_then_its_result() -> None:
    requests = [
        ContentToolRequest("a", "square_root", {"number": 4}),
        ContentToolRequest("b", "nope", {}),
        ContentToolRequest("c", "square_root", {"number": 9}),
    ]
    seen: list[Any] = []

    def on_request(request: ContentToolRequest) -> None:
        seen.append(("request", request.id))
        if request.id == "c":
            tool_reject()

    steps = list(
        invoke_tools(requests, {"square_root": ROOT}, on_request, lambda r: seen.append(r.id))
    )
    assert steps == [
        requests[0],
        ContentToolResult("a", value=2.0),
        requests[1],
        ContentToolResult("b", error="Unknown tool 'nope'."),
        requests[2],
        ContentToolResult(
            "c", error="Tool call rejected. The user has chosen to disallow the tool call."
        ),
    ]
    assert seen == [("request", "a"), "a", ("request", "b"), "b", ("request", "c"), "c"]


# -- the tool loop, against a loopback server ------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HUGGINGFACE_API_KEY", "HF_TOKEN", "ELLMER_ECHO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def hf(srv: FakeServer, model: str = "org/model", **kwargs: Any) -> Chat:
    kwargs.setdefault("echo", "none")
    return chat_huggingface(
        model=model,
        base_url=srv.base_url,
        credentials=lambda: KEY,
        max_tries=1,
        timeout_s=5,
        **kwargs,
    )


def call(id: str | None, name: str, arguments: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if id is not None:
        out["id"] = id
    return out


def calls_answer(*calls: dict[str, Any], text: str | None = None) -> Reply:
    """A non-streamed answer asking for tool calls."""
    message = {"role": "assistant", "content": text, "tool_calls": list(calls)}
    return Reply.json(
        {
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
        }
    )


def text_answer(text: str) -> Reply:
    message = {"role": "assistant", "content": text}
    return Reply.json({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return sse_data({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def streamed_text(*pieces: str) -> Reply:
    items = [chunk({"content": p}) for p in pieces]
    return Reply.sse([*items, chunk({}, "stop"), sse_data("[DONE]")])


def messages(request: RecordedRequest) -> list[dict[str, Any]]:
    return list(request.json["messages"])


def tool_message(id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "content": content, "tool_call_id": id}


def test_one_tool_call_round_trip(srv: FakeServer) -> None:
    chat = hf(srv)
    chat.register_tool(tool(square_root))
    srv.enqueue(calls_answer(call("call_1", "square_root", '{"number": 16}')), text_answer("4."))
    assert chat.chat("Square root of 16?") == "4."
    first, second = srv.requests
    assert first.json["tools"] == [OpenAIChat().tool_json(tool(square_root))]
    assert second.json["tools"] == first.json["tools"]
    assert messages(second) == [
        {"role": "user", "content": "Square root of 16?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "square_root", "arguments": '{"number": 16}'},
                }
            ],
        },
        tool_message("call_1", "4.0"),
    ]
    turns = chat.get_turns()
    assert [type(t).__name__ for t in turns] == [
        "UserTurn",
        "AssistantTurn",
        "UserTurn",
        "AssistantTurn",
    ]
    assert turns[1].contents == (ContentToolRequest("call_1", "square_root", {"number": 16}),)
    assert turns[2] == UserTurn([ContentToolResult("call_1", value=4.0)])
    assert turns[3].text == "4."


def test_parallel_calls_streamed_deltas_without_ids_and_object_arguments(srv: FakeServer) -> None:
    """Two calls interleaved by index, one without any id, one with TGI's object arguments."""
    ran: list[Any] = []

    def weather(city: str) -> str:
        """Weather for a city."""
        ran.append(("weather", city))
        return f"sunny in {city}"

    def root(number: float) -> float:
        """Square root."""
        ran.append(("root", number))
        return math.sqrt(number)

    chat = hf(srv)
    chat.register_tools([weather, tool(root)])
    first = Reply.sse(
        [
            chunk({"role": "assistant", "content": "Checking"}),
            chunk({"tool_calls": [{"index": 0, "function": {"name": "weather", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 1, "id": "r1", "function": {"name": "root"}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": {"number": 81}}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
            chunk({}, "tool_calls"),
            sse_data("[DONE]"),
        ]
    )
    srv.enqueue(first, streamed_text("Oslo is ", "sunny; 9."))
    assert "".join(chat.stream("Weather in Oslo and root of 81?")) == "Checking\nOslo is sunny; 9."
    assert ran == [("weather", "Oslo"), ("root", 81.0)]
    sent = messages(srv.requests[1])
    assert sent[1]["tool_calls"] == [
        {
            "id": "call_0",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
        },
        {
            "id": "r1",
            "type": "function",
            "function": {"name": "root", "arguments": '{"number": 81}'},
        },
    ]
    assert sent[2:] == [tool_message("call_0", "sunny in Oslo"), tool_message("r1", "9.0")]
    assert chat.last_turn().text == "Oslo is sunny; 9."  # type: ignore[union-attr]


def test_stream_content_all_yields_content_objects(srv: FakeServer) -> None:
    chat = hf(srv)
    chat.register_tool(tool(square_root))
    first = Reply.sse(
        [
            chunk({"reasoning": "Need a "}),
            chunk({"reasoning": "root."}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "c1",
                            "function": {"name": "square_root", "arguments": '{"number": 4}'},
                        }
                    ]
                },
                "tool_calls",
            ),
            sse_data("[DONE]"),
        ]
    )
    srv.enqueue(first, streamed_text("It is ", "2."))
    pieces = list(chat.stream("root of 4", content="all"))
    assert pieces == [
        ContentThinking("Need a "),
        ContentThinking("root."),
        ContentToolRequest("c1", "square_root", {"number": 4}),
        ContentToolResult("c1", value=2.0),
        ContentText("It is "),
        ContentText("2."),
    ]
    # the thinking is kept in the turn, and not sent back
    assert chat.get_turns()[1].contents[0] == ContentThinking("Need a root.")
    assert "reasoning" not in messages(srv.requests[1])[1]
    with pytest.raises(ConfigurationError, match="content must be 'text' or 'all'"):
        chat.stream("x", content="everything")  # type: ignore[call-overload]


def test_content_all_without_streaming_tools(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(streamed_text("plain"))
    assert list(chat.stream("hi", content="all")) == [ContentText("plain")]


def test_tool_errors_go_to_the_model_and_warn_once(srv: FakeServer) -> None:
    chat = hf(srv)
    chat.register_tool(tool(square_root))
    srv.enqueue(
        calls_answer(
            call("a", "square_root", '{"number": -1}'),
            call("b", "cube_root", '{"number": 8}'),
            call("c", "square_root", '{"number": '),  # cut-off JSON stays raw text
        ),
        text_answer("Sorry."),
    )
    with pytest.warns(UserWarning) as record:
        assert chat.chat("roots") == "Sorry."
    assert [str(w.message) for w in record] == [
        "Failed to evaluate 3 tool calls.\n"
        "x [square_root (a)]: ValueError: math domain error\n"
        "x [cube_root (b)]: Unknown tool 'cube_root'.\n"
        'x [square_root (c)]: The arguments are not valid JSON: {"number": ; send a JSON object.'
    ]
    assert record[0].filename == __file__
    assert messages(srv.requests[1])[2:] == [
        tool_message("a", "Tool calling failed with error ValueError: math domain error"),
        tool_message("b", "Tool calling failed with error Unknown tool 'cube_root'."),
        tool_message(
            "c",
            "Tool calling failed with error The arguments are not valid JSON: "
            '{"number": ; send a JSON object.',
        ),
    ]
    # the raw arguments go back to the server as they came
    assert messages(srv.requests[1])[1]["tool_calls"][2]["function"]["arguments"] == '{"number": '


def test_callbacks_run_latest_first_and_can_be_removed(srv: FakeServer) -> None:
    chat = hf(srv)
    chat.register_tool(tool(square_root))
    seen: list[str] = []
    remove_first = chat.on_tool_request(lambda r: seen.append(f"first {r.name}"))
    chat.on_tool_request(lambda r: seen.append(f"second {r.id}"))
    chat.on_tool_result(lambda r: seen.append(f"result {r.value}"))
    srv.enqueue(calls_answer(call("c1", "square_root", '{"number": 9}')), text_answer("3"))
    chat.chat("root 9")
    assert seen == ["second c1", "first square_root", "result 3.0"]
    remove_first()
    remove_first()  # removing twice is harmless
    seen.clear()
    srv.enqueue(calls_answer(call("c2", "square_root", '{"number": 4}')), text_answer("2"))
    chat.chat("root 4")
    assert seen == ["second c2", "result 2.0"]
    with pytest.raises(ConfigurationError, match="on_tool_request\\(\\) needs a function"):
        chat.on_tool_request("nope")  # type: ignore[arg-type]


def test_a_callback_can_reject_a_call(srv: FakeServer) -> None:
    ran: list[float] = []

    def root(number: float) -> float:
        """Square root."""
        ran.append(number)
        return math.sqrt(number)

    chat = hf(srv)
    chat.register_tool(root)
    results: list[ContentToolResult] = []
    chat.on_tool_request(lambda r: tool_reject("Roots are off limits."))
    chat.on_tool_result(results.append)
    srv.enqueue(calls_answer(call("c1", "root", '{"number": 9}')), text_answer("Understood."))
    with pytest.warns(UserWarning, match="Tool call rejected"):
        assert chat.chat("root 9") == "Understood."
    assert ran == []
    assert results == [ContentToolResult("c1", error="Tool call rejected. Roots are off limits.")]
    assert messages(srv.requests[1])[2] == tool_message(
        "c1", "Tool calling failed with error Tool call rejected. Roots are off limits."
    )


def test_a_failing_callback_stops_the_chat_and_the_next_call_answers_the_dangling_request(
    srv: FakeServer,
) -> None:
    chat = hf(srv)
    chat.register_tool(tool(square_root))

    def boom(request: ContentToolRequest) -> None:
        raise RuntimeError("callback broke")

    remove = chat.on_tool_request(boom)
    srv.enqueue(calls_answer(call("c1", "square_root", '{"number": 9}')))
    with pytest.raises(RuntimeError, match="callback broke"):
        chat.chat("root 9")
    assert len(chat.get_turns()) == 2  # the answer with the request is kept
    remove()
    srv.enqueue(text_answer("Never mind."))
    assert chat.chat("Forget it") == "Never mind."
    assert messages(srv.requests[1])[2:] == [
        tool_message(
            "c1", "Tool calling failed with error Chat ended before the tool could be invoked."
        ),
        {"role": "user", "content": "Forget it"},
    ]
    assert chat.get_turns()[2].contents[0] == ContentToolResult(
        "c1", error="Chat ended before the tool could be invoked."
    )


def test_a_tool_result_the_caller_sends_is_not_answered_twice(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(calls_answer(call("c1", "square_root", '{"number": 9}'), call("c2", "f", "{}")))
    chat.chat("root 9")
    srv.enqueue(text_answer("3 it is."))
    assert chat.chat(ContentToolResult("c1", value=3)) == "3 it is."
    assert messages(srv.requests[1])[2:] == [
        tool_message(
            "c2", "Tool calling failed with error Chat ended before the tool could be invoked."
        ),
        tool_message("c1", "3"),
    ]


def test_without_tools_tool_calls_are_left_for_the_caller(srv: FakeServer) -> None:
    chat = hf(srv)
    srv.enqueue(calls_answer(call("c1", "square_root", '{"number": 9}')))
    assert chat.chat("root 9") == ""
    assert len(srv.requests) == 1 and "tools" not in srv.requests[0].json
    assert chat.last_turn().contents == (  # type: ignore[union-attr]
        ContentToolRequest("c1", "square_root", {"number": 9}),
    )


def test_stopping_a_stream_during_the_tool_loop(srv: FakeServer) -> None:
    chat = hf(srv)
    chat.register_tool(tool(square_root))
    srv.enqueue(calls_answer(call("c1", "square_root", '{"number": 9}')), text_answer("3"))
    stream = chat.stream("root", content="all")
    assert next(stream) == ContentToolRequest("c1", "square_root", {"number": 9})
    stream.close()
    assert len(srv.requests) == 1
    assert len(chat.get_turns()) == 2  # the request is left dangling, answered next time


def test_register_get_and_set_tools() -> None:
    chat = chat_huggingface(credentials=lambda: KEY, model="org/m", echo="none")
    assert chat.get_tools() == []
    assert chat.register_tool(square_root) is chat
    chat.register_tool(tool(forecast))
    assert [t.name for t in chat.get_tools()] == ["square_root", "forecast"]
    replacement = tool(
        lambda number: number, "other", {"number": type_number()}, name="square_root"
    )
    chat.register_tool(replacement)
    assert chat.get_tools() == [replacement, tool(forecast)]
    assert chat.set_tools([no_args]) is chat
    assert [t.name for t in chat.get_tools()] == ["no_args"]
    chat.set_tools({"x": tool(square_root)})
    assert [t.name for t in chat.get_tools()] == ["square_root"]
    chat.set_tools([])
    assert chat.get_tools() == []
    with pytest.raises(ConfigurationError, match="takes tools made with tool"):
        chat.register_tool("square_root")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="takes tools made with tool"):
        chat.set_tools([square_root, 3])  # type: ignore[list-item]
    assert chat.get_tools() == []  # a bad list changes nothing
    with pytest.raises(ConfigurationError, match="Expected a list of tools"):
        chat.set_tools(square_root)  # type: ignore[arg-type]


def test_echo_output_shows_tool_calls_and_results(srv: FakeServer) -> None:
    out = io.StringIO()
    chat = hf(srv, echo="output")
    chat._echo_stream = out
    chat.register_tool(tool(square_root))
    srv.enqueue(
        calls_answer(
            call("c1", "square_root", '{"number": 16}'), call("c2", "square_root", '{"number": -4}')
        ),
        streamed_text("4, and no."),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # echoed tool errors are not warned about again
        assert chat.chat("roots") == "4, and no."
    assert out.getvalue() == (
        "\u25ef [tool call] square_root(number=16)\n"
        "\u25cf #> 4.0\n"
        "\u25ef [tool call] square_root(number=-4)\n"
        "\u25a0 #> Error: ValueError: math domain error\n"
        "4, and no.\n"
    )


def test_echo_all_shows_the_prompt_thinking_and_long_results(srv: FakeServer) -> None:
    out = io.StringIO()
    chat = hf(srv, echo="all")
    chat._echo_stream = out

    def lines() -> str:
        """Many lines."""
        return "\n".join(f"line {i}" for i in range(8))

    chat.register_tool(lines)
    first = Reply.sse(
        [
            chunk({"reasoning_content": "Let me "}),
            chunk({"reasoning_content": "look."}),
            chunk({"content": "Looking."}),
            chunk({"tool_calls": [{"index": 0, "id": "l", "function": {"name": "lines"}}]}),
            chunk({}, "tool_calls"),
        ]
    )
    srv.enqueue(first, streamed_text("Done."))
    chat.chat("Show lines")
    assert out.getvalue() == (
        "> Show lines\n"
        "<thinking>\nLet me look.\n</thinking>\n"
        "Looking.\n"
        "\u25ef [tool call] lines()\n"
        "\u25cf #> line 0\n  #> line 1\n  #> line 2\n  #> line 3\n  #> line 4\n  #> \u2026\n"
        "Done.\n"
    )


def test_a_tool_conversation_records_and_replays(srv: FakeServer) -> None:
    chat = hf(srv)
    chat.register_tool(tool(forecast))
    srv.enqueue(
        calls_answer(
            call("f", "forecast", '{"location": "Oslo", "format": "celsius", "num_days": 1}')
        ),
        text_answer("Cold."),
    )
    chat.chat("Forecast?")
    record = json.loads(json.dumps(contents_record(chat)))
    assert contents_replay(record) == chat.get_turns()
    assert chat.get_turns()[2] == UserTurn(
        [ContentToolResult("f", value={"location": "Oslo", "format": "celsius", "days": [20]})]
    )


# -- the recorded router answers, replayed through the loop --------------------------------------

GENAI = FIXTURES / "genai"
HUB_TOOLS = (
    FIXTURES / "huggingface_hub" / "InferenceClientVCRTest.test_chat_completion_with_tool.json"
)


def recorded(path: Path, n: int = 0) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))["interactions"][n]["response"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("path", "streamed", "call_id"),
    [
        (
            GENAI / "Qwen3-Coder-480B-A35B-Instruct" / "GenSync-Tools-SquareRoot-1.json",
            False,
            "call_arjp1t9ebh0l2806ijd938a4",
        ),
        (
            GENAI / "Qwen3-Coder-480B-A35B-Instruct" / "GenStream-Tools-SquareRoot-1-any.json",
            True,
            "call_bb5271fcd0f84596ab6e6619",
        ),
    ],
    ids=["sync", "stream-index-minus-one"],
)
def test_recorded_square_root_calls(
    srv: FakeServer, path: Path, streamed: bool, call_id: str
) -> None:
    """The model called square_root with "{}": with a default the tool runs; without, an error."""
    ran: list[float] = []

    def square_root(number: float = 132413.0) -> float:
        """Calculates and return the square root of a number."""
        ran.append(number)
        return math.sqrt(number)

    for tool_def, result in [
        (tool(square_root), "363.88597115030416"),
        (
            ROOT,
            "Tool calling failed with error Invalid arguments: "
            "$: missing required property 'number'",
        ),
    ]:
        chat = hf(srv, model="Qwen/Qwen3-Coder-480B-A35B-Instruct")
        chat.register_tool(tool_def)
        srv.reset()
        srv.enqueue(Reply.from_recording(recorded(path)), text_answer("363.886"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            answer = (
                "".join(chat.stream("root of 132413")) if streamed else chat.chat("root of 132413")
            )
        assert answer == "363.886"
        first, second = srv.requests
        assert first.json["stream"] is streamed
        assert first.json["tools"][0]["function"]["name"] == "square_root"
        sent = messages(second)
        assert sent[1]["tool_calls"] == [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": "square_root", "arguments": "{}"},
            }
        ]
        assert sent[2]["tool_call_id"] == call_id
        assert sent[2]["content"].startswith(result)
    assert ran == [132413.0]


def test_recorded_old_tgi_calls_run_with_the_recorded_arguments(srv: FakeServer) -> None:
    """Old TGI: integer id 0, arguments as an object, finish_reason eos_token."""
    ran: list[dict[str, Any]] = []

    def get_n_day_weather_forecast(
        location: str, format: Literal["celsius", "fahrenheit"], num_days: int
    ) -> str:
        """Get an N-day weather forecast."""
        ran.append({"location": location, "format": format, "num_days": num_days})
        return "sunny"

    def get_current_weather(location: str, format: Literal["celsius", "fahrenheit"]) -> str:
        """Get the current weather."""
        ran.append({"location": location, "format": format})
        return "mild"

    chat = hf(srv, model="tgi")
    chat.set_tools([get_n_day_weather_forecast, get_current_weather])
    srv.enqueue(Reply.from_recording(recorded(HUB_TOOLS, 0)), text_answer("Sunny for 3 days."))
    assert chat.chat("Weather for 3 days?") == "Sunny for 3 days."
    srv.enqueue(Reply.from_recording(recorded(HUB_TOOLS, 1)), text_answer("Mild."))
    assert chat.chat("And now?") == "Mild."
    assert ran == [
        {"location": "San Francisco, CA", "format": "fahrenheit", "num_days": 3},
        {"location": "San Francisco, CA", "format": "fahrenheit"},
    ]
    second, fourth = messages(srv.requests[1]), messages(srv.requests[3])
    assert second[1]["tool_calls"][0]["id"] == "0"
    assert second[1]["tool_calls"][0]["function"]["arguments"] == json.dumps(
        {"format": "fahrenheit", "location": "San Francisco, CA", "num_days": 3}
    )
    assert second[2] == tool_message("0", "sunny")
    assert fourth[-1] == tool_message("0", "mild")
    assert chat.get_turns()[1].finish_reason == "eos_token"


@pytest.mark.parametrize(
    "path",
    [
        GENAI / "Llama-3.3-70B-Instruct" / "GenSync-Tools-SquareRoot-1.json",
        GENAI / "Llama-3.3-70B-Instruct" / "GenStream-Tools-SquareRoot-1.json",
        GENAI / "Qwen3-Coder-480B-A35B-Instruct" / "GenStream-Tools-SquareRoot-1.json",
        FIXTURES / "chatlas" / "test_huggingface_tools.json",
        FIXTURES / "chatlas" / "test_huggingface_tools_async.json",
    ],
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_recorded_answers_in_text_end_the_loop(srv: FakeServer, path: Path) -> None:
    """The model answered in text (sometimes text that looks like a call): nothing runs."""
    ran: list[Any] = []

    def square_root(number: float) -> float:
        """Square root."""
        ran.append(number)
        return math.sqrt(number)

    chat = hf(srv)
    chat.register_tools([square_root, no_args])
    response = recorded(path)
    streamed = response["headers"]["content-type"].startswith("text/event-stream")
    srv.enqueue(Reply.from_recording(response))
    answer = "".join(chat.stream("root?")) if streamed else chat.chat("root?")
    assert answer and len(srv.requests) == 1 and ran == []
    assert [t.name for t in chat.get_tools()] == ["square_root", "no_args"]
    assert [t["function"]["name"] for t in srv.requests[0].json["tools"]] == [
        "square_root",
        "no_args",
    ]
    assert not any(isinstance(c, ContentToolRequest) for c in chat.last_turn().contents)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        (
            GENAI / "Llama-3.1-8B-Instruct" / "GenSync-Tools-SquareRoot-1.json",
            BadRequestError,
            "function calling not support",
        ),
        (
            GENAI / "Llama-3.1-8B-Instruct" / "GenStream-Tools-SquareRoot-1.json",
            BadRequestError,
            "function calling not support",
        ),
        (
            GENAI / "Llama-3.1-8B-Instruct" / "GenSync-Tools-SquareRoot-1-any.json",
            BadRequestError,
            "function calling not support",
        ),
        (
            GENAI / "Llama-3.3-70B-Instruct" / "GenSync-Tools-SquareRoot-1-any.json",
            ServerError,
            "unknown error in the model inference server",
        ),
        (
            GENAI / "Llama-3.3-70B-Instruct" / "GenStream-Tools-SquareRoot-1-any.json",
            ServerError,
            "unknown error in the model inference server",
        ),
    ],
    ids=lambda x: x.parent.name + "/" + x.stem if isinstance(x, Path) else None,
)
def test_recorded_tool_errors_are_typed(
    srv: FakeServer, path: Path, error: type[Exception], message: str
) -> None:
    chat = hf(srv)
    chat.register_tool(tool(square_root))
    srv.enqueue(Reply.from_recording(recorded(path)))
    streamed = "GenStream" in path.name
    with pytest.raises(error, match=message):
        if streamed:
            "".join(chat.stream("root?"))
        else:
            chat.chat("root?")
    assert chat.get_turns() == []


def test_registering_a_tool_again_replaces_it_with_a_note_as_r(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ellmer_py import chat_openai_compatible

    def weather(city: str) -> str:
        """Weather for a city."""
        return "sunny"

    made = chat_openai_compatible("http://127.0.0.1:9/v1", model="m", credentials=lambda: "k")
    with caplog.at_level("INFO", logger="ellmer_py"):
        made.register_tool(weather)
        assert "Replacing" not in caplog.text
        made.register_tool(weather)
    assert "Replacing existing weather tool." in caplog.text
    assert [t.name for t in made.get_tools()] == ["weather"]
