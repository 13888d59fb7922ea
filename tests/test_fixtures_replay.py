"""Replay every recorded Hugging Face router answer through ``chat_huggingface``.

The recordings in ``../shared/fixtures/hf-router/`` (see its README) are real
answers from the router and the providers behind it. Each one is served by a
loopback :class:`FakeServer` to a real ``chat_huggingface(base_url=...)``, in
the mode it was recorded (streamed or not) and then the other way round. What
each answer must give (text, tool calls, tokens, finish reason, error class
and message) is computed here from the raw recording, independently of the
protocol code under test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    AuthenticationError,
    BadRequestError,
    ContentToolRequest,
    HTTPStatusError,
    NotFoundError,
    PaymentRequiredError,
    ServerError,
    chat_huggingface,
)
from ellmer_py._chat import Chat
from ellmer_py._turn import Tokens
from ellmer_py.conformance.fake_server import FakeServer, Reply, load_recording, sse_data

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "hf-router"
ALL_FILES = sorted(FIXTURES.rglob("*.json"))
DEFAULT_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
TOKEN = "test-token"

ERROR_CLASSES: dict[int, type[HTTPStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    404: NotFoundError,
    422: BadRequestError,
    500: ServerError,
    502: ServerError,
    503: ServerError,
}

#: ellmer's value_finish_reason() for chat completions; anything else is kept as is.
ELLMER_FINISH = {
    "stop": "success",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "content_filter",
}


# -- reading the recordings (independent of ellmer_py) ------------------------


def load(path: Path) -> dict[str, Any]:
    """One fixture file, parsed."""
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def fixture_id(path: Path) -> str:
    """A readable test id: the file's path below hf-router, without .json."""
    return path.relative_to(FIXTURES).with_suffix("").as_posix()


def is_chat_file(path: Path) -> bool:
    """Whether every interaction of the file is a POST (a chat-completions request)."""
    return all(i["request"]["method"] == "POST" for i in load(path)["interactions"])


CHAT_FILES = [p for p in ALL_FILES if is_chat_file(p)]
# chatlas's model_list: `GET /v1/models` with per-provider pricing. Not a chat
# request: listing models is left for a later issue (R: models_huggingface()).
MODEL_LIST_FILES = [p for p in ALL_FILES if p not in CHAT_FILES]


def is_sse(response: dict[str, Any]) -> bool:
    """Whether a recorded answer is a server-sent-events stream."""
    ctype = str(response["headers"].get("content-type", ""))
    return ctype.lower().startswith("text/event-stream")


def is_streamed(interaction: dict[str, Any]) -> bool:
    """Whether the recorded request asked for a stream.

    ``"stream": true`` in the body means streamed; false or absent means not.
    A few huggingface_hub cassettes kept no request body at all (``null``);
    for those the answer's content type says which mode was used.
    """
    body = interaction["request"].get("body")
    if isinstance(body, dict):
        return body.get("stream") is True
    return is_sse(interaction["response"])


def sse_chunks(body: str) -> list[dict[str, Any]]:
    """The JSON chunks of a recorded SSE body, parsed line by line (no [DONE])."""
    chunks = []
    for line in body.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].removeprefix(" ")
        if data.strip() == "[DONE]":
            continue
        chunks.append(json.loads(data))
    return chunks


def tokens_of(usage: Any) -> Tokens | None:
    """What ellmer records from a ``usage`` object: input excludes cached tokens."""
    if not usage:
        return None
    details = usage.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") or 0
    return Tokens(
        input=(usage.get("prompt_tokens") or 0) - cached,
        output=usage.get("completion_tokens") or 0,
        cached_input=cached,
    )


def finish_of(reason: Any) -> str | None:
    """ellmer's mapping of a recorded finish_reason."""
    return None if reason is None else ELLMER_FINISH.get(reason, reason)


def parsed_args(raw: Any) -> Any:
    """Tool-call arguments as the model meant them: JSON text parsed; objects (old TGI) as is."""
    if isinstance(raw, str):
        return json.loads(raw) if raw.strip() else {}
    return raw


