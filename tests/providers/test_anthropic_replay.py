"""Replay every recorded Anthropic Messages answer through a real ``chat_anthropic``.

The recordings in ``../shared/fixtures/native/anthropic/`` (see
``../shared/fixtures/native/README.md``) are real answers of the Messages
API, recorded by genai, chatlas and R ellmer. Each answer is served by a
loopback :class:`FakeServer` (matched on nothing: the server answers in
order, whatever the body) to ``chat_anthropic(base_url=...)``. What each
answer must give (contents, text, tokens, finish reason, error class and
message) is computed here from the raw recording, with ``json`` and line
splitting only, never with the protocol code under test.

The ``ellmer/`` recordings also show the exact bodies R ellmer sends: the
same conversations rebuilt with our API must send the same bodies.
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
from urllib.parse import parse_qs, urlsplit

import pytest

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
    ContentToolRequestFetch,
    ContentToolRequestSearch,
    ContentToolResponseFetch,
    ContentToolResponseSearch,
    ContentToolResult,
    HTTPStatusError,
    NotFoundError,
    RateLimitError,
    ServerError,
    StreamErrorEvent,
    SystemTurn,
    Turn,
    UserTurn,
    chat_anthropic,
    claude_tool_web_fetch,
    claude_tool_web_search,
    models_anthropic,
    params,
    type_array,
    type_enum,
    type_integer,
    type_number,
    type_object,
    type_string,
)
from ellmer_py._chat import Chat
from ellmer_py._turn import Tokens
from ellmer_py.conformance.fake_server import FakeServer, Reply

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "native" / "anthropic"
ALL_FILES = sorted(FIXTURES.rglob("*.json"))
KEY = "test-key"

#: ellmer's value_finish_reason() for Claude; anything else is kept as is.
ELLMER_FINISH = {
    "end_turn": "success",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "context_window",
    "stop_sequence": "stop_sequence",
    "refusal": "content_filter",
}

ERROR_CLASSES: dict[int, type[HTTPStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    429: RateLimitError,
    500: ServerError,
    529: ServerError,
}


# -- reading the recordings (independent of ellmer_py) --------------------------------------------


def load(path: Path) -> dict[str, Any]:
    """One fixture file, parsed."""
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def fixture_id(path: Path) -> str:
    """The file's stem, with its folders below anthropic/ (stems repeat across models)."""
    return path.relative_to(FIXTURES).with_suffix("").as_posix()


def url_path(interaction: dict[str, Any]) -> str:
    return urlsplit(interaction["request"]["url"]).path


def is_messages(interaction: dict[str, Any]) -> bool:
    """A ``POST /v1/messages`` (a chat request, not count_tokens)."""
    return interaction["request"]["method"] == "POST" and url_path(interaction) == "/v1/messages"


def is_models(interaction: dict[str, Any]) -> bool:
    return interaction["request"]["method"] == "GET" and url_path(interaction) == "/v1/models"


def is_count_tokens(interaction: dict[str, Any]) -> bool:
    return url_path(interaction) == "/v1/messages/count_tokens"


