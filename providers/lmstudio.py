"""Models served by a local LM Studio (R: ``chat_lmstudio()``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    build_chat,
    env_credentials,
    env_setting,
    hookimpl,
    list_model_rows,
    model_list_headers,
    require_model,
    server_root,
)

__all__ = ["LMStudioModel", "chat_lmstudio", "models_lmstudio"]

NAME = "LM Studio"
DEFAULT_BASE_URL = "http://localhost:1234"
BASE_URL_ENV = "LMSTUDIO_BASE_URL"
#: Only needed behind a proxy that wants a bearer token; a local LM Studio needs none.
KEY_ENV = "LMSTUDIO_API_KEY"
#: ``LMSTUDIO_API_KEY`` if set (sent as a bearer token), else no authentication at all.
_KEY = env_credentials("LM Studio", (KEY_ENV,), optional=True)
_MODEL_HINT = "the id of a model loaded in LM Studio (models_lmstudio() lists them)"
#: How long the model look-up behind a missing model= may take, unless timeout_s= says.
_LOOKUP_TIMEOUT_S = 10.0

#: R's ``chat_params`` for LM Studio (its documented payload parameters): ``max_tokens``,
#: ``top_k`` and ``seed``; no ``logprobs``.
LMSTUDIO_PARAM_NAMES = {
    "frequency_penalty": "frequency_penalty",
    "max_tokens": "max_tokens",
    "presence_penalty": "presence_penalty",
    "seed": "seed",
    "stop": "stop_sequences",
    "temperature": "temperature",
    "top_k": "top_k",
    "top_p": "top_p",
}


def _server_root(base_url: str | None) -> str:
    """The LM Studio server: ``base_url``, ``LMSTUDIO_BASE_URL`` or the default, without ``/v1``."""
    return server_root(env_setting(base_url, BASE_URL_ENV) or DEFAULT_BASE_URL)


def chat_lmstudio(
    system_prompt: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    echo: Echo | bool | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    api_headers: Mapping[str, str] | None = None,
    *,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a model served by a local LM Studio (R: ``chat_lmstudio()``).

    Install LM Studio (https://lmstudio.ai), load a model and start its
    server (Developer tab, or ``lms server start``). ``base_url`` is that
    server, by default ``LMSTUDIO_BASE_URL`` or ``http://localhost:1234``;
    requests go to its OpenAI-compatible ``/v1`` API. No key is needed
    locally; behind a proxy that wants a bearer token, set
    ``LMSTUDIO_API_KEY`` or pass ``credentials``. As in R, there is no
    ``api_key`` argument.

    ``model`` is required. Without it, as in R, the error lists the models
    LM Studio has, or says that no server answered (one request to ``GET
    /v1/models``). Unlike R, nothing is sent when ``model`` is given (R
    first checks that LM Studio runs and has the model); a missing server
    or model shows on the first request.
    """
    root = _server_root(base_url)
    model = require_model(
        "chat_lmstudio",
        model,
        _MODEL_HINT,
        available=lambda: [
            m.id
            for m in models_lmstudio(
                root,
                credentials,
                api_headers=api_headers,
                max_tries=1,
                timeout_s=timeout_s if timeout_s is not None else _LOOKUP_TIMEOUT_S,
            )
        ],
        models_url=root + "/v1/models",
        unreachable=(  # R: "Can't find locally running LM Studio."
            " Is LM Studio's server running? Start it in LM Studio's Developer tab or with "
            f"`lms server start`, or point base_url= (or {BASE_URL_ENV}) at the one you run."
        ),
        empty=" Download one in LM Studio (or with `lms get`), then pass its id.",
    )
    return build_chat(
        "chat_lmstudio",
        ChatArgs.of(locals()),
        name=NAME,
        model=model,
        base_url=root + "/v1",
        protocol=OpenAIChat(LMSTUDIO_PARAM_NAMES, reasoning_field="reasoning_content"),
        default_credentials=_KEY,
    )


# -- models ----------------------------------------------------------------------------


@frozen
class LMStudioModel:
    """One model LM Studio has (R: a ``models_lmstudio()`` row: its ``id``)."""

    id: str


def models_lmstudio(
    base_url: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[LMStudioModel]:
    """The models LM Studio has, in LM Studio's order (R: ``models_lmstudio()``).

    From ``GET <server>/v1/models``. ``base_url`` is the server, as for
    ``chat_lmstudio()``: ``LMSTUDIO_BASE_URL`` or ``http://localhost:1234``
    (R's default is always the latter), with or without ``/v1``. No key is
    needed; behind a proxy, ``LMSTUDIO_API_KEY`` or ``credentials`` gives
    one. As in R, each record has the model's ``id`` only.
    """
    headers = model_list_headers("models_lmstudio", _KEY, credentials, api_headers)
    rows = list_model_rows(
        NAME,
        _server_root(base_url) + "/v1/models",
        headers,
        expected=f"an LM Studio server (such as {DEFAULT_BASE_URL})",
        max_tries=max_tries,
        timeout_s=timeout_s,
    )
    return [LMStudioModel(id=row["id"]) for row in rows if isinstance(row.get("id"), str)]


SPEC = ProviderSpec(
    name="lmstudio",
    chat_function=chat_lmstudio,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL + "/v1",
    credential_sources=(f"{KEY_ENV} (optional)",),
    credential_env=(),
    conformance_kwargs=lambda base_url: {"base_url": base_url, "model": "test-model"},
    description="A local LM Studio server (localhost:1234), no key; model= required.",
    models_function=models_lmstudio,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_lmstudio."""
    register(SPEC)
