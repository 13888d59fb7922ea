"""The clients the benchmark compares, each behind the same two calls.

Every client is a :class:`Client` with a ``make(base_url)`` that returns a
runner offering ``request()`` (one non-streamed reply, returns the assistant
text) and ``stream()`` (one streamed reply, yields the text deltas).  A
client speaks one API (:data:`OPENAI` chat completions or :data:`ANTHROPIC`
Messages); each API has one raw-urllib3 floor, and ``base_url`` always ends
in ``/v1``.  Nothing here imports a client library at module level: the
import happens in ``make`` (or in the import-time probe), in a fresh worker
process, so that import time and memory are charged to the right client.

This module itself imports only ``typing`` (which every client imports
anyway), so loading it into a worker costs next to nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from _wire import MODEL as _MODEL

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["ANTHROPIC", "APIS", "CLIENTS", "OPENAI", "Client", "Runner", "by_key"]

#: The two APIs benchmarked, in report order.
OPENAI = "openai"
ANTHROPIC = "anthropic"
APIS = (OPENAI, ANTHROPIC)

_PROMPT = "hi"
_MAX_TOKENS = 1024  # required by the Messages API; the server ignores it
_ANTHROPIC_VERSION = "2023-06-01"


class Runner:
    """One constructed client, ready to send requests to the bench server."""

    def request(self) -> str:
        """Send one non-streamed chat completion; return the assistant text."""
        raise NotImplementedError

    def stream(self) -> Iterator[str]:
        """Send one streamed chat completion; yield the text deltas."""
        raise NotImplementedError


class Client:
    """A benchmarked client: how to import it, how to build a runner.

    ``import_code`` is the statement timed by the import probe (what a user
    writes first); ``module`` is checked with ``importlib.util.find_spec`` to
    tell "not installed" apart from "fails to import"; ``dist`` names the
    distribution whose version goes into the results.  ``api`` is the API the
    client speaks (which table it goes in); ``floor`` marks that table's raw
    urllib3 baseline.
    """

    def __init__(
        self,
        key: str,
        label: str,
        module: str,
        dist: str,
        import_code: str,
        make: Callable[[str], Runner],
        api: str = OPENAI,
        floor: bool = False,
    ) -> None:
        self.key = key
        self.label = label
        self.module = module
        self.dist = dist
        self.import_code = import_code
        self.make = make
        self.api = api
        self.floor = floor


# --- raw urllib3: the floor -------------------------------------------------


class _Urllib3(Runner):
    """A PoolManager, a JSON body, ``json.loads``; SSE lines split by hand."""

    def __init__(self, base_url: str) -> None:
        import json

        import urllib3

        self._loads = json.loads
        self._dumps = json.dumps
        self._pool = urllib3.PoolManager()
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Content-Type": "application/json", "Authorization": "Bearer x"}

    def _body(self, stream: bool) -> bytes:
        body: dict[str, object] = {
            "model": _MODEL,
            "messages": [{"role": "user", "content": _PROMPT}],
        }
        if stream:
            body["stream"] = True
        return self._dumps(body).encode()

    def request(self) -> str:
        resp = self._pool.request("POST", self._url, body=self._body(False), headers=self._headers)
        content: str = self._loads(resp.data)["choices"][0]["message"]["content"]
        return content

    def stream(self) -> Iterator[str]:
        resp = self._pool.request(
            "POST", self._url, body=self._body(True), headers=self._headers, preload_content=False
        )
        loads = self._loads
        pending = b""
        try:
            for data in resp.stream(65536):
                lines = (pending + data).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    if not line.startswith(b"data: "):
                        continue
                    payload = line[6:]
                    if payload == b"[DONE]":
                        continue  # read on to the end so the connection is reusable
                    choices = loads(payload)["choices"]
                    if choices:
                        text = choices[0]["delta"].get("content")
                        if text:
                            yield text
        finally:
            resp.release_conn()


# --- ellmer-py ---------------------------------------------------------------


class _EllmerPy(Runner):
    """``ellmer_py.chat_openai_compatible``; turns cleared before each call."""

    def __init__(self, base_url: str) -> None:
        import ellmer_py

        self._chat = ellmer_py.chat_openai_compatible(
            base_url=base_url, model=_MODEL, credentials=lambda: "x", echo="none"
        )

    def request(self) -> str:
        self._chat.set_turns([])
        text: str = self._chat.chat(_PROMPT)
        return text

    def stream(self) -> Iterator[str]:
        self._chat.set_turns([])
        yield from self._chat.stream(_PROMPT)


# --- openai SDK ----------------------------------------------------------------


class _OpenAI(Runner):
    """``openai.OpenAI(...).chat.completions.create``."""

    def __init__(self, base_url: str) -> None:
        import openai

        self._completions = openai.OpenAI(base_url=base_url, api_key="x").chat.completions

    def request(self) -> str:
        resp = self._completions.create(
            model=_MODEL, messages=[{"role": "user", "content": _PROMPT}]
        )
        return resp.choices[0].message.content or ""

    def stream(self) -> Iterator[str]:
        chunks = self._completions.create(
            model=_MODEL, messages=[{"role": "user", "content": _PROMPT}], stream=True
        )
        for chunk in chunks:
            if chunk.choices:
                text = chunk.choices[0].delta.content
                if text:
                    yield text


# --- huggingface_hub -------------------------------------------------------------


class _HuggingFaceHub(Runner):
    """``huggingface_hub.InferenceClient(...).chat_completion``."""

    def __init__(self, base_url: str) -> None:
        from huggingface_hub import InferenceClient

        self._client = InferenceClient(base_url=base_url, api_key="x")

    def request(self) -> str:
        resp = self._client.chat_completion([{"role": "user", "content": _PROMPT}], model=_MODEL)
        return resp.choices[0].message.content or ""

    def stream(self) -> Iterator[str]:
        chunks = self._client.chat_completion(
            [{"role": "user", "content": _PROMPT}], model=_MODEL, stream=True
        )
        for chunk in chunks:
            if chunk.choices:
                text = chunk.choices[0].delta.content
                if text:
                    yield text


# --- chatlas -----------------------------------------------------------------------


class _Chatlas(Runner):
    """chatlas' chat-completions constructor; turns cleared before each call.

    Since chatlas 0.1x ``ChatOpenAI`` speaks OpenAI's Responses API
    (``/responses``); the chat-completions client is
    ``ChatOpenAICompletions``.  Older releases only have ``ChatOpenAI``,
    which was chat-completions then.
    """

    def __init__(self, base_url: str) -> None:
        import chatlas

        ctor = getattr(chatlas, "ChatOpenAICompletions", None) or chatlas.ChatOpenAI
        self._chat = ctor(base_url=base_url, api_key="x", model=_MODEL)

    def request(self) -> str:
        self._chat.set_turns([])
        return str(self._chat.chat(_PROMPT, echo="none", stream=False))

    def stream(self) -> Iterator[str]:
        self._chat.set_turns([])
        yield from self._chat.stream(_PROMPT, echo="none")


# --- Anthropic Messages: raw urllib3 floor -------------------------------------


def _anthropic_body(dumps: Callable[[object], str], stream: bool) -> bytes:
    body: dict[str, object] = {
        "model": _MODEL,
        "max_tokens": _MAX_TOKENS,
        "messages": [{"role": "user", "content": _PROMPT}],
    }
    if stream:
        body["stream"] = True
    return dumps(body).encode()


class _AnthropicUrllib3(Runner):
    """``POST /v1/messages`` with a PoolManager; SSE ``data:`` lines by hand.

    Only ``data:`` lines are read (the ``event:`` line repeats the JSON's
    ``type``); text comes from ``content_block_delta`` / ``text_delta``.
    """

    def __init__(self, base_url: str) -> None:
        import json

        import urllib3

        self._loads = json.loads
        self._dumps = json.dumps
        self._pool = urllib3.PoolManager()
        self._url = base_url.rstrip("/") + "/messages"
        self._headers = {
            "Content-Type": "application/json",
            "x-api-key": "bench-key",
            "anthropic-version": _ANTHROPIC_VERSION,
        }

    def request(self) -> str:
        resp = self._pool.request(
            "POST", self._url, body=_anthropic_body(self._dumps, False), headers=self._headers
        )
        blocks = self._loads(resp.data)["content"]
        return "".join(block["text"] for block in blocks if block["type"] == "text")

    def stream(self) -> Iterator[str]:
        resp = self._pool.request(
            "POST",
            self._url,
            body=_anthropic_body(self._dumps, True),
            headers=self._headers,
            preload_content=False,
        )
        loads = self._loads
        pending = b""
        try:
            for data in resp.stream(65536):
                lines = (pending + data).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    if not line.startswith(b"data: "):
                        continue
                    event = loads(line[6:])
                    if event["type"] == "content_block_delta":
                        delta = event["delta"]
                        if delta["type"] == "text_delta":
                            yield delta["text"]
        finally:
            resp.release_conn()


# --- ellmer-py chat_anthropic -----------------------------------------------------


class _EllmerPyAnthropic(Runner):
    """``ellmer_py.chat_anthropic``; turns cleared before each call."""

    def __init__(self, base_url: str) -> None:
        from ellmer_py import chat_anthropic

        self._chat = chat_anthropic(
            base_url=base_url, model=_MODEL, credentials=lambda: "bench-key", echo="none"
        )

    def request(self) -> str:
        self._chat.set_turns([])
        text: str = self._chat.chat(_PROMPT)
        return text

    def stream(self) -> Iterator[str]:
        self._chat.set_turns([])
        yield from self._chat.stream(_PROMPT)


# --- anthropic SDK -----------------------------------------------------------------


def _sdk_root(base_url: str) -> str:
    """The SDK appends ``/v1/messages`` itself: strip the ``/v1``."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