class Expected:
    """What one recorded 200 answer must turn into."""

    def __init__(
        self,
        text: str,
        calls: list[dict[str, Any]],
        usage: Any,
        finish_reason: Any,
    ) -> None:
        self.text = text
        self.calls = calls  # [{"id", "name", "arguments"}], arguments as recorded
        self.usage = usage
        self.finish_reason = finish_reason

    @property
    def tokens(self) -> Tokens | None:
        return tokens_of(self.usage)

    @property
    def finish(self) -> str | None:
        return finish_of(self.finish_reason)

    def assistant_message(self) -> dict[str, Any]:
        """The assistant message the next request must carry for this answer."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": str(c["id"]),
                    "type": "function",
                    "function": {
                        "name": c["name"],
                        "arguments": json.dumps(parsed_args(c["arguments"])),
                    },
                }
                for c in self.calls
            ]
        return message

    def as_json_document(self) -> dict[str, Any]:
        """The same answer as a non-streamed chat.completion document."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in self.calls
            ]
        doc: dict[str, Any] = {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
        }
        if self.usage is not None:
            doc["usage"] = self.usage
        return doc

    def as_sse_items(self) -> list[bytes]:
        """The same answer as a stream: text in small deltas, arguments in two fragments.

        The second argument fragment carries only the index, as OpenAI sends
        it; usage and the finish reason come on the last chunk.
        """
        items = [sse_data(_chunk({"role": "assistant", "content": ""}))]
        items += [
            sse_data(_chunk({"content": self.text[i : i + 7]})) for i in range(0, len(self.text), 7)
        ]
        for index, call in enumerate(self.calls):
            args = call["arguments"]
            head, tail = (
                (args[: len(args) // 2], args[len(args) // 2 :])
                if isinstance(args, str)
                else (args, None)
            )
            first = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": head},
            }
            items.append(sse_data(_chunk({"tool_calls": [first]})))
            if tail:
                items.append(
                    sse_data(
                        _chunk({"tool_calls": [{"index": index, "function": {"arguments": tail}}]})
                    )
                )
        last: dict[str, Any] = {
            "choices": [{"index": 0, "delta": {}, "finish_reason": self.finish_reason}]
        }
        if self.usage is not None:
            last["usage"] = self.usage
        items += [sse_data(last), sse_data("[DONE]")]
        return items


def _chunk(delta: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
    }


def expected_from_json(body: str) -> Expected:
    """What a recorded chat.completion document says."""
    doc = json.loads(body)
    choice = doc["choices"][0]
    message = choice["message"]
    calls = [
        {
            "id": c.get("id"),
            "name": c["function"]["name"],
            "arguments": c["function"].get("arguments"),
        }
        for c in message.get("tool_calls") or []
    ]
    return Expected(
        message.get("content") or "", calls, doc.get("usage"), choice.get("finish_reason")
    )


def expected_from_sse(body: str) -> Expected:
    """What a recorded stream says: deltas joined, tool calls merged by index, last usage."""
    text: list[str] = []
    calls: dict[Any, dict[str, Any]] = {}
    usage = None
    finish = None
    for chunk in sse_chunks(body):
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                text.append(delta["content"])
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(
                    call.get("index"), {"id": None, "name": "", "arguments": ""}
                )
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] = slot["name"] or call["function"].get("name") or ""
                slot["arguments"] += call["function"].get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    return Expected("".join(text), list(calls.values()), usage, finish)


def expected_answer(response: dict[str, Any]) -> Expected:
    """The expected turn for a recorded 200 answer, JSON or stream."""
    body = response["body"]
    return expected_from_sse(body) if is_sse(response) else expected_from_json(body)


def expected_server_words(response: dict[str, Any]) -> str:
    """The server's own words in a recorded error answer."""
    body = response["body"]
    ctype = str(response["headers"].get("content-type", ""))
    if "html" in ctype:
        # the router's gateway page: <h1>502</h1><p>Bad Gateway</p>
        return re.search(r"<p>(.*?)</p>", body, re.DOTALL).group(1).strip()  # type: ignore[union-attr]
    if ctype.startswith("application/json"):
        doc = json.loads(body)
        error = doc.get("error")
        if isinstance(error, str):
            return error
        if isinstance(error, dict):
            return str(error["message"])
        return str(doc.get("message") or doc["detail"])
    return " ".join(body.split())


def prompt_of(interaction: dict[str, Any], fallback: str) -> str:
    """The text of the last user message of the recorded request."""
    body = interaction["request"].get("body")
    if not isinstance(body, dict):
        return fallback
    messages = body.get("messages")
    if isinstance(messages, str):  # a malformed request huggingface_hub sent on purpose
        return messages
    users = [m for m in messages or [] if m.get("role") == "user"]
    if not users:
        return fallback
    content = users[-1]["content"]
    if isinstance(content, str):
        return content or fallback
    return "".join(p.get("text", "") for p in content if p.get("type") == "text") or fallback


