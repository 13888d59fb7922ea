"""Models served by a local Ollama (R: ``chat_ollama()``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ellmer_py.plugin import (
    Chat,
    ChatArgs,
    CredentialValue,
    Echo,
    OpenAIChat,
    Params,
    ProviderSpec,
    SystemPromptFallback,
    build_chat,
    hookimpl,
    reject_api_key,
    require_model,
)

__all__ = ["chat_ollama"]

DEFAULT_BASE_URL = "http://localhost:11434"
BASE_URL_ENV = "OLLAMA_BASE_URL"
#: Only needed behind a proxy that wants a bearer token; a local Ollama needs none.
KEY_ENV = "OLLAMA_API_KEY"

#: R's ``chat_params`` for Ollama: ``max_tokens``, ``top_k`` and ``reasoning_effort``.
OLLAMA_PARAM_NAMES = {
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "seed": "seed",
    "stop": "stop_sequences",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "max_tokens": "max_tokens",
    "reasoning_effort": "reasoning_effort",
}


def _ollama_key() -> CredentialValue:
    """``OLLAMA_API_KEY`` if set (sent as a bearer token), else no authentication at all."""
    key = os.environ.get(KEY_ENV, "").strip()
    return key if key else {}


def ollama_api_root(base_url: str) -> str:
    """The OpenAI-compatible root below an Ollama server's URL: ``<base_url>/v1``."""
    root = base_url.rstrip("/")
    return root if root.endswith("/v1") else root + "/v1"


def chat_ollama(
    system_prompt: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    echo: Echo | bool | None = None,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    api_headers: Mapping[str, str] | None = None,
    *,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a model served by Ollama (R: ``chat_ollama()``).

    ``model`` is required: the name of a model you have pulled (``ollama
    list`` shows them). ``base_url`` is the Ollama server, by default
    ``OLLAMA_BASE_URL`` or ``http://localhost:11434``; requests go to its
    OpenAI-compatible ``/v1`` API. No key is needed locally; behind a proxy
    that wants one, set ``OLLAMA_API_KEY`` or pass ``credentials``.

    Unlike R, nothing is sent at construction (R first checks that the
    server runs and has the model); a missing server or model shows on the
    first request.

    Known limitations (from R): tool calling does not work while
    streaming, and is weak with most models; models use only 2048 input
    tokens unless you create a custom model with a larger context.
    """
    reject_api_key("chat_ollama", api_key, env=(KEY_ENV,))
    model = require_model(
        "chat_ollama",
        model,
        "the name of a model you have pulled, such as model='llama3.2' (`ollama list` shows them)",
    )
    if base_url is None:
        base_url = os.environ.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
    return build_chat(
        "chat_ollama",
        ChatArgs.of(locals()),
        name="Ollama",
        model=model,
        base_url=ollama_api_root(base_url),
        protocol=OpenAIChat(OLLAMA_PARAM_NAMES),
        default_credentials=_ollama_key,
    )


SPEC = ProviderSpec(
    name="ollama",
    chat_function=chat_ollama,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL + "/v1",
    credential_sources=(f"{KEY_ENV} (optional)",),
    credential_env=(),
    conformance_kwargs=lambda base_url: {"base_url": base_url, "model": "test-model"},
    description="A local Ollama server (localhost:11434), no key; model= required.",
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_ollama."""
    register(SPEC)
