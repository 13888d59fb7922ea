"""Models served by a local Ollama (R: ``chat_ollama()``)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from attrs import frozen

from ellmer_py.plugin import (
    Chat,
    ChatArgs,
    CredentialValue,
    Echo,
    OpenAIChat,
    Params,
    ProviderSpec,
    SystemPromptFallback,
    Transport,
    build_chat,
    env_credentials,
    env_setting,
    hookimpl,
    list_model_rows,
    model_list_headers,
    newest_first,
    reject_api_key,
    require_model,
    server_root,
)

__all__ = ["OllamaModel", "chat_ollama", "models_ollama"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://localhost:11434"
BASE_URL_ENV = "OLLAMA_BASE_URL"
#: Only needed behind a proxy that wants a bearer token; a local Ollama needs none.
KEY_ENV = "OLLAMA_API_KEY"
#: ``OLLAMA_API_KEY`` if set (sent as a bearer token), else no authentication at all.
_KEY = env_credentials("Ollama", (KEY_ENV,), optional=True)

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


#: How long the model look-up behind a missing model= may take, unless timeout_s= says.
_LOOKUP_TIMEOUT_S = 10.0


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

    Without ``model``, as in R, the error lists the models the server has
    (one look at its ``api/tags``). Unlike R, nothing is sent at
    construction when ``model`` is given (R first checks that the server
    runs and has the model); a missing server or model shows on the first
    request.

    Known limitations (from R): tool calling does not work while
    streaming, and is weak with most models; models use only 2048 input
    tokens unless you create a custom model with a larger context.
    """
    reject_api_key("chat_ollama", api_key, env=(KEY_ENV,))
    if base_url is None:
        base_url = env_setting(None, BASE_URL_ENV) or DEFAULT_BASE_URL
    server = base_url
    model = require_model(
        "chat_ollama",
        model,
        "the name of a model you have pulled, such as model='llama3.2' (`ollama list` shows them)",
        available=lambda: [
            m.id
            for m in models_ollama(
                server,
                credentials,
                api_headers=api_headers,
                max_tries=1,
                timeout_s=timeout_s if timeout_s is not None else _LOOKUP_TIMEOUT_S,
            )
        ],
        models_url=server_root(server) + "/api/tags",
        unreachable=" Is Ollama running? Start it (`ollama serve`), or point base_url= (or "
        f"{BASE_URL_ENV}) at the server you run.",
        empty=" Pull one first, e.g. `ollama pull llama3.2`.",
    )
    return build_chat(
        "chat_ollama",
        ChatArgs.of(locals()),
        name="Ollama",
        model=model,
        base_url=server_root(base_url) + "/v1",
        protocol=OpenAIChat(OLLAMA_PARAM_NAMES),
        default_credentials=_KEY,
    )


# -- models ----------------------------------------------------------------------------


@frozen
class OllamaModel:
    """One model an Ollama server has (R: a ``models_ollama()`` row).

    ``created_at`` is when the model was last pulled or changed; ``size`` is
    in bytes; ``capabilities`` are what Ollama says the model can do, such
    as ``("completion", "tools", "thinking", "vision")``.
    """

    id: str
    created_at: datetime | None
    size: int | None
    capabilities: tuple[str, ...] = ()


#: ``api/show`` answers, by (server, model, digest): a model pulled again has a new digest.
_CAPABILITIES: dict[tuple[str, str, str], tuple[str, ...]] = {}
_CAPABILITIES_LOCK = threading.Lock()

_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?")


def _timestamp(value: Any) -> datetime | None:
    """An RFC 3339 time as Ollama writes it (nanoseconds, an offset), on any Python."""
    match = _TIMESTAMP.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    day, time, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    if len(zone) == 5:  # +hhmm
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        return datetime.fromisoformat(f"{day}T{time}.{(fraction or '').ljust(6, '0')[:6]}{zone}")
    except ValueError:
        return None


def _capabilities(
    transport: Transport, root: str, name: str, digest: str, headers: Mapping[str, str]
) -> tuple[str, ...]:
    """What ``POST api/show`` says ``name`` can do; nothing if it can't be asked (as R)."""
    key = (root, name, digest)
    with _CAPABILITIES_LOCK:
        if digest and key in _CAPABILITIES:
            return _CAPABILITIES[key]
    try:
        doc = transport.request_json(
            "POST", root + "/api/show", headers=headers, body={"model": name, "verbose": False}
        )
    except Exception as exc:  # never lose the list for one model's details (R: tryCatch)
        log.info("Ollama: no capabilities for %s (api/show failed: %s).", name, exc)
        return ()
    found = doc.get("capabilities") if isinstance(doc, Mapping) else None
    capabilities = tuple(c for c in found if isinstance(c, str)) if isinstance(found, list) else ()
    if digest:
        with _CAPABILITIES_LOCK:
            _CAPABILITIES[key] = capabilities
    return capabilities


def models_ollama(
    base_url: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[OllamaModel]:
    """The models an Ollama server has, most recently changed first (R: ``models_ollama()``).

    From Ollama's own ``GET api/tags`` (not the OpenAI-compatible API), with
    each model's capabilities from ``POST api/show`` (remembered per model
    digest, as R caches them; a model whose details can't be read has
    none). ``:latest`` is dropped from ids, as R does. ``base_url`` is the
    server, as for ``chat_ollama()``: ``OLLAMA_BASE_URL`` or
    ``http://localhost:11434`` (R's default is always the latter). No key
    is needed; behind a proxy, ``OLLAMA_API_KEY`` or ``credentials`` gives one.
    """
    headers = model_list_headers("models_ollama", _KEY, credentials, api_headers, env=(KEY_ENV,))
    if base_url is None:
        base_url = env_setting(None, BASE_URL_ENV) or DEFAULT_BASE_URL
    root = server_root(base_url)
    transport = Transport("Ollama", max_tries=max_tries, timeout_s=timeout_s)
    try:
        rows = list_model_rows(
            "Ollama",
            root + "/api/tags",
            headers,
            key="models",
            expected=f"an Ollama server (such as {DEFAULT_BASE_URL})",
            transport=transport,
        )
        models = []
        for row in rows:
            name = row.get("name")
            if not isinstance(name, str) or not name:
                continue
            name = name.removesuffix(":latest")
            size = row.get("size")
            digest = row.get("digest")
            models.append(
                OllamaModel(
                    id=name,
                    created_at=_timestamp(row.get("modified_at")),
                    size=size if type(size) is int else None,
                    capabilities=_capabilities(
                        transport, root, name, digest if isinstance(digest, str) else "", headers
                    ),
                )
            )
    finally:
        transport.close()
    return newest_first(models)


SPEC = ProviderSpec(
    name="ollama",
    chat_function=chat_ollama,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL + "/v1",
    credential_sources=(f"{KEY_ENV} (optional)",),
    credential_env=(),
    conformance_kwargs=lambda base_url: {"base_url": base_url, "model": "test-model"},
    description="A local Ollama server (localhost:11434), no key; model= required.",
    models_function=models_ollama,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_ollama."""
    register(SPEC)