def model_of(data: dict[str, Any]) -> str:
    """The model the first recorded request named (else the HF default)."""
    body = data["interactions"][0]["request"].get("body")
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) and model else DEFAULT_MODEL


# -- the server and the chat -----------------------------------------------------


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def srv(shared_server: FakeServer) -> Iterator[FakeServer]:
    """The module's fake server, emptied for this test; it must not have failed."""
    shared_server.reset()
    yield shared_server
    assert shared_server.pending == 0, "a queued reply was never requested"
    assert not shared_server.errors, shared_server.errors
    shared_server.reset()


def make_chat(srv: FakeServer, model: str) -> Chat:
    """chat_huggingface pointed at the fake server, one try, no echo."""
    return chat_huggingface(
        model=model,
        base_url=srv.base_url,
        credentials=lambda: TOKEN,
        echo="none",
        max_tries=1,
        timeout_s=10,
    )


def close(*chats: Chat) -> None:
    """Close the chats' connection pools."""
    for chat in chats:
        chat.get_provider().transport.close()


def ask(chat: Chat, prompt: str, streamed: bool) -> str:
    """One chat call in the given mode."""
    return "".join(chat.stream(prompt)) if streamed else chat.chat(prompt)


def last_assistant(chat: Chat) -> AssistantTurn:
    turn = chat.last_turn("assistant")
    assert isinstance(turn, AssistantTurn)
    assert not isinstance(turn, AssistantPartialTurn), turn.reason
    return turn


def check_turn(turn: AssistantTurn, expected: Expected) -> None:
    """The recorded answer's text, tool calls, tokens and finish reason, exactly."""
    assert turn.text == expected.text
    requests = [c for c in turn.contents if isinstance(c, ContentToolRequest)]
    assert [(r.name, r.arguments) for r in requests] == [
        (c["name"], parsed_args(c["arguments"])) for c in expected.calls
    ]
    assert [r.id for r in requests] == [str(c["id"]) for c in expected.calls]
    assert turn.tokens == expected.tokens
    assert turn.finish_reason == expected.finish


def check_error(exc: BaseException, response: dict[str, Any]) -> None:
    """The typed error for a recorded error answer."""
    status = response["status"]
    assert type(exc) is ERROR_CLASSES[status]
    assert isinstance(exc, HTTPStatusError)
    assert exc.status == status
    assert exc.provider == "HuggingFace"
    said = expected_server_words(response)
    assert said in (exc.server_message or "")
    assert said in str(exc)
    assert "\n" not in str(exc) and "<" not in (exc.server_message or "")
    assert exc.request_id == response["headers"].get("x-request-id")
    assert TOKEN not in str(exc)


def check_request(
    srv: FakeServer, n: int, model: str, messages: list[dict[str, Any]], streamed: bool
) -> None:
    """The n-th request the server got: method, path, auth, model, messages, stream."""
    request = srv.requests[n]
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    body = request.json
    assert body["model"] == model
    assert body["messages"] == messages
    assert body["stream"] is streamed
    if streamed:
        assert body["stream_options"] == {"include_usage": True}
    else:
        assert "stream_options" not in body


# -- the tests -----------------------------------------------------------------------


def test_the_recordings_are_there() -> None:
    """The fixtures exist, and every file is either replayed as chat or listed as not chat."""
    assert FIXTURES.is_dir(), f"missing recordings: {FIXTURES}"
    assert len(ALL_FILES) >= 120
    assert sorted(CHAT_FILES + MODEL_LIST_FILES) == ALL_FILES
    assert [fixture_id(p) for p in MODEL_LIST_FILES] == ["chatlas/test_huggingface_model_list"]


@pytest.mark.parametrize("path", MODEL_LIST_FILES, ids=fixture_id)
def test_model_list_is_a_get_not_a_chat(path: Path) -> None:
    """chatlas's model_list is `GET /v1/models`, not chat: model listing is a later issue."""
    (interaction,) = load(path)["interactions"]
    assert interaction["request"]["method"] == "GET"
    assert urlsplit(interaction["request"]["url"]).path == "/v1/models"
    assert interaction["request"]["body"] is None
    listing = json.loads(interaction["response"]["body"])
    assert listing["object"] == "list"
    assert all("id" in m for m in listing["data"])


