"""Replay every recorded OpenAI Responses answer through a real ``chat_openai``.

The recordings in ``../shared/fixtures/native/openai/`` (see
``../shared/fixtures/native/README.md``) are real answers of the Responses
API (``POST /v1/responses``), recorded by genai, chatlas and R ellmer. Each
answer is served by a loopback :class:`FakeServer` (matched on nothing: the
server answers in order, whatever the body) to ``chat_openai(base_url=...)``.
What each answer must give (contents, text, tokens, finish reason, error class
and message) is computed here from the raw recording, with ``json`` and line
splitting only, never with the protocol code under test.

The ``ellmer/`` recordings also show the exact bodies R ellmer sends: the
same conversations rebuilt with our API must send the same bodies.

R's rules, from ``R/provider-openai.R`` (tidyverse/ellmer @ 57e3d72):

- ``value_turn()``: a ``message`` item is its text, a ``function_call`` a
  tool request whose id is the item's ``id`` (``fc_...``, not its
  ``call_id``: the ``ellmer/`` and ``chatlas/`` bodies send that id back as
  ``call_id``), a ``reasoning`` item thinking (its summary texts joined, the
  item kept in ``extra``), a ``web_search_call`` a search request;
- ``value_tokens()``: input = ``input_tokens`` - cached, cached input =
  ``input_tokens_details.cached_tokens``;
- ``value_finish_reason()``: ``completed`` is "success", ``incomplete`` for
  ``max_output_tokens`` is "max_tokens", for ``content_filter``
  "content_filter";
- a stream's answer is the ``response`` of its ``response.completed`` (or
  ``response.incomplete``) event; ``error`` and ``response.failed`` events
  are errors.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import ellmer_py
from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    AuthenticationError,
    BadRequestError,
    ConnectionCutError,
    Content,
    ContentImageInline,
    ContentImageRemote,
    ContentJson,
    ContentPDF,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolRequestSearch,
    ContentToolResult,
    HTTPStatusError,
    NotFoundError,
    RateLimitError,
    ServerError,
    StreamErrorEvent,
    Turn,
    UserTurn,
    chat_openai,
    params,
    tool,
    tool_reject,
    type_integer,
    type_number,
    type_object,
    type_string,
)
from ellmer_py._chat import Chat
from ellmer_py._turn import Tokens
from ellmer_py.conformance.fake_server import FakeServer, Reply

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "native" / "openai"
ALL_FILES = sorted(FIXTURES.rglob("*.json"))
KEY = "test-key"

ERROR_CLASSES: dict[int, type[HTTPStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    429: RateLimitError,
    500: ServerError,
    503: ServerError,
}


# -- reading the recordings (independent of ellmer_py) --------------------------------------------


def load(path: Path) -> dict[str, Any]:
    """One fixture file, parsed."""
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def fixture_id(path: Path) -> str:
    """The file's stem, with its folders below openai/ (stems repeat across models)."""
    return path.relative_to(FIXTURES).with_suffix("").as_posix()


def url_path(interaction: dict[str, Any]) -> str:
    return urlsplit(interaction["request"]["url"]).path


def is_responses(interaction: dict[str, Any]) -> bool:
    """A ``POST /v1/responses`` (a chat request, not input_tokens)."""
    return interaction["request"]["method"] == "POST" and url_path(interaction) == "/v1/responses"


def is_models(interaction: dict[str, Any]) -> bool:
    return interaction["request"]["method"] == "GET" and url_path(interaction) == "/v1/models"


def is_input_tokens(interaction: dict[str, Any]) -> bool:
    return url_path(interaction) == "/v1/responses/input_tokens"


CHAT_FILES = [p for p in ALL_FILES if any(is_responses(i) for i in load(p)["interactions"])]
MODELS_FILES = [p for p in ALL_FILES if all(is_models(i) for i in load(p)["interactions"])]
COUNT_ONLY_FILES = [
    p for p in ALL_FILES if all(is_input_tokens(i) for i in load(p)["interactions"])
]


def is_sse(response: dict[str, Any]) -> bool:
    """Whether a recorded answer is a server-sent-events stream."""
    return str(response["headers"].get("content-type", "")).startswith("text/event-stream")


def asked_stream(interaction: dict[str, Any]) -> bool:
    """Whether the recorded request asked for a stream (genai leaves ``stream`` out if not)."""
    body = interaction["request"]["body"]
    return isinstance(body, dict) and body.get("stream") is True


def sse_events(body: str) -> list[tuple[str, str]]:
    """(event name, data) of each event of a recorded stream, split on blank lines."""
    events: list[tuple[str, str]] = []
    name, data = "message", []
    for line in [*body.splitlines(), ""]:
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].removeprefix(" "))
    return events


def stream_docs(body: str) -> list[dict[str, Any]]:
    """The JSON documents of a stream's events."""
    return [json.loads(data) for _, data in sse_events(body)]


FINAL_EVENTS = ("response.completed", "response.incomplete")


def response_from_sse(body: str) -> dict[str, Any]:
    """The ``response`` a recorded stream ends with (``response.completed`` or ``.incomplete``)."""
    finals = [e["response"] for e in stream_docs(body) if e["type"] in FINAL_EVENTS]
    assert len(finals) == 1, "a recorded stream ends with exactly one final response"
    return finals[0]  # type: ignore[no-any-return]


def streamed_text(body: str) -> str:
    """The text a stream shows as it arrives: its ``output_text`` deltas, joined."""
    return "".join(
        e["delta"] for e in stream_docs(body) if e["type"] == "response.output_text.delta"
    )


def answer_doc(response: dict[str, Any]) -> dict[str, Any]:
    """The recorded answer as one ``response`` document, streamed or not."""
    body = response["body"]
    return response_from_sse(body) if is_sse(response) else json.loads(body)


#: Which key of a ``function_call`` item is the tool request's id. The API documents
#: ``call_id`` as the id a ``function_call_output`` answers; R ellmer (and chatlas) use the
#: item's ``id`` (``fc_...``) instead. We follow the API; see :func:`r_ids_as_ours`.
TOOL_ID_KEY = "call_id"