class _AnthropicSDK(Runner):
    """``anthropic.Anthropic(...).messages.create``, streamed with ``stream=True``.

    Iterating the raw event stream of ``create(..., stream=True)`` and taking
    ``text_delta`` text is the SDK's fastest idiomatic way to stream text:
    ``messages.stream()``'s ``text_stream`` also rebuilds the message
    snapshot on every event and measured slower (see ``stream_helper``).
    """

    def __init__(self, base_url: str) -> None:
        import anthropic

        client = anthropic.Anthropic(
            base_url=_sdk_root(base_url), api_key="bench-key", max_retries=0
        )
        self._messages = client.messages

    def request(self) -> str:
        resp = self._messages.create(
            model=_MODEL, max_tokens=_MAX_TOKENS, messages=[{"role": "user", "content": _PROMPT}]
        )
        return "".join(block.text for block in resp.content if block.type == "text")

    def stream(self) -> Iterator[str]:
        events = self._messages.create(
            model=_MODEL,
            max_tokens=_MAX_TOKENS,
            messages=[{"role": "user", "content": _PROMPT}],
            stream=True,
        )
        for event in events:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                yield event.delta.text

    def stream_helper(self) -> Iterator[str]:
        """The alternative: ``messages.stream()`` and its ``text_stream``."""
        with self._messages.stream(
            model=_MODEL, max_tokens=_MAX_TOKENS, messages=[{"role": "user", "content": _PROMPT}]
        ) as stream:
            yield from stream.text_stream


