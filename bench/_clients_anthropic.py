"""Anthropic Messages clients (``POST /v1/messages``): the urllib3 floor, ellmer-py, the SDK.

Loaded by ``_clients`` only when one of these clients is built, in the
worker measuring it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from _clients import PROMPT, Runner, root_url
from _wire import MODEL

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["AnthropicSDK", "EllmerPy", "Urllib3"]

_MAX_TOKENS = 1024  # required by the Messages API; the server ignores it
_ANTHROPIC_VERSION = "2023-06-01"


# --- raw urllib3: the floor -------------------------------------------------------


def _body(dumps: Callable[[object], str], stream: bool) -> bytes:
    body: dict[str, object] = {
        "model": MODEL,
        "max_tokens": _MAX_TOKENS,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    if stream:
        body["stream"] = True
    return dumps(body).encode()


class Urllib3(Runner):
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
            "POST", self._url, body=_body(self._dumps, False), headers=self._headers
        )
        blocks = self._loads(resp.data)["content"]
        return "".join(block["text"] for block in blocks if block["type"] == "text")

    def stream(self) -> Iterator[str]:
        resp = self._pool.request(
            "POST",
            self._url,
            body=_body(self._dumps, True),
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


# --- ellmer-py ----------------------------------------------------------------------


class EllmerPy(Runner):
    """``ellmer_py.chat_anthropic``; turns cleared before each call."""

    def __init__(self, base_url: str) -> None:
        from ellmer_py import chat_anthropic

        self._chat = chat_anthropic(
            base_url=base_url, model=MODEL, credentials=lambda: "bench-key", echo="none"
        )

    def request(self) -> str:
        self._chat.set_turns([])
        text: str = self._chat.chat(PROMPT)
        return text

    def stream(self) -> Iterator[str]:
        self._chat.set_turns([])
        yield from self._chat.stream(PROMPT)


# --- anthropic SDK -----------------------------------------------------------------


class AnthropicSDK(Runner):
    """``anthropic.Anthropic(...).messages.create``, streamed with ``stream=True``.

    Iterating the raw event stream of ``create(..., stream=True)`` and taking
    ``text_delta`` text is the SDK's fastest idiomatic way to stream text:
    ``messages.stream()``'s ``text_stream`` also rebuilds the message
    snapshot on every event and measured slower (see ``stream_helper``).
    """

    def __init__(self, base_url: str) -> None:
        import anthropic

        client = anthropic.Anthropic(
            base_url=root_url(base_url), api_key="bench-key", max_retries=0
        )
        self._messages = client.messages

    def request(self) -> str:
        resp = self._messages.create(
            model=MODEL, max_tokens=_MAX_TOKENS, messages=[{"role": "user", "content": PROMPT}]
        )
        return "".join(block.text for block in resp.content if block.type == "text")

    def stream(self) -> Iterator[str]:
        events = self._messages.create(
            model=MODEL,
            max_tokens=_MAX_TOKENS,
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
        )
        for event in events:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                yield event.delta.text

    def stream_helper(self) -> Iterator[str]:
        """The alternative: ``messages.stream()`` and its ``text_stream``."""
        with self._messages.stream(
            model=MODEL, max_tokens=_MAX_TOKENS, messages=[{"role": "user", "content": PROMPT}]
        ) as stream:
            yield from stream.text_stream