@pytest.mark.parametrize("path", CHAT_FILES, ids=fixture_id)
def test_replay_as_recorded(srv: FakeServer, path: Path) -> None:
    """Each interaction, in its recorded mode, on one Chat (later turns carry the history).

    The fake server answers any path, so recordings made against old
    api-inference URLs or provider-prefixed router paths replay the same.
    """
    data = load(path)
    model = model_of(data)
    chat = make_chat(srv, model)
    history: list[dict[str, Any]] = []
    for n, interaction in enumerate(data["interactions"]):
        response = interaction["response"]
        streamed = is_streamed(interaction)
        prompt = prompt_of(interaction, fallback=f"Question {n + 1}")
        srv.enqueue(Reply.from_recording(response))
        turns_before = len(chat.get_turns())
        if response["status"] == 200:
            assert is_sse(response) == streamed  # a stream was asked for, a stream came
            expected = expected_answer(response)
            assert ask(chat, prompt, streamed) == expected.text
            check_turn(last_assistant(chat), expected)
            sent = [*history, {"role": "user", "content": prompt}]
            history = [*sent, expected.assistant_message()]
            # No tools are registered: tool calls stay unanswered until the next prompt,
            # which answers them with an error first (R: complete_dangling_tool_requests()).
            history += [
                {
                    "role": "tool",
                    "content": "Tool calling failed with error Chat ended before the tool "
                    "could be invoked.",
                    "tool_call_id": str(c["id"]),
                }
                for c in expected.calls
            ]
            assert len(chat.get_turns()) == turns_before + 2
        else:
            with pytest.raises(HTTPStatusError) as info:
                ask(chat, prompt, streamed)
            check_error(info.value, response)
            sent = [*history, {"role": "user", "content": prompt}]
            assert len(chat.get_turns()) == turns_before  # nothing was said
        check_request(srv, n, model, sent, streamed)
    assert len(srv.requests) == len(data["interactions"])
    close(chat)


@pytest.mark.parametrize("path", CHAT_FILES, ids=fixture_id)
def test_replay_the_other_way(srv: FakeServer, path: Path) -> None:
    """The same answer in the other mode gives an equal turn, and an error the same error.

    A streamed recording is served again as the one JSON document it adds up
    to; a JSON recording as a stream of small deltas. Turns compare equal
    when their contents, tokens and finish reason are equal.
    """
    data = load(path)
    model = model_of(data)
    for n, interaction in enumerate(data["interactions"]):
        response = interaction["response"]
        streamed = is_streamed(interaction)
        prompt = prompt_of(interaction, fallback=f"Question {n + 1}")
        other = make_chat(srv, model)
        if response["status"] != 200:
            srv.enqueue(Reply.from_recording(response))
            with pytest.raises(HTTPStatusError) as info:
                ask(other, prompt, not streamed)
            check_error(info.value, response)
            close(other)
            continue
        expected = expected_answer(response)
        recorded = make_chat(srv, model)
        srv.enqueue(Reply.from_recording(response))
        ask(recorded, prompt, streamed)
        if streamed:
            srv.enqueue(Reply.json(expected.as_json_document()))
        else:
            srv.enqueue(Reply.sse(expected.as_sse_items()))
        assert ask(other, prompt, not streamed) == expected.text
        assert last_assistant(other) == last_assistant(recorded)
        check_turn(last_assistant(other), expected)
        close(recorded, other)


# -- facts the fixtures README lists, one named test each -------------------------------

HUB = FIXTURES / "huggingface_hub"
CEREBRAS_STREAM = (
    HUB / "TestInferenceClient.test_chat_completion_with_stream_cerebras_conversational.json"
)
NOVITA_STREAM = (
    HUB / "TestInferenceClient.test_chat_completion_with_stream_novita_conversational.json"
)
TOGETHER_TOOL_STREAM = (
    FIXTURES / "genai" / "Qwen3-Coder-480B-A35B-Instruct" / "GenStream-Tools-SquareRoot-1-any.json"
)
TGI_TOOLS = HUB / "InferenceClientVCRTest.test_chat_completion_with_tool.json"
BAD_MODEL = FIXTURES / "genai" / "errors" / "bad_model"


def body_of(path: Path, n: int = 0) -> str:
    return str(load(path)["interactions"][n]["response"]["body"])