def message_text(item: dict[str, Any]) -> str:
    """A ``message`` item's ``output_text`` parts, joined."""
    return "".join(p["text"] for p in item["content"] if p["type"] == "output_text")


def search_query(item: dict[str, Any]) -> str:
    """R: ``action$query %||% action$queries[[1]] %||% action$url %||% "web search"``."""
    action = item.get("action") or {}
    queries = action.get("queries") or []
    return str(
        action.get("query")
        or (queries[0] if queries else None)
        or action.get("url")
        or "web search"
    )


def expected_contents(doc: dict[str, Any], structured: bool = False) -> list[tuple[Any, ...]]:
    """What each output item becomes, as comparable tuples (see :func:`shape`)."""
    out: list[tuple[Any, ...]] = []
    for item in doc["output"]:
        kind = item["type"]
        if kind == "message":
            # An empty message is left out (R keeps ContentText(""); ellmer-py keeps no
            # empty text, as for every provider).
            text = message_text(item)
            if structured:
                out.append(("json", json.loads(text)))
            elif text:
                out.append(("text", text))
        elif kind == "function_call":
            out.append(
                ("tool_request", item[TOOL_ID_KEY], item["name"], json.loads(item["arguments"]))
            )
        elif kind == "reasoning":
            summary = "".join(s["text"] for s in item.get("summary") or [])
            out.append(("thinking", summary))
        elif kind == "web_search_call":
            out.append(("search", search_query(item)))
        else:
            raise AssertionError(f"an output item this test does not know: {kind}")
    return out


def shape(content: Content) -> tuple[Any, ...]:
    """The part of a content these tests compare (``extra`` and raw JSON left out)."""
    if isinstance(content, ContentText):
        return ("text", content.text)
    if isinstance(content, ContentJson):
        return ("json", content.value)
    if isinstance(content, ContentToolRequest):
        return ("tool_request", content.id, content.name, content.arguments)
    if isinstance(content, ContentThinking):
        return ("thinking", content.thinking)
    if isinstance(content, ContentToolRequestSearch):
        return ("search", content.query)
    return (type(content).__name__, repr(content))


def expected_text(doc: dict[str, Any]) -> str:
    return "".join(message_text(i) for i in doc["output"] if i["type"] == "message")


def expected_tokens(usage: dict[str, Any] | None) -> Tokens:
    """R's rule: cached tokens are taken out of the input and counted as cached input."""
    usage = usage or {}
    cached = (usage.get("input_tokens_details") or {}).get("cached_tokens") or 0
    return Tokens(
        input=(usage.get("input_tokens") or 0) - cached,
        output=usage.get("output_tokens") or 0,
        cached_input=cached,
    )


def expected_finish(doc: dict[str, Any]) -> str | None:
    """R's ``value_finish_reason()`` for the Responses API."""
    status = doc.get("status")
    if status is None:
        return None
    if status == "completed":
        return "success"
    if status != "incomplete":
        return str(status)
    reason = (doc.get("incomplete_details") or {}).get("reason") or status
    return {"max_output_tokens": "max_tokens", "content_filter": "content_filter"}.get(
        reason, reason
    )


def error_words(response: dict[str, Any]) -> str:
    """The server's own message in a recorded error answer."""
    return str(json.loads(response["body"])["error"]["message"])


# -- the recorded request as our conversation -----------------------------------------------------


def data_url(url: str) -> tuple[str, bytes] | None:
    """(media type, bytes) of a base64 ``data:`` URL, or None for anything else."""
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, data = url[len("data:") :].split(";base64,", 1)
    return head, base64.b64decode(data)


def part_content(part: dict[str, Any], truncated: bool) -> Content | None:
    """One recorded input part as our Content, or None when ours cannot say it."""
    kind = part["type"]
    if kind in ("input_text", "output_text"):
        return ContentText(part["text"])
    if kind == "input_image":
        url = part.get("image_url") or ""
        if url.startswith(("http://", "https://")):
            return ContentImageRemote(url)
        decoded = None if truncated else data_url(url)
        return ContentImageInline(*decoded) if decoded else None
    if kind == "input_file" and part.get("file_data") and not truncated:
        decoded = data_url(part["file_data"])
        if decoded and decoded[0] == "application/pdf":
            return ContentPDF(decoded[1], filename=part.get("filename") or "document.pdf")
    return None


class Conversation:
    """A recorded request's ``input`` as our system prompt and turns.

    ``history`` goes in with ``set_turns()``; ``prompt`` is then sent. When
    the input ends with tool results, they join the history and a short
    ``prompt`` follows (one more user text item), so the tool calls are not
    left dangling. ``complete`` is False when some item did not translate:
    then only the last user text is sent.
    """

    FOLLOW_UP = "Go on."

    def __init__(self, interaction: dict[str, Any], fallback: str) -> None:
        body = interaction["request"]["body"]
        truncated = bool(interaction["request"].get("truncated"))
        items = body["input"]
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        self.system: str | None = None
        self.history: list[Turn] = []
        self.prompt: list[str | Content] = []
        self.follow_up = False
        self.complete = True
        turns: list[tuple[str, list[Content]]] = []  # (role, contents), same roles merged

        def add(role: str, content: Content | None) -> None:
            if content is None:
                self.complete = False
                return
            if turns and turns[-1][0] == role:
                turns[-1][1].append(content)
            else:
                turns.append((role, [content]))

        for item in items:
            kind = item.get("type", "message")
            if kind == "message":
                parts = item["content"]
                if isinstance(parts, str):
                    parts = [{"type": "input_text", "text": parts}]
                if item["role"] in ("system", "developer"):
                    texts = [p["text"] for p in parts]
                    self.system = "\n\n".join([*([self.system] if self.system else []), *texts])
                    continue
                for part in parts:
                    add(item["role"], part_content(part, truncated))
            elif kind == "function_call":
                arguments = json.loads(item["arguments"]) if item["arguments"] else {}
                add("assistant", ContentToolRequest(item["call_id"], item["name"], arguments))
            elif kind == "function_call_output":
                add("user", ContentToolResult(item["call_id"], value=item["output"]))
            else:
                self.complete = False
        built: list[Turn] = [
            UserTurn(contents) if role == "user" else AssistantTurn(contents)
            for role, contents in turns
        ]
        last = built[-1] if built else UserTurn([])
        if not self.complete or not isinstance(last, UserTurn):
            self.complete = False
            text = last.text if isinstance(last, UserTurn) else ""
            self.prompt = [text or fallback]
        elif any(isinstance(c, ContentToolResult) for c in last.contents):
            self.history = built
            self.prompt = [self.FOLLOW_UP]
            self.follow_up = True
        else:
            self.history = built[:-1]
            self.prompt = [c.text if isinstance(c, ContentText) else c for c in last.contents]


