"""Replay every recorded Gemini answer through a real ``chat_google_gemini``.

The recordings in ``../shared/fixtures/native/google_gemini/`` (see
``../shared/fixtures/native/README.md``) are real answers of the Gemini API,
recorded by genai, chatlas, pydantic-ai and R ellmer. Each answer is served
by a loopback :class:`FakeServer` to ``chat_google_gemini(base_url=...)``,
and the request is matched on method and path only (the recorded bodies
were written by other clients). What each answer must give (text, thinking,
tool calls, thought signatures, tokens, finish reason, error class) is
computed here from the raw recording with ``json`` and line splitting only,
never with the protocol code under test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    AuthenticationError,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    HTTPStatusError,
    StreamErrorEvent,
    chat_google_gemini,
    models_google_gemini,
)
from ellmer_py._chat import Chat
from ellmer_py._turn import Tokens
from ellmer_py.conformance.fake_server import FakeServer, Reply

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "native" / "google_gemini"
ALL_FILES = sorted(FIXTURES.rglob("*.json"))
KEY = "test-key"
FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def fixture_id(path: Path) -> str:
    return path.relative_to(FIXTURES).with_suffix("").as_posix()


def url_path(interaction: dict[str, Any]) -> str:
    return unquote(urlsplit(interaction["request"]["url"]).path)


def method_of(interaction: dict[str, Any]) -> str | None:
    """``generateContent`` / ``streamGenerateContent`` for a chat call, else None."""
    last = url_path(interaction).rsplit("/", 1)[-1]
    method = last.rsplit(":", 1)[-1] if ":" in last else None
    return method if method in ("generateContent", "streamGenerateContent") else None


def model_of(interaction: dict[str, Any]) -> str:
    return url_path(interaction).rsplit("/", 1)[-1].rsplit(":", 1)[0]


CHAT = [
    (p, n)
    for p in ALL_FILES
    for n, i in enumerate(load(p)["interactions"])
    if method_of(i) is not None
]


def docs_of(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The GenerateContentResponses of an answer: one JSON document, or each SSE data."""
    body = response["body"]
    if not str(response["headers"].get("content-type", "")).startswith("text/event-stream"):
        doc = json.loads(body) if isinstance(body, str) else body
        return doc if isinstance(doc, list) else [doc]
    out, data = [], []
    for line in [*body.splitlines(), ""]:
        if not line.strip():
            if data:
                out.append(json.loads("\n".join(data)))
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return out


def parts_of(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        part
        for doc in docs
        for cand in (doc.get("candidates") or [])[:1]
        for part in (cand.get("content") or {}).get("parts") or []
    ]


def expected(docs: list[dict[str, Any]]) -> dict[str, Any]:
    parts = parts_of(docs)
    usage = next((d["usageMetadata"] for d in reversed(docs) if "usageMetadata" in d), None)
    reasons = [
        c["finishReason"]
        for d in docs
        for c in (d.get("candidates") or [])[:1]
        if "finishReason" in c
    ]
    tokens = None
    if usage is not None:
        prompt = usage.get("promptTokenCount", 0)
        cached = usage.get("cachedContentTokenCount", 0)
        tokens = Tokens(prompt - cached, usage.get("totalTokenCount", 0) - prompt, cached)
    reason = reasons[-1] if reasons else None
    finish = {"STOP": "success", "MAX_TOKENS": "max_tokens"}.get(reason or "", reason)
    if reason in FILTERED:
        finish = "content_filter"
    return {
        "text": "".join(p["text"] for p in parts if "text" in p and not p.get("thought")),
        "thinking": "".join(p["text"] for p in parts if "text" in p and p.get("thought")),
        "calls": [
            (
                p["functionCall"].get("id") or p["functionCall"]["name"],
                p["functionCall"]["name"],
                p["functionCall"].get("args", {}),
            )
            for p in parts
            if "functionCall" in p
        ],
        "signatures": sorted(p["thoughtSignature"] for p in parts if p.get("thoughtSignature")),
        "tokens": tokens,
        "finish": finish,
    }


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def srv(shared_server: FakeServer) -> Iterator[FakeServer]:
    shared_server.reset()
    yield shared_server
    assert shared_server.pending == 0, "a queued reply was never requested"
    assert not shared_server.errors, shared_server.errors
    shared_server.reset()