def test_cerebras_stream_has_no_done_and_usage_on_the_finish_chunk(srv: FakeServer) -> None:
    """cerebras ends its stream without `data: [DONE]`; usage rides on the finish chunk."""
    body = body_of(CEREBRAS_STREAM)
    assert "[DONE]" not in body
    chunks = sse_chunks(body)
    assert [i for i, c in enumerate(chunks) if c.get("usage")] == [len(chunks) - 1]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    srv.enqueue(*load_recording(CEREBRAS_STREAM))
    chat = make_chat(srv, "llama-3.3-70b")
    pieces = list(chat.stream("What is deep learning?"))
    assert pieces[0] == "Deep"
    assert "".join(pieces).startswith("Deep learning is a subset of machine learning")
    turn = last_assistant(chat)
    assert turn.tokens == Tokens(input=46, output=20, cached_input=0)
    assert turn.finish_reason == "max_tokens"


def test_novita_puts_usage_on_every_chunk(srv: FakeServer) -> None:
    """novita sends a growing usage on every chunk: the last one counts."""
    chunks = sse_chunks(body_of(NOVITA_STREAM))
    assert all(c.get("usage") for c in chunks)
    assert [c["usage"]["completion_tokens"] for c in chunks][:2] == [0, 1]
    assert chunks[-1]["usage"]["completion_tokens"] == 20
    srv.enqueue(*load_recording(NOVITA_STREAM))
    chat = make_chat(srv, "meta-llama/llama-3.1-8b-instruct")
    "".join(chat.stream("What is deep learning?"))
    assert last_assistant(chat).tokens == Tokens(input=46, output=20, cached_input=0)
    assert chat.get_tokens() == [
        {"role": "assistant", "input": 46, "output": 20, "cached_input": 0, "cost": None}
    ]


