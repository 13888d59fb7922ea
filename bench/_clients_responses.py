"""OpenAI Responses clients (``POST /v1/responses``): the urllib3 floor, ellmer-py, the SDK.

Loaded by ``_clients`` only when one of these clients is built, in the
worker measuring it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from _clients import PROMPT, Runner
from _wire import MODEL

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["EllmerPy", "OpenAI", "Urllib3"]

_DELTA = "response.output_text.delta"


class Urllib3(Runner):
    """``POST /v1/responses`` with a PoolManager; SSE ``data:`` lines by hand.

    Only ``data:`` lines are read (the ``event:`` line repeats the JSON's
    ``type``); text comes from ``response.output_text.delta``, and the
    stream is read to its end (there is no ``[DONE]``).
    """

    def __init__(self, base_url: str) -> None:
        import json

        import urllib3

        self._loads = json.loads
        self._dumps = json.dumps
        self._pool = urllib3.PoolManager()
        self._url = base_url.rstrip("/") + "/responses"
        self._headers = {"Content-Type": "application/json", "Authorization": "Bearer x"}

    def _body(self, stream: bool) -> bytes:
        body: dict[str, object] = {"model": MODEL, "input": PROMPT}
        if stream:
            body["stream"] = True
        return self._dumps(body).encode()

    def request(self) -> str:
        resp = self._pool.request("POST", self._url, body=self._body(False), headers=self._headers)
        output = self._loads(resp.data)["output"]
        return "".join(
            part["text"]
            for item in output
            if item["type"] == "message"
            for part in item["content"]
            if part["type"] == "output_text"
        )

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
                    event = loads(line[6:])
                    if event["type"] == _DELTA:
                        yield event["delta"]
        finally:
            resp.release_conn()


class EllmerPy(Runner):
    """``ellmer_py.chat_openai`` (the Responses API); turns cleared before each call."""

    def __init__(self, base_url: str) -> None:
        from ellmer_py import chat_openai

        self._chat = chat_openai(
            base_url=base_url, model=MODEL, credentials=lambda: "x", echo="none"
        )

    def request(self) -> str:
        self._chat.set_turns([])
        text: str = self._chat.chat(PROMPT)
        return text

    def stream(self) -> Iterator[str]:
        self._chat.set_turns([])
        yield from self._chat.stream(PROMPT)


class OpenAI(Runner):
    """``openai.OpenAI(...).responses.create``; streamed with ``stream=True``.

    The stream yields typed events; the text is each
    ``response.output_text.delta``'s ``delta`` (``output_text`` for the
    non-streamed response).
    """

    def __init__(self, base_url: str) -> None:
        import openai

        self._responses = openai.OpenAI(base_url=base_url, api_key="x").responses

    def request(self) -> str:
        return self._responses.create(model=MODEL, input=PROMPT).output_text

    def stream(self) -> Iterator[str]:
        for event in self._responses.create(model=MODEL, input=PROMPT, stream=True):
            if event.type == "response.output_text.delta":
                yield event.delta