#: Keys of an input part or item that the recording clients add and R ellmer does not send.
CLIENT_EXTRAS = ("annotations", "status", "detail", "logprobs", "id")


def canonical_input(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An ``input`` list in R's shape: one message item per content part, without
    ``type: message`` and the clients' extra keys; tool call arguments parsed."""
    out: list[dict[str, Any]] = []
    for item in copy.deepcopy(items):
        kind = item.get("type", "message")
        if kind == "message":
            parts = item["content"]
            if isinstance(parts, str):
                part_type = "output_text" if item["role"] == "assistant" else "input_text"
                parts = [{"type": part_type, "text": parts}]
            for part in parts:
                for key in CLIENT_EXTRAS:
                    part.pop(key, None)
                out.append({"role": item["role"], "content": [part]})
        else:
            for key in CLIENT_EXTRAS:
                item.pop(key, None)
            if kind == "function_call":
                item["arguments"] = json.loads(item["arguments"] or "{}")
            out.append(item)
    return out


def is_reasoning_model(model: str) -> bool:
    """R's ``is_openai_reasoning()``: the models that send back encrypted reasoning."""
    return model.startswith(("o", "gpt-5"))


# -- the server and the chat ----------------------------------------------------------------------


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


def make_chat(srv: FakeServer, model: str, **kwargs: Any) -> Chat:
    """chat_openai pointed at the fake server, one try, no echo."""
    return chat_openai(
        base_url=srv.base_url,
        model=model,
        credentials=lambda: KEY,
        echo="none",
        max_tries=1,
        timeout_s=10,
        **kwargs,
    )


def close(*chats: Chat) -> None:
    for chat in chats:
        chat.get_provider().transport.close()


SERVICE_TIERS = ("auto", "default", "flex", "priority")


def chat_like(srv: FakeServer, interaction: dict[str, Any], system: str | None) -> Chat:
    """A chat set up as the recorded request was: model, system prompt, params, tier."""
    body = interaction["request"]["body"]
    kwargs: dict[str, Any] = {"system_prompt": system}
    standard: dict[str, Any] = {}
    if "max_output_tokens" in body:
        standard["max_tokens"] = body["max_output_tokens"]
    if "temperature" in body:
        standard["temperature"] = body["temperature"]
    if (body.get("reasoning") or {}).get("effort"):
        standard["reasoning_effort"] = body["reasoning"]["effort"]
    if standard:
        kwargs["params"] = params(**standard)
    if body.get("service_tier") in SERVICE_TIERS:
        kwargs["service_tier"] = body["service_tier"]
    chat = make_chat(srv, body["model"], **kwargs)
    web_search = getattr(ellmer_py, "openai_tool_web_search", None)
    if web_search and any(t.get("type") == "web_search" for t in body.get("tools") or []):
        chat.register_tool(web_search())
    return chat


def ask(chat: Chat, prompt: list[str | Content], streamed: bool) -> str:
    """One chat call: ``chat()`` (echo none: not streamed) or the joined ``stream()``."""
    return "".join(list(chat.stream(*prompt))) if streamed else chat.chat(*prompt)


def last_turn(chat: Chat) -> AssistantTurn:
    turn = chat.get_turns()[-1]
    assert isinstance(turn, AssistantTurn)
    assert not isinstance(turn, AssistantPartialTurn), turn.reason
    return turn


def check_turn(turn: AssistantTurn, doc: dict[str, Any], structured: bool = False) -> None:
    """The recorded answer's contents, text, tokens and finish reason, exactly."""
    assert [shape(c) for c in turn.contents] == expected_contents(doc, structured)
    if not structured:
        assert turn.text == expected_text(doc)
    assert turn.tokens == expected_tokens(doc.get("usage"))
    assert turn.finish_reason == expected_finish(doc)
    for content, item in zip(turn.contents, doc["output"], strict=False):
        if item["type"] == "reasoning":
            # R sends the reasoning item back as it came (``as_json`` of ContentThinking
            # is its ``extra``): the encrypted content must be kept.
            assert isinstance(content, ContentThinking)
            assert content.extra["id"] == item["id"]
            assert content.extra.get("encrypted_content") == item.get("encrypted_content")


def check_error(exc: BaseException, response: dict[str, Any]) -> None:
    status = response["status"]
    assert type(exc) is ERROR_CLASSES[status]
    assert isinstance(exc, HTTPStatusError)
    assert exc.status == status
    assert exc.provider == "OpenAI"
    said = error_words(response)
    assert said in (exc.server_message or "")
    assert said.rstrip(".") in str(exc)
    assert str(exc).startswith(f"OpenAI: HTTP {status}: ")
    assert KEY not in str(exc)


def check_request(
    srv: FakeServer, interaction: dict[str, Any], streamed: bool, conversation: Conversation
) -> None:
    """The request our client sent: path, headers, and the fields set like the recording's."""
    request = srv.requests[-1]
    recorded = interaction["request"]["body"]
    assert request.method == "POST"
    assert request.path == "/v1/responses"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == ("text/event-stream" if streamed else "application/json")
    body = request.json
    assert body["model"] == recorded["model"]
    assert body["stream"] is streamed
    # R: store = FALSE always (genai recorded with store = true): nothing is kept server-side.
    assert body["store"] is False
    assert body["service_tier"] == (
        recorded["service_tier"] if recorded.get("service_tier") in SERVICE_TIERS else "auto"
    )
    assert body.get("max_output_tokens") == recorded.get("max_output_tokens")
    assert body.get("temperature") == recorded.get("temperature")
    if (recorded.get("reasoning") or {}).get("effort"):
        assert body["reasoning"] == {"effort": recorded["reasoning"]["effort"], "summary": "auto"}
    else:
        assert "reasoning" not in body
    include = ["reasoning.encrypted_content"] if is_reasoning_model(recorded["model"]) else None
    assert body.get("include") == include
    if conversation.complete:
        ours = canonical_input(body["input"])
        if conversation.follow_up:
            assert ours.pop() == {
                "role": "user",
                "content": [{"type": "input_text", "text": Conversation.FOLLOW_UP}],
            }
        assert ours == canonical_input(recorded["input"])
    else:
        assert body["input"][-1]["content"][-1]["text"] == conversation.prompt[-1]


def stream_pieces(body: bytes, how: str) -> tuple[bytes, ...]:
    """A recorded stream cut into chunks: one, or at ragged byte offsets."""
    if how == "whole":
        return (body,)
    sizes = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233]
    pieces, at, n = [], 0, 0
    while at < len(body):
        size = sizes[n % len(sizes)]
        pieces.append(body[at : at + size])
        at, n = at + size, n + 1
    return tuple(pieces)