CLIENTS: tuple[Client, ...] = (
    Client(
        "urllib3",
        "raw urllib3",
        "urllib3",
        "urllib3",
        "import json\nimport urllib3",
        _Urllib3,
        floor=True,
    ),
    Client("ellmer_py", "ellmer-py", "ellmer_py", "ellmer-py", "import ellmer_py", _EllmerPy),
    Client("openai", "openai SDK", "openai", "openai", "import openai", _OpenAI),
    Client(
        "huggingface_hub",
        "huggingface_hub",
        "huggingface_hub",
        "huggingface_hub",
        "from huggingface_hub import InferenceClient",
        _HuggingFaceHub,
    ),
    Client("chatlas", "chatlas", "chatlas", "chatlas", "import chatlas", _Chatlas),
    Client(
        "anthropic-urllib3",
        "raw urllib3",
        "urllib3",
        "urllib3",
        "import json\nimport urllib3",
        _AnthropicUrllib3,
        api=ANTHROPIC,
        floor=True,
    ),
    Client(
        "ellmer-py-anthropic",
        "ellmer-py",
        "ellmer_py",
        "ellmer-py",
        "from ellmer_py import chat_anthropic",
        _EllmerPyAnthropic,
        api=ANTHROPIC,
    ),
    Client(
        "anthropic",
        "anthropic SDK",
        "anthropic",
        "anthropic",
        "import anthropic",
        _AnthropicSDK,
        api=ANTHROPIC,
    ),
)


def by_key(key: str) -> Client:
    """Return the client registered under ``key``."""
    for client in CLIENTS:
        if client.key == key:
            return client
    raise KeyError(f"unknown client {key!r}; known: {', '.join(c.key for c in CLIENTS)}")