def _without_ids(body: str, keep_first: bool) -> list[bytes]:
    """The recorded tool-call stream with its call split into id-less argument deltas."""
    items = []
    for chunk in sse_chunks(body):
        delta = (chunk.get("choices") or [{}])[0].get("delta") or {}
        calls = delta.get("tool_calls")
        if not calls:
            items.append(sse_data(chunk))
            continue
        (call,) = calls
        arguments = '{"number": 132413}'
        head = {
            "index": 0,
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        if keep_first:
            head["id"] = call["id"]
        for delta_call in (
            head,
            *({"index": 0, "function": {"arguments": a}} for a in (arguments[:9], arguments[9:])),
        ):
            piece = json.loads(json.dumps(chunk))
            piece["choices"][0]["delta"]["tool_calls"] = [delta_call]
            items.append(sse_data(piece))
    return [*items, sse_data("[DONE]")]


@pytest.mark.parametrize(
    "keep_first", [True, False], ids=["id-on-first-delta-only", "no-id-at-all"]
)
def test_tool_call_deltas_without_an_id(srv: FakeServer, keep_first: bool) -> None:
    """Tool-call deltas that carry no id are merged by index into one request.

    No recording here streams argument fragments (Together sends the whole
    call in one delta, with index -1), so the recorded stream is re-cut the
    way OpenAI and vLLM send it: id and name once (or never), then fragments.
    """
    recorded = body_of(TOGETHER_TOOL_STREAM)
    (call,) = expected_from_sse(recorded).calls
    assert call["id"] == "call_bb5271fcd0f84596ab6e6619"
    srv.enqueue(Reply.sse(_without_ids(recorded, keep_first)))
    chat = make_chat(srv, "Qwen/Qwen3-Coder-480B-A35B-Instruct")
    assert "".join(chat.stream("square root of 132413?")) == ""
    turn = last_assistant(chat)
    assert turn.contents == (
        ContentToolRequest(
            id=call["id"] if keep_first else "call_0",
            name="square_root",
            arguments={"number": 132413},
        ),
    )
    assert turn.finish_reason == "tool_use"
    assert turn.tokens == Tokens(input=284, output=13, cached_input=0)


def test_together_streams_a_whole_tool_call_at_index_minus_one(srv: FakeServer) -> None:
    """Together's streamed tool call: one delta, index -1, arguments "{}"."""
    srv.enqueue(*load_recording(TOGETHER_TOOL_STREAM))
    chat = make_chat(srv, "Qwen/Qwen3-Coder-480B-A35B-Instruct")
    "".join(chat.stream("square root?"))
    assert last_assistant(chat).contents == (
        ContentToolRequest(id="call_bb5271fcd0f84596ab6e6619", name="square_root", arguments={}),
    )


def test_old_tgi_sends_tool_arguments_as_an_object_with_integer_ids(srv: FakeServer) -> None:
    """Old TGI: `arguments` is a JSON object, `id` the integer 0; both replayed as ids "0"."""
    srv.enqueue(load_recording(TGI_TOOLS)[0])
    chat = make_chat(srv, "tgi")
    assert chat.chat("Weather in San Francisco for 3 days?") == ""
    assert last_assistant(chat).contents == (
        ContentToolRequest(
            id="0",
            name="get_n_day_weather_forecast",
            arguments={"format": "fahrenheit", "location": "San Francisco, CA", "num_days": 3},
        ),
    )
    assert last_assistant(chat).finish_reason == "eos_token"  # kept as is, as ellmer does


@pytest.mark.parametrize(
    ("path", "status", "error_class", "server_message"),
    [
        pytest.param(
            FIXTURES / "genai" / "errors" / "bad_apiKey" / "GenSync.json",
            401,
            AuthenticationError,
            "Invalid credentials in Authorization header",
            id="error-is-text",
        ),
        pytest.param(
            FIXTURES
            / "genai"
            / "Qwen3-Coder-480B-A35B-Instruct"
            / "GenSyncMultiModal-Image-jpg-URL.json",
            402,
            PaymentRequiredError,
            "You have exceeded your monthly included credits for Inference Providers. "
            "Subscribe to PRO to get 20x more monthly included credits.",
            id="error-is-text-with-x-error-message",
        ),
        pytest.param(
            FIXTURES / "genai" / "Qwen3-Coder-480B-A35B-Instruct" / "GenSync-JSONSchema.json",
            500,
            ServerError,
            "Internal server error",
            id="error-object-with-message",
        ),
        pytest.param(
            FIXTURES / "genai" / "Llama-3.1-8B-Instruct" / "GenSync-JSONSchema.json",
            400,
            BadRequestError,
            "model features structured outputs not support (INVALID_REQUEST_BODY)",
            id="message-and-reason",
        ),
        pytest.param(
            FIXTURES / "genai" / "Llama-3.3-70B-Instruct" / "GenSync-Tools-SquareRoot-1-any.json",
            500,
            ServerError,
            "unknown error in the model inference server "
            "trace_id: b690b3ea9b12ea7c715d86568fcc5562",
            id="message-and-type",
        ),
        pytest.param(
            HUB / "InferenceClientVCRTest.test_chat_completion_unprocessable_entity.json",
            422,
            BadRequestError,
            "Failed to deserialize the JSON body into the target type: messages: invalid type: "
            "string \"please output 'Observation'\", expected a sequence at line 1 column 58",
            id="text-plain",
        ),
        pytest.param(
            FIXTURES / "genai" / "Llama-3.1-8B-Instruct" / "GenSync-JSON.json",
            502,
            ServerError,
            "502 Bad Gateway",
            id="html-gateway-page",
        ),
    ],
)
def test_error_body_shapes(
    srv: FakeServer,
    path: Path,
    status: int,
    error_class: type[HTTPStatusError],
    server_message: str,
) -> None:
    """Each recorded error body shape gives its class and exactly the server's one line."""
    srv.enqueue(*load_recording(path))
    chat = make_chat(srv, DEFAULT_MODEL)
    with pytest.raises(error_class) as info:
        chat.chat("Hello")
    assert info.value.status == status
    assert info.value.server_message == server_message
    assert str(info.value).startswith(f"HuggingFace: HTTP {status}: ")
    assert chat.get_turns() == []


@pytest.mark.parametrize("mode", ["GenSync", "GenStream"])
def test_unknown_model_is_a_400_model_not_found(srv: FakeServer, mode: str) -> None:
    """The router answers an unknown model with 400 `model_not_found`, not 404."""
    path = BAD_MODEL / f"{mode}.json"
    doc = json.loads(body_of(path))
    assert doc["error"]["code"] == "model_not_found"
    srv.enqueue(*load_recording(path))
    chat = make_chat(srv, "bad model")
    with pytest.raises(BadRequestError) as info:
        ask(chat, "Hello", streamed=mode == "GenStream")
    assert not isinstance(info.value, NotFoundError)
    assert info.value.status == 400
    assert info.value.server_message == (
        "The requested model 'bad model' does not exist. (model_not_found)"
    )
    assert (
        info.value.request_id
        == load(path)["interactions"][0]["response"]["headers"]["x-request-id"]
    )
