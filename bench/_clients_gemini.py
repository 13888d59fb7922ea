"""Gemini clients (``models/{model}:generateContent``): urllib3 floor, ellmer-py, google-genai.

All three go to ``<root>/v1beta/models/m:generateContent`` and
``...:streamGenerateContent?alt=sse``, where ``<root>`` is the bench URL
without its ``/v1``.  google-genai builds its URLs as ``base_url`` +
``api_version`` + ``models/m:...`` and defaults to ``v1`` for the Gemini
API, so it is given ``api_version="v1beta"`` (the version
``chat_google_gemini`` and the real API's docs use).  Loaded by ``_clients``
only when one of these clients is built, in the worker measuring it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from _clients import PROMPT, Runner, root_url
from _wire import MODEL

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["EllmerPy", "GoogleGenAI", "Urllib3"]

_API_VERSION = "v1beta"


class Urllib3(Runner):
    """The two Gemini URLs with a PoolManager; SSE ``data:`` lines by hand.

    Every ``data:`` is a whole ``GenerateContentResponse``: the text is its
    first candidate's text parts.
    """

    def __init__(self, base_url: str) -> None:
        import json

        import urllib3

        self._loads = json.loads
        self._pool = urllib3.PoolManager()
        model_url = f"{root_url(base_url)}/{_API_VERSION}/models/{MODEL}"
        self._url = model_url + ":generateContent"
        self._stream_url = model_url + ":streamGenerateContent?alt=sse"
        self._headers = {"Content-Type": "application/json", "x-goog-api-key": "x"}
        body = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}
        self._body = json.dumps(body).encode()

    def request(self) -> str:
        resp = self._pool.request("POST", self._url, body=self._body, headers=self._headers)
        parts = self._loads(resp.data)["candidates"][0]["content"]["parts"]
        return "".join(part.get("text", "") for part in parts)

    def stream(self) -> Iterator[str]:
        resp = self._pool.request(
            "POST", self._stream_url, body=self._body, headers=self._headers, preload_content=False
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
                    candidates = loads(line[6:]).get("candidates")
                    if candidates:
                        for part in candidates[0]["content"]["parts"]:
                            text = part.get("text")
                            if text:
                                yield text
        finally:
            resp.release_conn()


class EllmerPy(Runner):
    """``ellmer_py.chat_google_gemini``; turns cleared before each call."""

    def __init__(self, base_url: str) -> None:
        from ellmer_py import chat_google_gemini

        self._chat = chat_google_gemini(
            base_url=f"{root_url(base_url)}/{_API_VERSION}/",
            model=MODEL,
            credentials=lambda: "x",
            echo="none",
        )

    def request(self) -> str:
        self._chat.set_turns([])
        text: str = self._chat.chat(PROMPT)
        return text

    def stream(self) -> Iterator[str]:
        self._chat.set_turns([])
        yield from self._chat.stream(PROMPT)


class GoogleGenAI(Runner):
    """``google.genai.Client(...).models.generate_content`` / ``generate_content_stream``."""

    def __init__(self, base_url: str) -> None:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(base_url=root_url(base_url), api_version=_API_VERSION)
        # Keep the client: when it is collected it closes the HTTP client under .models.
        self._client = genai.Client(api_key="x", http_options=options)
        self._models = self._client.models

    def request(self) -> str:
        return self._models.generate_content(model=MODEL, contents=PROMPT).text or ""

    def stream(self) -> Iterator[str]:
        for chunk in self._models.generate_content_stream(model=MODEL, contents=PROMPT):
            text = chunk.text
            if text:
                yield text