def make_chat(srv: FakeServer, model: str) -> Chat:
    return chat_google_gemini(
        base_url=base(srv),
        model=model,
        credentials=lambda: KEY,
        echo="none",
        max_tries=1,
        timeout_s=10,
    )


def base(srv: FakeServer) -> str:
    """The fake server's root, with Gemini's ``/v1beta/`` below it."""
    parts = urlsplit(srv.base_url)
    return f"{parts.scheme}://{parts.netloc}/v1beta/"


def signatures(turn: AssistantTurn) -> list[str]:
    return sorted(
        c.extra["thoughtSignature"]
        for c in turn.contents
        if isinstance(getattr(c, "extra", None), dict) and "thoughtSignature" in c.extra
    )


def test_the_recordings_are_there() -> None:
    assert len(CHAT) > 200, "the Gemini recordings are missing"


@pytest.mark.parametrize("case", CHAT, ids=[f"{fixture_id(p)}#{n}" for p, n in CHAT])
def test_replay_as_recorded(srv: FakeServer, case: tuple[Path, int]) -> None:
    path, n = case
    interaction = load(path)["interactions"][n]
    response = interaction["response"]
    streamed = method_of(interaction) == "streamGenerateContent"
    chat = make_chat(srv, model_of(interaction))
    srv.enqueue(Reply.from_recording(response))
    try:
        if response["status"] >= 400:
            with pytest.raises(HTTPStatusError) as info:
                list(chat.stream("Hello")) if streamed else chat.chat("Hello")
            error = json.loads(response["body"])["error"]
            assert info.value.status == response["status"]
            assert error["message"] in str(info.value)
            reasons = {d.get("reason") for d in error.get("details", [])}
            if "API_KEY_INVALID" in reasons:
                assert isinstance(info.value, AuthenticationError)
            assert KEY not in str(info.value)
            return
        docs = docs_of(response)
        want = expected(docs)
        blocked = not any(d.get("candidates") for d in docs) and any(
            (d.get("promptFeedback") or {}).get("blockReason") for d in docs
        )
        if blocked:
            with pytest.raises(StreamErrorEvent, match="blocked"):
                list(chat.stream("Hello")) if streamed else chat.chat("Hello")
            return
        with pytest.warns() if want["finish"] == "max_tokens" else _nothing():
            said = "".join(chat.stream("Hello")) if streamed else chat.chat("Hello")
        turn = chat.get_turns()[-1]
        assert isinstance(turn, AssistantTurn) and not isinstance(turn, AssistantPartialTurn)
        assert said == want["text"] or not streamed
        assert turn.text == want["text"]
        thinking = "".join(c.thinking for c in turn.contents if isinstance(c, ContentThinking))
        assert thinking == want["thinking"]
        calls = [
            (c.id, c.name, c.arguments) for c in turn.contents if isinstance(c, ContentToolRequest)
        ]
        assert calls == want["calls"]
        assert signatures(turn) == want["signatures"]
        assert turn.tokens == want["tokens"]
        assert turn.finish_reason == want["finish"]
    finally:
        request = srv.requests[-1]
        assert request.method == "POST"
        assert urlsplit(request.path).path == url_path(interaction)
        assert ("alt=sse" in request.path) == streamed
        assert request.headers.get("x-goog-api-key") == KEY
        assert "key=" not in request.path
        chat.get_provider().transport.close()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_signatures_go_back_on_the_same_part(srv: FakeServer) -> None:
    """After a recorded answer with thought signatures, each one is sent back."""
    case = next(
        (p, n)
        for p, n in CHAT
        if load(p)["interactions"][n]["response"]["status"] == 200
        and expected(docs_of(load(p)["interactions"][n]["response"]))["signatures"]
        and not expected(docs_of(load(p)["interactions"][n]["response"]))["calls"]
    )
    path, n = case
    interaction = load(path)["interactions"][n]
    want = expected(docs_of(interaction["response"]))
    chat = make_chat(srv, model_of(interaction))
    srv.enqueue(Reply.from_recording(interaction["response"]))
    srv.enqueue(
        Reply.json({"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}}]})
    )
    if method_of(interaction) == "streamGenerateContent":
        "".join(chat.stream("Hello"))
    else:
        chat.chat("Hello")
    chat.chat("Again")
    body = srv.requests[-1].json
    model_parts = [p for c in body["contents"] if c["role"] == "model" for p in c["parts"]]
    assert (
        sorted(p["thoughtSignature"] for p in model_parts if "thoughtSignature" in p)
        == (want["signatures"])
    )
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    chat.get_provider().transport.close()


def test_models_as_recorded(srv: FakeServer) -> None:
    for path in ALL_FILES:
        for interaction in load(path)["interactions"]:
            if (
                interaction["request"]["method"] != "GET"
                or interaction["response"]["status"] != 200
            ):
                continue
            if not url_path(interaction).endswith("/models"):
                continue
            doc = json.loads(interaction["response"]["body"])
            srv.reset()
            srv.enqueue(Reply.json(doc))
            token = doc.get("nextPageToken")
            if token:  # the next page is asked for with its token; an empty page ends it
                srv.enqueue(Reply.json({"models": []}))
            models = models_google_gemini(base_url=base(srv), credentials=lambda: KEY, max_tries=1)
            want = sorted(
                m["name"].removeprefix("models/")
                for m in doc["models"]
                if "generateContent" in m.get("supportedGenerationMethods", [])
            )
            assert [m.id for m in models] == want
            assert all(r.headers.get("x-goog-api-key") == KEY for r in srv.requests)
            assert "key=" not in srv.requests[0].path
            if token:
                assert "pageToken=" in srv.requests[-1].path


def test_bad_key_on_models_is_an_authentication_error(srv: FakeServer) -> None:
    path = next(p for p in ALL_FILES if "bad_apiKey" in str(p) and "ListModels" in p.name)
    srv.enqueue(Reply.from_recording(load(path)["interactions"][0]["response"]))
    with pytest.raises(AuthenticationError):
        models_google_gemini(base_url=base(srv), credentials=lambda: KEY, max_tries=1)


def test_text_is_plain_text() -> None:
    assert ContentText("x").text == "x"


def test_ellmer_tool_body(srv: FakeServer) -> None:
    """R ellmer's first google-tool request, rebuilt with our API, sends the same body."""
    from ellmer_py import params, tool

    interaction = load(FIXTURES / "ellmer" / "google-tool.json")["interactions"][0]
    recorded = interaction["request"]["body"]
    chat = chat_google_gemini(
        system_prompt=recorded["systemInstruction"]["parts"]["text"],
        base_url=base(srv),
        model=model_of(interaction),
        params=params(temperature=0, seed=1014),
        credentials=lambda: KEY,
        echo="none",
        max_tries=1,
    )
    for decl in recorded["tools"][0]["functionDeclarations"]:
        chat.register_tool(tool(lambda: "x", decl["description"], name=decl["name"]))
    srv.enqueue(Reply.json({"candidates": [{"content": {"parts": [{"text": "It is 1."}]}}]}))
    chat.chat(recorded["contents"][0]["parts"][0]["text"])
    sent = srv.requests[-1].json
    # R's jsonlite writes the one-part list as an object; the API takes a list
    recorded = {
        **recorded,
        "systemInstruction": {"parts": [recorded["systemInstruction"]["parts"]]},
    }
    assert sent == recorded
    assert urlsplit(srv.requests[-1].path).path == url_path(interaction)
    chat.get_provider().transport.close()