# -- the recordings are there ---------------------------------------------------------------------


def test_the_recordings_are_there() -> None:
    """Every file is a chat, a model list or input_tokens only; each is replayed or listed."""
    assert FIXTURES.is_dir(), f"missing recordings: {FIXTURES}"
    assert len(ALL_FILES) >= 100
    assert len(CHAT_FILES) >= 100
    assert sorted({*CHAT_FILES, *MODELS_FILES, *COUNT_ONLY_FILES}) == ALL_FILES
    # models_openai() and count_tokens() are not part of chat_openai(): not replayed here.
    assert [fixture_id(p) for p in MODELS_FILES] == [
        "chatlas/test_provider_openai/test_openai_list_models",
    ]
    assert [fixture_id(p) for p in COUNT_ONLY_FILES] == [
        "chatlas/test_provider_openai/test_openai_token_count_uses_endpoint_and_counts_tools",
    ]
    responses = [i for p in CHAT_FILES for i in load(p)["interactions"] if is_responses(i)]
    assert len(responses) >= 150
    assert sum(is_sse(i["response"]) for i in responses) >= 60
    assert sum(i["response"]["status"] >= 400 for i in responses) >= 8


@pytest.mark.parametrize(
    "case",
    [
        (p, n)
        for p in CHAT_FILES
        for n, i in enumerate(load(p)["interactions"])
        if is_responses(i) and is_sse(i["response"])
    ],
    ids=lambda c: f"{fixture_id(c[0])}#{c[1]}",
)
def test_recorded_streams_add_up(case: tuple[Path, int]) -> None:
    """(The recordings themselves.) A stream's text deltas add up to its final response's
    text, and its items as announced by ``output_item.done`` are the final ``output``."""
    path, n = case
    body = load(path)["interactions"][n]["response"]["body"]
    doc = response_from_sse(body)
    assert streamed_text(body) == expected_text(doc)
    done = [e["item"] for e in stream_docs(body) if e["type"] == "response.output_item.done"]
    assert [i["id"] for i in done] == [i["id"] for i in doc["output"]]


# -- replay ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CHAT_FILES, ids=fixture_id)
def test_replay_as_recorded(srv: FakeServer, path: Path) -> None:
    """Each ``POST /v1/responses`` answer, in its recorded mode, after the recorded history.

    A JSON answer goes through ``chat()``, a stream through ``stream()``.
    Recorded errors raise their class with the server's words, and record
    nothing.
    """
    data = load(path)
    calls = [i for i in data["interactions"] if is_responses(i)]
    for n, interaction in enumerate(calls):
        response = interaction["response"]
        streamed = asked_stream(interaction)
        conversation = Conversation(interaction, fallback=f"Question {n + 1}")
        chat = chat_like(srv, interaction, conversation.system)
        chat.set_turns(conversation.history)
        srv.enqueue(Reply.from_recording(response))
        before = len(chat.get_turns())
        if response["status"] >= 400:
            with pytest.raises(HTTPStatusError) as info:
                ask(chat, conversation.prompt, streamed)
            check_error(info.value, response)
            assert len(chat.get_turns()) == before
        else:
            assert is_sse(response) == streamed
            doc = answer_doc(response)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                said = ask(chat, conversation.prompt, streamed)
            assert said == expected_text(doc)
            check_turn(last_turn(chat), doc)
            assert len(chat.get_turns()) == before + 2
            cut = [str(w.message) for w in caught if "max_tokens" in str(w.message)]
            assert len(cut) == (expected_finish(doc) == "max_tokens")
        check_request(srv, interaction, streamed, conversation)
        close(chat)
    assert len(srv.requests) == len(calls)


STREAMED = [
    (p, n)
    for p in CHAT_FILES
    for n, i in enumerate(load(p)["interactions"])
    if is_responses(i) and is_sse(i["response"])
]


def stream_id(case: tuple[Path, int]) -> str:
    path, n = case
    return fixture_id(path) + (f"#{n}" if n else "")


