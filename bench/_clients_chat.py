"""OpenAI chat-completions clients (``POST /v1/chat/completions``).

The urllib3 floor, ellmer-py (``chat_openai_compatible``), the openai SDK,
huggingface_hub and chatlas.  Loaded by ``_clients`` only when one of these
clients is built, in the worker measuring it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from _clients import PROMPT, Runner
from _wire import MODEL

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Chatlas", "EllmerPy", "HuggingFaceHub", "OpenAI", "Urllib3"]


# --- raw urllib3: the floor -------------------------------------------------


class Urllib3(Runner):
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
            "model": MODEL,
            "messages": [{"role": "user", "content": PROMPT}],
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


class EllmerPy(Runner):
    """``ellmer_py.chat_openai_compatible``; turns cleared before each call."""

    def __init__(self, base_url: str) -> None:
        import ellmer_py

        self._chat = ellmer_py.chat_openai_compatible(
            base_url=base_url, model=MODEL, credentials=lambda: "x", echo="none"
        )

    def request(self) -> str:
        self._chat.set_turns([])
        text: str = self._chat.chat(PROMPT)
        return text

    def stream(self) -> Iterator[str]:
        self._chat.set_turns([])
        yield from self._chat.stream(PROMPT)


# --- openai SDK ----------------------------------------------------------------


class OpenAI(Runner):
    """``openai.OpenAI(...).chat.completions.create``."""

    def __init__(self, base_url: str) -> None:
        import openai

        self._completions = openai.OpenAI(base_url=base_url, api_key="x").chat.completions

    def request(self) -> str:
        resp = self._completions.create(model=MODEL, messages=[{"role": "user", "content": PROMPT}])
        return resp.choices[0].message.content or ""

    def stream(self) -> Iterator[str]:
        chunks = self._completions.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT}], stream=True
        )
        for chunk in chunks:
            if chunk.choices:
                text = chunk.choices[0].delta.content
                if text:
                    yield text


# --- huggingface_hub -------------------------------------------------------------


class HuggingFaceHub(Runner):
    """``huggingface_hub.InferenceClient(...).chat_completion``."""

    def __init__(self, base_url: str) -> None:
        from huggingface_hub import InferenceClient

        self._client = InferenceClient(base_url=base_url, api_key="x")

    def request(self) -> str:
        resp = self._client.chat_completion([{"role": "user", "content": PROMPT}], model=MODEL)
        return resp.choices[0].message.content or ""

    def stream(self) -> Iterator[str]:
        chunks = self._client.chat_completion(
            [{"role": "user", "content": PROMPT}], model=MODEL, stream=True
        )
        for chunk in chunks:
            if chunk.choices:
                text = chunk.choices[0].delta.content
                if text:
                    yield text


# --- chatlas -----------------------------------------------------------------------


class Chatlas(Runner):
    """chatlas' chat-completions constructor; turns cleared before each call.

    Since chatlas 0.1x ``ChatOpenAI`` speaks OpenAI's Responses API
    (``/responses``); the chat-completions client is
    ``ChatOpenAICompletions``.  Older releases only have ``ChatOpenAI``,
    which was chat-completions then.
    """

    def __init__(self, base_url: str) -> None:
        import chatlas

        ctor = getattr(chatlas, "ChatOpenAICompletions", None) or chatlas.ChatOpenAI
        self._chat = ctor(base_url=base_url, api_key="x", model=MODEL)

    def request(self) -> str:
        self._chat.set_turns([])
        return str(self._chat.chat(PROMPT, echo="none", stream=False))

    def stream(self) -> Iterator[str]:
        self._chat.set_turns([])
        yield from self._chat.stream(PROMPT, echo="none")