CHAT_FILES = [p for p in ALL_FILES if any(is_messages(i) for i in load(p)["interactions"])]
MODELS_FILES = [p for p in ALL_FILES if any(is_models(i) for i in load(p)["interactions"])]
COUNT_ONLY_FILES = [
    p for p in ALL_FILES if all(is_count_tokens(i) for i in load(p)["interactions"])
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


def message_from_sse(body: str) -> dict[str, Any]:
    """The ``message`` document a recorded stream adds up to (as the API documents it).

    Usage: ``message_start``'s, updated by ``message_delta``'s non-null counts.
    """
    message: dict[str, Any] = {}
    usage: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    partial_json: dict[int, str] = {}
    for _, data in sse_events(body):
        event = json.loads(data)
        kind = event["type"]
        if kind == "message_start":
            message = copy.deepcopy(event["message"])
            usage = dict(message.get("usage") or {})
        elif kind == "content_block_start":
            blocks[event["index"]] = copy.deepcopy(event["content_block"])
        elif kind == "content_block_delta":
            block, delta = blocks[event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = (block.get("signature") or "") + delta["signature"]
            elif delta["type"] == "input_json_delta":
                partial_json[event["index"]] = (
                    partial_json.get(event["index"], "") + delta["partial_json"]
                )
            elif delta["type"] == "citations_delta":
                block["citations"] = [*(block.get("citations") or []), delta["citation"]]
            else:
                raise AssertionError(f"a delta this test does not know: {delta['type']}")
        elif kind == "message_delta":
            message.update({k: v for k, v in event["delta"].items() if k != "stop_details"})
            usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
    for index, raw in partial_json.items():
        blocks[index]["input"] = json.loads(raw) if raw.strip() else {}
    message["content"] = [blocks[i] for i in sorted(blocks)]
    message["usage"] = usage
    return message


def answer_doc(response: dict[str, Any]) -> dict[str, Any]:
    """The recorded answer as one ``message`` document, streamed or not."""
    body = response["body"]
    return message_from_sse(body) if is_sse(response) else json.loads(body)


def expected_contents(doc: dict[str, Any]) -> list[Content]:
    """The contents ellmer-py keeps of a ``message``, block by block.

    Text keeps its citations in ``extra``; thinking its signature; the forced
    ``_structured_tool_call`` is the structured answer; web search and fetch
    blocks keep their JSON. Empty text without citations is left out.
    """
    out: list[Content] = []
    for block in doc["content"]:
        kind = block["type"]
        if kind == "text":
            citations = block.get("citations")
            if block["text"] or citations:
                extra = {"citations": citations} if citations else None
                out.append(ContentText(block["text"], extra=extra))
        elif kind == "thinking":
            signature = block.get("signature") or None
            if block["thinking"] or signature:
                extra = {"signature": signature} if signature else None
                out.append(ContentThinking(block["thinking"], extra=extra))
        elif kind == "redacted_thinking":
            out.append(
                ContentThinking("", extra={"type": "redacted_thinking", "data": block["data"]})
            )
        elif kind == "tool_use" and block["name"] == "_structured_tool_call":
            out.append(ContentJson(block["input"]["data"]))
        elif kind == "tool_use":
            out.append(ContentToolRequest(block["id"], block["name"], block["input"]))
        elif kind == "server_tool_use" and block["name"] == "web_search":
            out.append(ContentToolRequestSearch(query=block["input"]["query"], json=block))
        elif kind == "server_tool_use" and block["name"] == "web_fetch":
            out.append(ContentToolRequestFetch(url=block["input"]["url"], json=block))
        elif kind == "web_search_tool_result":
            urls = [r["url"] for r in block["content"]]
            out.append(ContentToolResponseSearch(urls=urls, json=block))
        elif kind == "web_fetch_tool_result":
            out.append(ContentToolResponseFetch(url=block["content"]["url"], json=block))
        else:
            raise AssertionError(f"a block this test does not know: {kind}")
    return out


def expected_text(doc: dict[str, Any]) -> str:
    return "".join(b["text"] for b in doc["content"] if b["type"] == "text")


def expected_tokens(usage: dict[str, Any]) -> Tokens:
    """R's rule: cache writes count as input, cache reads as cached input."""
    return Tokens(
        input=(usage.get("input_tokens") or 0) + (usage.get("cache_creation_input_tokens") or 0),
        output=usage.get("output_tokens") or 0,
        cached_input=usage.get("cache_read_input_tokens") or 0,
    )


def expected_finish(reason: Any) -> str | None:
    return None if reason is None else ELLMER_FINISH.get(reason, reason)


def error_words(response: dict[str, Any]) -> str:
    """The server's own message in a recorded error answer."""
    return str(json.loads(response["body"])["error"]["message"])


def block_content(block: dict[str, Any], truncated: bool) -> Content | None:
    """One recorded request block as our Content, or None when ours cannot say it.

    A truncated base64, a PDF by URL, a text document do not translate.
    """
    source = block.get("source") or {}
    kind = block["type"]
    if kind == "text":
        return ContentText(block["text"])
    if kind == "image" and source.get("type") == "url":
        return ContentImageRemote(source["url"])
    if kind == "image" and source.get("type") == "base64" and not truncated:
        return ContentImageInline(source["media_type"], base64.b64decode(source["data"]))
    if (
        kind == "document"
        and source.get("type") == "base64"
        and source.get("media_type") == "application/pdf"
        and not truncated
    ):
        return ContentPDF(base64.b64decode(source["data"]))
    if kind == "tool_use":
        return ContentToolRequest(block["id"], block["name"], block["input"])
    if kind == "tool_result" and not block.get("is_error"):
        content = block["content"]
        if isinstance(content, list):
            content = "".join(c["text"] for c in content if c["type"] == "text")
        return ContentToolResult(block["tool_use_id"], value=content)
    return None


class Conversation:
    """A recorded request's messages as our turns, when every block translates.

    ``history`` goes in with ``set_turns()``; ``prompt`` is then sent. When
    the last user message holds tool results, it joins the history and a
    short ``prompt`` follows: sent as one more text block of that message
    (consecutive user turns are merged), so the tool calls are not left
    dangling. ``complete`` is False when some block did not translate: then
    only the last user message's text is sent.
    """

    FOLLOW_UP = "Go on."

    def __init__(self, interaction: dict[str, Any], fallback: str) -> None:
        body = interaction["request"]["body"]
        truncated = bool(interaction["request"].get("truncated"))
        self.history: list[Turn] = []
        self.prompt: list[str | Content] = []
        self.follow_up = False
        self.complete = True
        turns = []
        for message in body["messages"]:
            blocks = message["content"]
            if isinstance(blocks, str):
                blocks = [{"type": "text", "text": blocks}]
            contents = [block_content(b, truncated) for b in blocks]
            self.complete = self.complete and None not in contents
            turn_class = UserTurn if message["role"] == "user" else AssistantTurn
            turns.append(turn_class([c for c in contents if c is not None]))
        last = turns[-1] if turns else UserTurn([])
        if not self.complete or not isinstance(last, UserTurn):
            self.complete = False
            text = last.text if isinstance(last, UserTurn) else ""
            self.prompt = [text or fallback]
        elif any(isinstance(c, ContentToolResult) for c in last.contents):
            self.history = turns
            self.prompt = [self.FOLLOW_UP]
            self.follow_up = True
        else:
            self.history = turns[:-1]
            self.prompt = [c.text if isinstance(c, ContentText) else c for c in last.contents]


def normalised(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages without cache points, tool results' text joined, ``is_error`` false dropped."""
    out = copy.deepcopy(messages)
    for message in out:
        if isinstance(message["content"], str):
            message["content"] = [{"type": "text", "text": message["content"]}]
        for block in message["content"]:
            block.pop("cache_control", None)
            if block["type"] == "tool_result":
                if isinstance(block["content"], list):
                    block["content"] = "".join(c["text"] for c in block["content"])
                if block.get("is_error") is False:
                    del block["is_error"]
    return out


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
    """chat_anthropic pointed at the fake server, one try, no echo."""
    return chat_anthropic(
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


def chat_like(srv: FakeServer, interaction: dict[str, Any]) -> Chat:
    """A chat set up as the recorded request was: model, system prompt, params, web tools."""
    body = interaction["request"]["body"]
    system = body.get("system")
    if isinstance(system, list):
        system = "".join(b["text"] for b in system if b.get("type") == "text")
    kwargs: dict[str, Any] = {"system_prompt": system or None}
    standard = {k: body[k] for k in ("max_tokens", "stop_sequences", "temperature") if k in body}
    if standard:
        kwargs["params"] = params(**standard)
    chat = make_chat(srv, body["model"], **kwargs)
    for tool in body.get("tools") or []:
        if str(tool.get("type", "")).startswith("web_search"):
            chat.register_tool(claude_tool_web_search())
        elif str(tool.get("type", "")).startswith("web_fetch"):
            chat.register_tool(claude_tool_web_fetch())
    return chat


def ask(chat: Chat, prompt: list[str | Content], streamed: bool) -> str:
    """One chat call: ``chat()`` (echo none: not streamed) or the joined ``stream()``."""
    return "".join(list(chat.stream(*prompt))) if streamed else chat.chat(*prompt)


def last_turn(chat: Chat) -> AssistantTurn:
    turn = chat.get_turns()[-1]
    assert isinstance(turn, AssistantTurn)
    assert not isinstance(turn, AssistantPartialTurn), turn.reason
    return turn


def check_turn(turn: AssistantTurn, doc: dict[str, Any]) -> None:
    """The recorded answer's contents, text, tokens and finish reason, exactly."""
    assert list(turn.contents) == expected_contents(doc)
    assert turn.text == expected_text(doc)
    assert turn.tokens == expected_tokens(doc["usage"])
    assert turn.finish_reason == expected_finish(doc.get("stop_reason"))


def check_error(exc: BaseException, response: dict[str, Any]) -> None:
    status = response["status"]
    assert type(exc) is ERROR_CLASSES[status]
    assert isinstance(exc, HTTPStatusError)
    assert exc.status == status
    assert exc.provider == "Anthropic"
    said = error_words(response)
    assert said in (exc.server_message or "")  # R adds the error type: "message [type]"
    assert said in str(exc)
    assert str(exc).startswith(f"Anthropic: HTTP {status}: ")
    assert KEY not in str(exc)


def check_request(
    srv: FakeServer, interaction: dict[str, Any], streamed: bool, conversation: Conversation
) -> None:
    """The request our client sent: path, headers, and the fields set like the recording's."""
    request = srv.requests[-1]
    recorded = interaction["request"]["body"]
    assert request.method == "POST"
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == ("text/event-stream" if streamed else "application/json")
    assert "authorization" not in request.headers
    body = request.json
    assert body["model"] == recorded["model"]
    assert body["stream"] is streamed
    assert body["max_tokens"] == recorded.get("max_tokens", 4096)
    for key in ("stop_sequences", "temperature"):
        assert body.get(key) == recorded.get(key)
    if recorded.get("system"):
        assert [b["text"] for b in body["system"]] == [b["text"] for b in recorded["system"]]
    recorded_beta = interaction["request"].get("headers", {}).get("anthropic-beta")
    if recorded_beta and "web-fetch" in recorded_beta:
        assert request.headers["anthropic-beta"] == recorded_beta
    web = [t for t in recorded.get("tools") or [] if str(t.get("type", "")).startswith("web_")]
    if web:
        ours = [{"type": t["type"], "name": t["name"]} for t in body["tools"]]
        assert ours == [{"type": t["type"], "name": t["name"]} for t in web]
    if conversation.complete:
        # The whole conversation as the recording's client sent it, but for cache
        # points (ours: on the last block) and the follow-up text block.
        ours = normalised(body["messages"])
        for block in (b for m in ours for b in m["content"] if b["type"] == "document"):
            # A PDF may carry its file name as the document's title; recorded clients sent none.
            assert block.pop("title", "document.pdf") == "document.pdf"
        if conversation.follow_up:
            assert ours[-1]["content"].pop() == {"type": "text", "text": Conversation.FOLLOW_UP}
        assert ours == normalised(recorded["messages"])
        assert body["messages"][-1]["content"][-1]["cache_control"] == {
            "type": "ephemeral",
            "ttl": "5m",
        }
    else:
        assert body["messages"][-1]["content"][-1]["text"] == conversation.prompt[-1]


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
    """Every file is a chat, a model list or count_tokens only; each is replayed or listed."""
    assert FIXTURES.is_dir(), f"missing recordings: {FIXTURES}"
    assert len(ALL_FILES) >= 180
    assert sorted({*CHAT_FILES, *MODELS_FILES, *COUNT_ONLY_FILES}) == ALL_FILES
    assert [fixture_id(p) for p in MODELS_FILES] == [
        "chatlas/test_provider_anthropic/test_anthropic_list_models",
        "ellmer/anthropic-list-models",
    ]
    # ellmer-py has no count_tokens() (R: Chat$get_tokens(), count_tokens()): not replayed;
    # the request bodies R sends to it are checked against ours below.
    assert [fixture_id(p) for p in COUNT_ONLY_FILES] == [
        "chatlas/test_provider_anthropic/test_anthropic_token_count_complete_exceeds_new",
        "genai/CountTokens",
    ]


# -- replay ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CHAT_FILES, ids=fixture_id)
def test_replay_as_recorded(srv: FakeServer, path: Path) -> None:
    """Each ``POST /v1/messages`` answer, in its recorded mode, after the recorded history.

    Streams are served one event a chunk (as recorded); a JSON answer goes
    through ``chat()``, a stream through ``stream()``. Recorded errors raise
    their class with the server's words, and record nothing.
    """
    data = load(path)
    messages = [i for i in data["interactions"] if is_messages(i)]
    for n, interaction in enumerate(messages):
        response = interaction["response"]
        streamed = asked_stream(interaction)
        conversation = Conversation(interaction, fallback=f"Question {n + 1}")
        chat = chat_like(srv, interaction)
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
            assert len(cut) == (doc.get("stop_reason") == "max_tokens")
        check_request(srv, interaction, streamed, conversation)
        close(chat)
    assert len(srv.requests) == len(messages)


STREAMED = [
    (p, n)
    for p in CHAT_FILES
    for n, i in enumerate(load(p)["interactions"])
    if is_messages(i) and is_sse(i["response"])
]


def stream_id(case: tuple[Path, int]) -> str:
    path, n = case
    return fixture_id(path) + (f"#{n}" if n else "")


@pytest.mark.parametrize("how", ["whole", "ragged"])
@pytest.mark.parametrize("case", STREAMED, ids=stream_id)
def test_chunking_does_not_matter(srv: FakeServer, case: tuple[Path, int], how: str) -> None:
    """A recorded stream sent in one chunk, or cut at ragged byte offsets (inside
    events, lines and UTF-8 characters), gives the same turn and the same text.
    """
    path, n = case
    interaction = load(path)["interactions"][n]
    response = interaction["response"]
    doc = message_from_sse(response["body"])
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
    """The message a stream adds up to, served as one JSON answer, gives an equal turn."""
    path, n = case
    interaction = load(path)["interactions"][n]
    doc = message_from_sse(interaction["response"]["body"])
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

#: Error bodies in the shape the API documents (https://docs.claude.com/en/api/errors);
#: the recordings hold only 400s.
DOCUMENTED_ERRORS = [
    (401, "authentication_error", "invalid x-api-key"),
    (
        403,
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    (404, "not_found_error", "model: claude-nonexistent"),
    (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    (500, "api_error", "Internal server error"),
    (529, "overloaded_error", "Overloaded"),
]


@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream"])
@pytest.mark.parametrize(("status", "kind", "message"), DOCUMENTED_ERRORS, ids=lambda x: str(x))
def test_documented_error_statuses(
    srv: FakeServer, status: int, kind: str, message: str, streamed: bool
) -> None:
    """Each documented error status raises its class, with the server's message."""
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"}
    response = {
        "status": status,
        "headers": {"content-type": "application/json", "request-id": "req_1"},
        "body": json.dumps(body),
    }
    srv.enqueue(Reply.from_recording(response))
    chat = make_chat(srv, "claude-sonnet-5")
    with pytest.raises(HTTPStatusError) as info:
        ask(chat, ["Hello"], streamed)
    check_error(info.value, response)
    assert info.value.request_id == "req_1"
    assert chat.get_turns() == []
    close(chat)


def text_streams() -> list[tuple[Path, int]]:
    """Recorded streams with at least two text deltas."""
    found = []
    for path, n in STREAMED:
        body = load(path)["interactions"][n]["response"]["body"]
        deltas = [d for _, d in sse_events(body) if '"text_delta"' in d]
        if len(deltas) >= 2:
            found.append((path, n))
    return found


OVERLOADED = (
    b'event: error\ndata: {"type": "error", "error": '
    b'{"type": "overloaded_error", "message": "Overloaded"}}\n\n'
)


@pytest.mark.parametrize("case", text_streams(), ids=stream_id)
def test_error_event_mid_stream_keeps_a_partial_turn(
    srv: FakeServer, case: tuple[Path, int]
) -> None:
    """An ``error`` event after half the text raises StreamErrorEvent with the server's
    message; the text that arrived is kept in an AssistantPartialTurn.

    (The recordings hold no error event: the recorded stream is cut after its
    middle text delta and the documented overloaded_error event appended.)
    """
    path, n = case
    interaction = load(path)["interactions"][n]
    body = interaction["response"]["body"]
    raw_events = [e + "\n\n" for e in body.replace("\r\n", "\n").split("\n\n") if e.strip()]
    text_at = [i for i, e in enumerate(raw_events) if '"text_delta"' in e]
    keep = raw_events[: text_at[math.ceil(len(text_at) / 2) - 1] + 1]
    said = expected_text(message_from_sse("".join(keep)))
    assert said
    srv.enqueue(Reply.sse([*(e.encode() for e in keep), OVERLOADED]))
    chat = make_chat(srv, interaction["request"]["body"]["model"])
    pieces: list[str] = []
    with pytest.raises(StreamErrorEvent) as info:
        pieces.extend(chat.stream("Hello"))
    assert "Overloaded" in str(info.value)
    assert str(info.value).startswith("Anthropic: ")
    turns = chat.get_turns()
    assert [t.role for t in turns] == ["user", "assistant"]
    partial = turns[-1]
    assert isinstance(partial, AssistantPartialTurn)
    assert partial.text == said == "".join(pieces)
    assert "Overloaded" in partial.reason
    close(chat)


def tool_streams() -> list[tuple[Path, int]]:
    """Recorded streams whose answer is a user tool call with arguments."""
    found = []
    for path, n in STREAMED:
        doc = message_from_sse(load(path)["interactions"][n]["response"]["body"])
        if any(b["type"] == "tool_use" and b["input"] for b in doc["content"]):
            found.append((path, n))
    return found


@pytest.mark.parametrize("case", tool_streams(), ids=stream_id)
def test_connection_cut_mid_tool_arguments(srv: FakeServer, case: tuple[Path, int]) -> None:
    """A connection cut inside a tool call's JSON keeps the arguments so far, as text."""
    path, n = case
    body = load(path)["interactions"][n]["response"]["body"].encode()
    fragments = [d for _, d in sse_events(body.decode()) if '"input_json_delta"' in d]
    partial = "".join(json.loads(f)["delta"]["partial_json"] for f in fragments[:-1])
    last = fragments[-1].encode()
    cut_at = body.index(last)  # the stream stops just before the last fragment
    srv.enqueue(Reply.cut(body[:cut_at]))
    chat = make_chat(srv, load(path)["interactions"][n]["request"]["body"]["model"])
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


# -- models ---------------------------------------------------------------------------------------


def recorded_models(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    (interaction,) = [i for i in load(path)["interactions"] if is_models(i)]
    doc = json.loads(interaction["response"]["body"])
    return doc, doc["data"]


def check_models_request(request: Any, after: str | None = None) -> None:
    assert request.method == "GET"
    parts = urlsplit(request.path)
    assert parts.path == "/v1/models"
    query = parse_qs(parts.query)
    assert query.get("after_id") == ([after] if after else None)
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"


@pytest.mark.parametrize("path", MODELS_FILES, ids=fixture_id)
def test_models_as_recorded(srv: FakeServer, path: Path) -> None:
    """``GET /v1/models``: every model, id, name and creation date, newest first."""
    doc, rows = recorded_models(path)
    assert doc["has_more"] is False
    srv.enqueue(Reply.json(doc))
    models = models_anthropic(base_url=srv.base_url, credentials=lambda: KEY, max_tries=1)
    (request,) = srv.requests
    check_models_request(request)
    dates = [r["created_at"] for r in rows]
    assert dates == sorted(dates, reverse=True)  # the API already answers newest first
    assert [(m.id, m.name, m.created_at) for m in models] == [
        (r["id"], r["display_name"], r["created_at"]) for r in rows
    ]


@pytest.mark.parametrize("path", MODELS_FILES, ids=fixture_id)
def test_models_in_pages_and_out_of_order(srv: FakeServer, path: Path) -> None:
    """The recorded list served in pages of four, oldest first: every page is read
    (``after_id`` = the page's ``last_id``) and the result is newest first."""
    _, rows = recorded_models(path)
    shuffled = list(reversed(rows))
    pages = [shuffled[i : i + 4] for i in range(0, len(shuffled), 4)]
    for k, page in enumerate(pages):
        srv.enqueue(
            Reply.json(
                {
                    "data": page,
                    "has_more": k < len(pages) - 1,
                    "first_id": page[0]["id"],
                    "last_id": page[-1]["id"],
                }
            )
        )
    models = models_anthropic(base_url=srv.base_url, credentials=lambda: KEY, max_tries=1)
    assert len(srv.requests) == len(pages)
    check_models_request(srv.requests[0])
    for k, request in enumerate(srv.requests[1:]):
        check_models_request(request, after=pages[k][-1]["id"])
    assert sorted(m.id for m in models) == sorted(r["id"] for r in rows)
    dates = [m.created_at for m in models]
    assert dates == sorted(dates, reverse=True)
    by_id = {r["id"]: r for r in rows}
    assert all(m.name == by_id[m.id]["display_name"] for m in models)


# -- the bodies R ellmer sends --------------------------------------------------------------------

ELLMER = FIXTURES / "ellmer"


def ellmer_interactions(name: str) -> list[dict[str, Any]]:
    return load(ELLMER / f"{name}.json")["interactions"]


def sent_body(srv: FakeServer) -> dict[str, Any]:
    body = srv.requests[-1].json
    assert isinstance(body, dict)
    return body


def test_ellmer_basic_body(srv: FakeServer) -> None:
    """R: ``chat_anthropic(system_prompt=...)$chat("What is 1 + 1?")``: system and the
    last message carry the 5-minute cache point; max_tokens defaults to 4096."""
    (interaction,) = ellmer_interactions("anthropic-basic")
    chat = make_chat(
        srv, "claude-sonnet-5", system_prompt="Be as terse as possible; no punctuation"
    )
    srv.enqueue(Reply.from_recording(interaction["response"]))
    assert chat.chat("What is 1 + 1?") == "2"
    assert sent_body(srv) == interaction["request"]["body"]
    close(chat)


def test_ellmer_standard_params_body(srv: FakeServer) -> None:
    """R: ``params(stop_sequences = "cool")``; the answer stops at the sequence."""
    (interaction,) = ellmer_interactions("anthropic-standard-params")
    chat = make_chat(srv, "claude-sonnet-5", params=params(stop_sequences=["cool"]))
    srv.enqueue(Reply.from_recording(interaction["response"]))
    assert chat.chat("Repeat the following phrase: Dogs are cool") == "Dogs are "
    assert sent_body(srv) == interaction["request"]["body"]
    assert last_turn(chat).finish_reason == "stop_sequence"
    close(chat)


def test_ellmer_whitespace_body(srv: FakeServer) -> None:
    """A whitespace answer goes back as "[empty string]"; its empty thinking is dropped."""
    first, second = ellmer_interactions("anthropic-whitespace")
    chat = make_chat(srv, "claude-sonnet-5")
    srv.enqueue(Reply.from_recording(first["response"]), Reply.from_recording(second["response"]))
    assert chat.chat("Respond to this question with only two blank lines") == " "
    assert sent_body(srv) == first["request"]["body"]
    assert chat.chat("What's 1+1? Just give me the number") == "2"
    assert sent_body(srv) == second["request"]["body"]
    thinking = [c for c in chat.get_turns()[1].contents if isinstance(c, ContentThinking)]
    assert thinking[0].thinking == ""
    assert thinking[0].extra["signature"].startswith("ErMCCokB")
    close(chat)


def test_ellmer_count_tokens_chat_body(srv: FakeServer) -> None:
    """The one chat request of R's count-tokens test, and R's count_tokens bodies:
    the chat body of one user turn, without ``stream`` and ``max_tokens``."""
    interactions = ellmer_interactions("anthropic-count-tokens")
    (chat_interaction,) = [i for i in interactions if is_messages(i)]
    chat = make_chat(srv, "claude-sonnet-5", system_prompt="Answer succinctly")
    srv.enqueue(Reply.from_recording(chat_interaction["response"]))
    chat.chat("What's the current date?")
    assert sent_body(srv) == chat_interaction["request"]["body"]
    counted = [i["request"]["body"] for i in interactions if is_count_tokens(i)]
    bare = make_chat(srv, "claude-sonnet-5").get_provider()
    system = chat.get_provider()
    for recorded in counted[:2]:
        provider = system if "system" in recorded else bare
        turns: list[Turn] = [UserTurn(recorded["messages"][0]["content"][0]["text"])]
        if "system" in recorded:
            turns.insert(0, SystemTurn("Answer succinctly"))
        body = provider.chat_body(turns, stream=False)
        assert {k: v for k, v in body.items() if k not in ("stream", "max_tokens")} == recorded
    close(chat)


ARTICLE_TYPE = type_object(
    "Summary of the article. Preserve existing case.",
    title=type_string("Content title"),
    author=type_string("Name of the author"),
)


@pytest.mark.parametrize("model", ["claude-sonnet-4-0", "claude-sonnet-5"])
def test_ellmer_structured_data_bodies(srv: FakeServer, model: str) -> None:
    """R: ``chat$chat_structured(prompt, type = type_summary)``, twice.

    For a model without ``output_config`` (claude-sonnet-4-0) our bodies are
    R's, key for key: the forced ``_structured_tool_call``, and the first
    answer sent back as compact JSON text. R recorded this with
    claude-sonnet-5 but its regex (``^claude-\\w+-4-[5-9]``) stops at 4.9;
    we treat the 5 family as Claude 4.5 and later (it takes
    ``output_config``, as the genai recordings show), so for claude-sonnet-5
    the schema goes in ``output_config.format`` instead of a tool: a
    deliberate improvement, asserted in that shape.
    """
    first, second = ellmer_interactions("anthropic-structured-data")
    prompt = first["request"]["body"]["messages"][0]["content"][0]["text"]
    chat = make_chat(srv, model)
    srv.enqueue(Reply.from_recording(first["response"]), Reply.from_recording(second["response"]))
    want = {"title": "Apples are tasty", "author": "Hadley Wickham"}
    for interaction in (first, second):
        assert chat.chat_structured(prompt, type=ARTICLE_TYPE) == want
        expected = copy.deepcopy(interaction["request"]["body"])
        expected["model"] = model
        if model == "claude-sonnet-5":
            tool = expected.pop("tools")[0]
            expected.pop("tool_choice")
            schema = tool["input_schema"]["properties"]["data"]
            expected["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        assert sent_body(srv) == expected
    assert [type(c) for c in chat.get_turns()[-1].contents] == [ContentJson]
    close(chat)


PERSON = type_object(name=type_string(), age=type_integer())
SUMMARY = type_object("Summary of the article", title=type_string(), author=type_string())
CLASSIFICATIONS = type_object(
    classifications=type_array(
        type_object(
            name=type_enum(
                ["Politics", "Sports", "Technology", "Entertainment", "Business", "Other"]
            ),
            score=type_number(),
        )
    )
)
CHATLAS = FIXTURES / "chatlas" / "test_provider_anthropic"


@pytest.mark.parametrize(
    ("name", "n", "kind"),
    [
        ("test_stream_with_data_model", 0, PERSON),
        ("test_stream_async_with_data_model", 0, PERSON),
        ("test_data_extraction", 0, SUMMARY),
        ("test_data_extraction", 2, PERSON),
        ("test_anthropic_nested_data_model_extraction", 0, CLASSIFICATIONS),
    ],
)
def test_chatlas_structured_output(
    srv: FakeServer, capsys: pytest.CaptureFixture[str], name: str, n: int, kind: Any
) -> None:
    """chatlas asked claude-haiku-4-5 for JSON through ``output_config``, as we do: the
    answer's text is the data (streamed when echoing, as chatlas streamed it)."""
    interaction = load(CHATLAS / f"{name}.json")["interactions"][n]
    recorded = interaction["request"]["body"]
    doc = answer_doc(interaction["response"])
    streamed = asked_stream(interaction)
    srv.enqueue(Reply.from_recording(interaction["response"]))
    chat = make_chat(srv, recorded["model"])
    prompt = recorded["messages"][-1]["content"][0]["text"]
    data = chat.chat_structured(prompt, type=kind, echo="output" if streamed else "none")
    assert data == json.loads(expected_text(doc))
    assert chat.get_turns()[-1].contents == (ContentJson(data),)
    body = sent_body(srv)
    assert body["stream"] is streamed
    assert "tools" not in body and "tool_choice" not in body
    ours, theirs = body["output_config"]["format"], recorded["output_config"]["format"]
    assert ours["type"] == theirs["type"] == "json_schema"
    assert (
        ours["schema"]["additionalProperties"] is theirs["schema"]["additionalProperties"] is False
    )
    assert ours["schema"]["required"] == theirs["schema"]["required"]
    assert list(ours["schema"]["properties"]) == list(theirs["schema"]["properties"])
    if streamed:
        assert expected_text(doc) in capsys.readouterr().out
    close(chat)