@pytest.mark.parametrize("how", ["whole", "ragged"])
@pytest.mark.parametrize("case", STREAMED, ids=stream_id)
def test_chunking_does_not_matter(srv: FakeServer, case: tuple[Path, int], how: str) -> None:
    """A recorded stream sent in one chunk, or cut at ragged byte offsets (inside
    events, lines and UTF-8 characters), gives the same turn and the same text."""
    path, n = case
    interaction = load(path)["interactions"][n]
    response = interaction["response"]
    doc = response_from_sse(response["body"])
    reply = Reply.from_recording(response)
    srv.enqueue(dataclasses.replace(reply, chunks=stream_pieces(reply.body, how)))
    chat = make_chat(srv, interaction["request"]["body"]["model"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_tokens answers warn; checked above
        pieces = list(chat.stream("Hello"))
    turn = last_turn(chat)
    assert "".join(pieces) == turn.text == expected_text(doc)
    check_turn(turn, doc)
    close(chat)


@pytest.mark.parametrize("case", STREAMED, ids=stream_id)
def test_stream_and_json_give_equal_turns(srv: FakeServer, case: tuple[Path, int]) -> None:
    """The response a stream ends with, served as one JSON answer, gives an equal turn."""
    path, n = case
    interaction = load(path)["interactions"][n]
    doc = response_from_sse(interaction["response"]["body"])
    model = interaction["request"]["body"]["model"]
    streamed, whole = make_chat(srv, model), make_chat(srv, model)
    srv.enqueue(Reply.from_recording(interaction["response"]), Reply.json(doc))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        list(streamed.stream("Hello"))
        whole.chat("Hello")
    assert last_turn(streamed) == last_turn(whole)
    close(streamed, whole)


# -- errors ---------------------------------------------------------------------------------------

#: Error bodies in the shape the API documents
#: (https://platform.openai.com/docs/guides/error-codes); the recordings hold only 400s.
DOCUMENTED_ERRORS = [
    (401, "invalid_request_error", "Incorrect API key provided: sk-abc. You can find yours."),
    (403, "invalid_request_error", "You are not allowed to sample from this model"),
    (404, "invalid_request_error", "The model `gpt-nonexistent` does not exist"),
    (429, "requests", "Rate limit reached for requests"),
    (500, "server_error", "The server had an error while processing your request."),
    (503, "server_error", "The engine is currently overloaded, please try again later"),
]


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
@pytest.mark.parametrize(("status", "kind", "message"), DOCUMENTED_ERRORS, ids=lambda x: str(x))
def test_documented_error_statuses(
    srv: FakeServer, status: int, kind: str, message: str, streamed: bool
) -> None:
    """Each documented error status raises its class, with the server's message."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    response = {
        "status": status,
        "headers": {"content-type": "application/json", "x-request-id": "req_1"},
        "body": json.dumps(body),
    }
    srv.enqueue(Reply.from_recording(response))
    chat = make_chat(srv, "gpt-5.6-terra")
    with pytest.raises(HTTPStatusError) as info:
        ask(chat, ["Hello"], streamed)
    check_error(info.value, response)
    assert info.value.request_id == "req_1"
    assert chat.get_turns() == []
    close(chat)


def raw_events(body: str) -> list[str]:
    """A recorded stream's events, as the text sent (each ending with a blank line)."""
    return [e + "\n\n" for e in body.replace("\r\n", "\n").split("\n\n") if e.strip()]


def text_streams() -> list[tuple[Path, int]]:
    """Recorded streams with at least two text deltas."""
    found = []
    for path, n in STREAMED:
        body = load(path)["interactions"][n]["response"]["body"]
        deltas = [e for e in stream_docs(body) if e["type"] == "response.output_text.delta"]
        if len(deltas) >= 2:
            found.append((path, n))
    return found


ERROR_EVENT_FLAT = (
    b'event: error\ndata: {"type": "error", "code": "server_error", '
    b'"message": "The server had an error while processing your request.", '
    b'"param": null, "sequence_number": 99}\n\n'
)
ERROR_EVENT_NESTED = (
    b'event: error\ndata: {"type": "error", "error": {"type": "server_error", '
    b'"code": "server_error", "message": "The server had an error while processing '
    b'your request.", "param": null}, "sequence_number": 99}\n\n'
)
RESPONSE_FAILED = (
    b'event: response.failed\ndata: {"type": "response.failed", "sequence_number": 99, '
    b'"response": {"id": "resp_1", "object": "response", "status": "failed", '
    b'"error": {"code": "server_error", "message": "The server had an error while '
    b'processing your request."}, "incomplete_details": null, "output": [], "usage": null}}\n\n'
)
ERROR_EVENTS = {
    "error": ERROR_EVENT_FLAT,
    "error-nested": ERROR_EVENT_NESTED,
    "response.failed": RESPONSE_FAILED,
}
ERROR_WORDS = "The server had an error while processing your request"


@pytest.mark.parametrize("event", list(ERROR_EVENTS))
@pytest.mark.parametrize("case", text_streams(), ids=stream_id)
def test_error_event_mid_stream_keeps_a_partial_turn(
    srv: FakeServer, case: tuple[Path, int], event: str
) -> None:
    """An ``error`` or ``response.failed`` event after half the text raises
    StreamErrorEvent with the server's message; the text that arrived is kept
    in an AssistantPartialTurn.

    (The recordings hold no error event: the recorded stream is cut after its
    middle text delta and a documented error event appended; "error-nested"
    is the shape R reads, ``chunk$error$message``.)
    """
    path, n = case
    interaction = load(path)["interactions"][n]
    events = raw_events(interaction["response"]["body"])
    text_at = [i for i, e in enumerate(events) if '"response.output_text.delta"' in e]
    keep = events[: text_at[math.ceil(len(text_at) / 2) - 1] + 1]
    said = streamed_text("".join(keep))
    assert said
    srv.enqueue(Reply.sse([*(e.encode() for e in keep), ERROR_EVENTS[event]]))
    chat = make_chat(srv, interaction["request"]["body"]["model"])
    pieces: list[str] = []
    with pytest.raises(StreamErrorEvent) as info:
        pieces.extend(chat.stream("Hello"))
    assert ERROR_WORDS in str(info.value)
    assert str(info.value).startswith("OpenAI: ")
    turns = chat.get_turns()
    assert [t.role for t in turns] == ["user", "assistant"]
    partial = turns[-1]
    assert isinstance(partial, AssistantPartialTurn)
    assert partial.text == said == "".join(pieces)
    assert ERROR_WORDS in partial.reason
    close(chat)


def tool_streams() -> list[tuple[Path, int]]:
    """Recorded streams with a tool call whose arguments come in two deltas or more."""
    found = []
    for path, n in STREAMED:
        body = load(path)["interactions"][n]["response"]["body"]
        docs = stream_docs(body)
        deltas = [e for e in docs if e["type"] == "response.function_call_arguments.delta"]
        if len(deltas) >= 2 and len({e["item_id"] for e in deltas}) == 1:
            found.append((path, n))
    return found


@pytest.mark.parametrize("case", tool_streams(), ids=stream_id)
def test_connection_cut_mid_tool_arguments(srv: FakeServer, case: tuple[Path, int]) -> None:
    """A connection cut inside a tool call's JSON keeps the arguments so far, as text."""
    path, n = case
    interaction = load(path)["interactions"][n]
    events = raw_events(interaction["response"]["body"])
    at = [i for i, e in enumerate(events) if '"response.function_call_arguments.delta"' in e]
    keep = events[: at[-1]]  # the stream stops just before the last fragment
    partial = "".join(
        e["delta"]
        for e in stream_docs("".join(keep))
        if e["type"] == "response.function_call_arguments.delta"
    )
    srv.enqueue(Reply.cut("".join(keep).encode()))
    chat = make_chat(srv, interaction["request"]["body"]["model"])
    with pytest.raises(ConnectionCutError):
        list(chat.stream("Hello"))
    turn = chat.get_turns()[-1]
    assert isinstance(turn, AssistantPartialTurn)
    calls = [c for c in turn.contents if isinstance(c, ContentToolRequest)]
    assert len(calls) == 1
    with pytest.raises(ValueError):
        json.loads(partial)  # cut mid-JSON indeed
    assert calls[0].arguments == partial
    close(chat)


# -- structured output ----------------------------------------------------------------------------

PERSON = type_object(name=type_string(), age=type_integer())
CHATLAS_CHAT = FIXTURES / "chatlas" / "test_chat"


@pytest.mark.parametrize("name", ["test_chat_structured", "test_chat_structured_async"])
def test_chatlas_structured_output(srv: FakeServer, name: str) -> None:
    """chatlas asked for JSON through ``text.format``, as R does: the answer's text is the
    data, kept as ContentJson."""
    (interaction,) = load(CHATLAS_CHAT / f"{name}.json")["interactions"]
    recorded = interaction["request"]["body"]
    doc = answer_doc(interaction["response"])
    srv.enqueue(Reply.from_recording(interaction["response"]))
    chat = make_chat(srv, recorded["model"])
    prompt = recorded["input"][-1]["content"][0]["text"]
    data = chat.chat_structured(prompt, type=PERSON)
    assert data == json.loads(expected_text(doc))
    check_turn(last_turn(chat), doc, structured=True)
    body = srv.requests[-1].json
    assert body["stream"] is False
    ours, theirs = body["text"]["format"], recorded["text"]["format"]
    # R: name "structured_data", strict; the schema of a type_object as R writes it.
    assert {k: ours[k] for k in ("type", "name", "strict")} == {
        k: theirs[k] for k in ("type", "name", "strict")
    }
    assert ours["schema"]["additionalProperties"] is False
    assert ours["schema"]["required"] == theirs["schema"]["required"]
    # R writes ``description: ""`` for a property without one; chatlas writes none.
    types = {k: v["type"] for k, v in ours["schema"]["properties"].items()}
    assert types == {k: v["type"] for k, v in theirs["schema"]["properties"].items()}
    close(chat)


# -- the bodies R ellmer sends --------------------------------------------------------------------

ELLMER = FIXTURES / "ellmer"
TERSE = "Be terse. Respond with only the answer."


def ellmer_interactions(name: str) -> list[dict[str, Any]]:
    return load(ELLMER / f"{name}.json")["interactions"]


def ellmer_chat(srv: FakeServer, name: str, model: str, system: str, **kwargs: Any) -> Chat:
    """R's ``chat_openai_test()``: temperature 0; every recorded answer queued."""
    chat = make_chat(srv, model, system_prompt=system, params=params(temperature=0), **kwargs)
    srv.enqueue(*(Reply.from_recording(i["response"]) for i in ellmer_interactions(name)))
    return chat


def r_ids_as_ours(name: str) -> list[dict[str, Any]]:
    """R's recorded bodies, with R's tool call ids replaced by ours.

    The one deliberate difference: R's ``value_turn()`` takes a function
    call's item ``id`` (``fc_...``) as the tool request id and sends it back
    as ``call_id``; ellmer-py keeps the call's ``call_id`` (``call_...``),
    the id the API documents for ``function_call_output``. (With
    ``store = false`` the API accepts either, as R's recordings show.)
    The other: message items carry ``"type": "message"``, optional for
    OpenAI (R leaves it out) but required by llama-server for assistant items.
    """
    interactions = ellmer_interactions(name)
    ours = {
        item["id"]: item["call_id"]
        for i in interactions
        for item in json.loads(i["response"]["body"])["output"]
        if item["type"] == "function_call"
    }
    bodies = [copy.deepcopy(i["request"]["body"]) for i in interactions]
    for body in bodies:
        for item in body["input"]:
            if item.get("call_id") in ours:
                item["call_id"] = ours[item["call_id"]]
            if "role" in item:
                item.setdefault("type", "message")
                for part in item["content"]:
                    for fc, call in ours.items():
                        if "text" in part:
                            part["text"] = part["text"].replace(fc, call)
            if isinstance(item.get("output"), str):
                for fc, call in ours.items():
                    item["output"] = item["output"].replace(fc, call)
    return bodies


def check_bodies(srv: FakeServer, name: str) -> None:
    """Every body we sent is R's, key for key, in order (tool call ids aside)."""
    recorded = r_ids_as_ours(name)
    sent = [r.json for r in srv.requests]
    assert len(sent) == len(recorded)
    for ours, theirs in zip(sent, recorded, strict=True):
        assert ours == theirs


def check_answers(chat: Chat, name: str) -> None:
    """Each recorded answer is an assistant turn of the conversation, as recorded."""
    docs = [json.loads(i["response"]["body"]) for i in ellmer_interactions(name)]
    answers = [t for t in chat.get_turns() if isinstance(t, AssistantTurn)]
    assert len(answers) == len(docs)
    for turn, doc in zip(answers, docs, strict=True):
        check_turn(turn, doc)


def test_ellmer_service_tier_body(srv: FakeServer) -> None:
    """R: ``chat_openai_test(model = "gpt-4.1-nano", service_tier = "priority")``: no
    ``include`` for a model that is not a reasoning model."""
    name = "openai-v2-service-tier"
    chat = ellmer_chat(srv, name, "gpt-4.1-nano", TERSE, service_tier="priority")
    assert chat.chat("Tell me a joke").startswith("Why did the scarecrow")
    check_bodies(srv, name)
    check_answers(chat, name)
    close(chat)


def test_ellmer_tools_simple_bodies(srv: FakeServer) -> None:
    """R's ``test_tools_simple()``: two tools without arguments, two questions."""
    name = "openai-v2-tool"
    chat = ellmer_chat(
        srv, name, "gpt-5.4-nano", "Always use a tool to answer. Reply with 'It is ____.'."
    )

    def current_date() -> str:
        return "2024-01-01"

    def current_month() -> str:
        return "February"

    chat.register_tool(tool(current_date, "Return the current date", arguments={}))
    chat.register_tool(
        tool(current_month, "Return the full name of the current month", arguments={})
    )
    assert "2024-01-01" in chat.chat("What's the current date in Y-M-D format?")
    assert "February" in chat.chat("What month is it? Provide the full name")
    check_bodies(srv, name)
    check_answers(chat, name)
    close(chat)


def test_ellmer_parallel_tools_bodies(srv: FakeServer) -> None:
    """R: two calls of one tool in one answer; both results in one turn."""
    name = "chat-tools-parallel"
    chat = ellmer_chat(srv, name, "gpt-4.1-nano", "Be terse")
    rolls = iter([2, 5])

    def dice() -> int:
        return next(rolls)

    chat.register_tool(tool(dice, "Rolls a six-sided die", arguments={}))
    assert "7" in chat.chat("Roll two dice and compute the total.")
    check_bodies(srv, name)
    check_answers(chat, name)
    kinds = [[type(c).__name__ for c in t.contents] for t in chat.get_turns()]
    assert kinds == [
        ["ContentText"],
        ["ContentToolRequest", "ContentToolRequest"],
        ["ContentToolResult", "ContentToolResult"],
        ["ContentText"],
    ]
    close(chat)


def test_ellmer_sequential_tools_bodies(srv: FakeServer) -> None:
    """R: one tool's result leads to the next tool call."""
    name = "chat-tools-sequential"
    chat = ellmer_chat(srv, name, "gpt-5.4-nano", "Be terse")

    def dice() -> int:
        return 1

    def clothes(roll: float) -> str:
        return "Pants"

    chat.register_tool(tool(dice, "Rolls a dice", arguments={}))
    chat.register_tool(
        tool(
            clothes,
            "Pick clothes to wear based on a dice roll",
            arguments={"roll": type_number()},
        )
    )
    assert "pants" in chat.chat("Which clothes should I wear today? Roll a dice to decide.").lower()
    check_bodies(srv, name)
    check_answers(chat, name)
    close(chat)


def favourite_color_tool(func: Any) -> Any:
    return tool(
        func,
        "Find out a user's favorite color",
        arguments={"user": type_string("User's name")},
        name="user_favorite_color",
    )


def test_ellmer_tool_failure_bodies(srv: FakeServer) -> None:
    """R: a tool that fails; the model reads "Tool calling failed with error ..."."""
    name = "chat-tools-failure"
    chat = ellmer_chat(srv, name, "gpt-5.4-nano", TERSE)

    def fails(user: str) -> str:
        raise RuntimeError("User denied tool request")

    chat.register_tool(favourite_color_tool(fails))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tool failures warn
        chat.chat("What are Joe, Hadley, Simon, and Tom's favorite colors?")
    # One deliberate difference: a Python exception is told with its class
    # ("RuntimeError: ..."); R's stop() has only its message.
    recorded = r_ids_as_ours(name)
    for item in recorded[1]["input"]:
        if item.get("type") == "function_call_output":
            item["output"] = item["output"].replace("error User", "error RuntimeError: User")
    assert [r.json for r in srv.requests] == recorded
    check_answers(chat, name)
    close(chat)


def test_ellmer_reject_in_callback_bodies(srv: FakeServer) -> None:
    """R: ``on_tool_request()`` rejects Joe's call; two prompts are two input items."""
    name = "chat-tools-reject-callback"
    chat = ellmer_chat(srv, name, "gpt-4.1-mini", TERSE)

    def red(user: str) -> str:
        return "red"

    def reject_joe(request: ContentToolRequest) -> None:
        if request.arguments["user"] == "Joe":
            tool_reject("Joe denied the request.")

    chat.register_tool(favourite_color_tool(red))
    chat.on_tool_request(reject_joe)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = chat.chat(
            "What are Joe and Hadley's favorite colors?",
            "Write 'Joe ____ Hadley ____'. Use 'unknown' if you don't know.",
        )
    assert result == "Joe unknown Hadley red"
    check_bodies(srv, name)
    check_answers(chat, name)
    close(chat)


def test_ellmer_reject_in_tool_bodies(srv: FakeServer) -> None:
    """R: the tool itself calls ``tool_reject()`` for Joe."""
    name = "chat-tools-reject-tool-function"
    chat = ellmer_chat(srv, name, "gpt-4.1", TERSE)

    def red_but_joe(user: str) -> str:
        if user == "Joe":
            tool_reject()
        return "red"

    chat.register_tool(favourite_color_tool(red_but_joe))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = chat.chat(
            "What are Joe and Hadley's favorite colors?",
            "Write 'Joe ____ Hadley ____'. Use 'unknown' if you don't know.",
        )
    assert result == "Joe unknown Hadley red"
    check_bodies(srv, name)
    check_answers(chat, name)
    close(chat)


def test_ellmer_tool_callbacks_bodies(srv: FakeServer) -> None:
    """R: ``c("red", "blue")[nchar(user) %% 2 + 1]``; both callbacks see every call."""
    name = "chat-tools-callbacks"
    chat = ellmer_chat(srv, name, "gpt-5.4-nano", TERSE)

    def colour(user: str) -> str:
        return ["red", "blue"][len(user) % 2]

    seen: list[str] = []
    chat.register_tool(favourite_color_tool(colour))
    chat.on_tool_request(lambda request: seen.append(request.arguments["user"]))
    chat.on_tool_result(lambda result: seen.append(result.value))
    chat.chat("What are Joe and Hadley's favorite colors?")
    assert sorted(seen) == ["Hadley", "Joe", "blue", "red"]
    check_bodies(srv, name)
    check_answers(chat, name)
    close(chat)


def test_ellmer_dangling_tool_request_bodies(srv: FakeServer) -> None:
    """R: a history ending with a tool call that never ran is answered with an error
    result before the next message.

    One deliberate difference: R's ``ContentToolRequest(id = "1", name =
    "get_date")`` has ``arguments = list()``, which jsonlite writes as
    ``[]``; ours are ``{}``, written ``{}`` (the arguments of a call are an
    object).
    """
    name = "chat-tools-dangling"
    chat = ellmer_chat(srv, name, "gpt-5.4-nano", "Be terse")

    def get_date() -> str:
        return "2001-02-09"

    chat.register_tool(tool(get_date, "Get todays date", arguments={}))
    chat.set_turns(
        [UserTurn("What year is it today?"), AssistantTurn([ContentToolRequest("1", "get_date")])]
    )
    assert "2001" in chat.chat("try again")
    assert "2001" in chat.chat("try again")
    recorded = r_ids_as_ours(name)
    for body in recorded:
        assert body["input"][2]["arguments"] == "[]"
        body["input"][2]["arguments"] = "{}"
    assert [r.json for r in srv.requests] == recorded
    close(chat)


def test_ellmer_pdf_bodies(srv: FakeServer) -> None:
    """R's ``test_pdf_local()``: the text and the PDF are two user items; the file name
    goes with the PDF. (The third request asks the second question again.)"""
    name = "openai-v2-pdf"
    first = ellmer_interactions(name)[0]["request"]["body"]
    (pdf_part,) = first["input"][2]["content"]
    media_type, pdf = data_url(pdf_part["file_data"]) or ("", b"")
    assert media_type == "application/pdf"
    chat = ellmer_chat(srv, name, "gpt-5.4-nano", TERSE)
    answer = chat.chat("What's the title of this document?", ContentPDF(pdf, filename="apples.pdf"))
    assert answer == "Apples are tasty"
    assert chat.chat("What apple is not tasty?") == "Red Delicious"
    assert chat.chat("What apple is not tasty?") == "Red Delicious"
    check_bodies(srv, name)
    check_answers(chat, name)
    close(chat)


@pytest.mark.parametrize("returns", ["image", "result"])
def test_ellmer_tool_image_bodies(srv: FakeServer, returns: str) -> None:
    """R's ``test_tool_image()``: a tool returns an image; the Responses API takes no
    image in a ``function_call_output``, so R points at it and sends it in user items
    (``turn_contents_expand()``). The recording cut the JPEG's base64: our image is
    another one, and the recorded data URL is replaced by ours before comparing.

    The tool returns the image itself, as R's test does ("image"), or a
    ContentToolResult holding it ("result"). One deliberate difference: the
    empty answer to the first question is no content for us (R sends it back
    as an empty ``output_text`` item), so that item is left out.
    """
    name = "openai-v2-tool-image"
    image = ContentImageInline("image/jpeg", b"\xff\xd8\xff\xe0 a small jpeg")
    chat = ellmer_chat(srv, name, "gpt-5.4-nano", TERSE)

    def draw_animal() -> Any:
        if returns == "image":
            return image
        return ContentToolResult("ignored: the call's id is used", value=image)

    chat.register_tool(tool(draw_animal, "Draw a cute animal", arguments={}))
    chat.chat("Draw a picture of a cute animal")
    assert "kitten" in chat.chat("What sort of animal is that?")
    chat.chat("What sort of animal is that?")
    ours_url = "data:image/jpeg;base64," + base64.b64encode(image.data).decode()
    recorded = r_ids_as_ours(name)
    for body in recorded[1:]:
        part = body["input"][5]["content"][0]
        assert part["image_url"].startswith("data:image/jpeg;base64,/9j/")
        part["image_url"] = ours_url
    empty = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": ""}],
    }
    for body in recorded[2:]:
        body["input"].remove(empty)
    assert [r.json for r in srv.requests] == recorded
    close(chat)


@pytest.mark.parametrize(
    ("name", "prompts"),
    [
        ("parallel-duration", ["What's 1 + 1?", "What's 2 + 2?"]),
        ("parallel-logging", ["Say 1", "Say 2", "Say 3"]),
    ],
)
def test_ellmer_parallel_prompt_bodies(srv: FakeServer, name: str, prompts: list[str]) -> None:
    """R's ``parallel_chat()`` recordings: each prompt's body, sent one after another
    from a fresh copy of the chat (the order of parallel requests is not fixed)."""
    chat = ellmer_chat(srv, name, "gpt-5.4-nano", TERSE)
    answers = [chat.copy().chat(p) for p in prompts]
    docs = [json.loads(i["response"]["body"]) for i in ellmer_interactions(name)]
    assert answers == [expected_text(d) for d in docs]
    check_bodies(srv, name)
    close(chat)


def test_ellmer_parallel_tool_bodies(srv: FakeServer) -> None:
    """R's ``parallel-tool`` recording, its two conversations one after the other: the
    recorded order is both first requests, then both second ones."""
    name = "parallel-tool"
    interactions = ellmer_interactions(name)
    chat = make_chat(srv, "gpt-5.4-nano", system_prompt=TERSE, params=params(temperature=0))
    rolls = iter([1, 2])

    def roll() -> int:
        return next(rolls)

    chat.register_tool(tool(roll, "Rolls a six-sided die.", arguments={}))
    prompt = "Roll the dice, please! Reply with 'You rolled ____'"
    for k in (0, 1):
        srv.enqueue(
            Reply.from_recording(interactions[k]["response"]),
            Reply.from_recording(interactions[k + 2]["response"]),
        )
        assert chat.copy().chat(prompt) == f"You rolled {k + 1}"
    sent = [r.json for r in srv.requests]
    recorded = r_ids_as_ours(name)
    assert sent == [recorded[0], recorded[2], recorded[1], recorded[3]]
    close(chat)


def test_rs_default_model_is_priced_by_tier() -> None:
    """gpt-5.6-terra (R's default) has R's list prices, per service tier."""
    from ellmer_py.plugin import Price
    from ellmer_py.providers.openai import price_of

    assert price_of("gpt-5.6-terra") == Price(2.0, 12.0, 0.2)
    assert price_of("gpt-5.6-terra-2026-05-01", "priority") == Price(4.0, 24.0, 0.4)
    assert price_of("gpt-5.6-terra", "flex") == Price(1.0, 6.0, 0.1)
