"""Models served by vLLM (R: ``chat_vllm()``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from attrs import frozen

from ellmer_py.plugin import (
    PARAM_NAMES,
    Chat,
    ChatArgs,
    ConfigurationError,
    CredentialValue,
    Echo,
    OpenAIChat,
    Params,
    ProviderSpec,
    SystemPromptFallback,
    build_chat,
    env_credentials,
    hookimpl,
    list_model_rows,
    model_list_headers,
    reject_api_key,
    require_model,
    server_root,
)

__all__ = ["VllmModel", "chat_vllm", "models_vllm"]

NAME = "VLLM"
ENV = ("VLLM_API_KEY",)
_HINT = " A vLLM server started without --api-key accepts any key, so any value will do."
_MODEL_HINT = "the id of a model the server serves (models_vllm(base_url) lists them)"
#: How long the model look-up behind a missing model= may take, unless timeout_s= says.
_LOOKUP_TIMEOUT_S = 10.0


def _credentials() -> Callable[[], CredentialValue]:
    return env_credentials(NAME, ENV, hint=_HINT)


def _check_base_url(function: str, base_url: object) -> str:
    if not isinstance(base_url, str) or not base_url.strip():
        raise ConfigurationError(
            f"{function}() needs base_url=, the URL of your vLLM server (for example "
            "'http://localhost:8000'); it has no default."
        )
    return base_url


def chat_vllm(
    base_url: str,
    system_prompt: str | None = None,
    model: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    echo: Echo | bool | None = None,
    api_headers: Mapping[str, str] | None = None,
    *,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a model served by vLLM (R: ``chat_vllm()``).

    ``base_url`` (required) is the vLLM server, such as
    ``http://localhost:8000``; requests go to its OpenAI-compatible ``/v1``
    API, whether or not ``base_url`` already ends in ``/v1`` (R appends
    ``/chat/completions`` to ``base_url`` but lists models at
    ``<base_url>/v1/models``, so only one of the two works with either form).
    The key comes from ``credentials`` or ``VLLM_API_KEY``, read at request
    time, as R requires one; a server started without ``--api-key`` takes
    any value.

    ``model`` is required. Without it, as in R, the error lists the models
    the server serves (one request to ``GET /v1/models``). Tool definitions
    are sent without OpenAI's ``strict`` flag, as R sends them to vLLM.
    """
    reject_api_key("chat_vllm", api_key, env=ENV)
    base_url = _check_base_url("chat_vllm", base_url)
    model = require_model(
        "chat_vllm",
        model,
        _MODEL_HINT,
        available=lambda: [
            m.id
            for m in models_vllm(
                base_url,
                credentials=credentials,
                api_headers=api_headers,
                max_tries=1,
                timeout_s=timeout_s if timeout_s is not None else _LOOKUP_TIMEOUT_S,
            )
        ],
        models_url=server_root(base_url) + "/v1/models",
    )
    return build_chat(
        "chat_vllm",
        ChatArgs.of(locals()),
        name=NAME,
        model=model,
        base_url=server_root(base_url) + "/v1",
        protocol=OpenAIChat(PARAM_NAMES, strict_tools=False),
        default_credentials=_credentials(),
    )


# -- models ----------------------------------------------------------------------------


@frozen
class VllmModel:
    """One model a vLLM server serves (R: a ``models_vllm()`` row: its ``id``)."""

    id: str


def models_vllm(
    base_url: str,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[VllmModel]:
    """The models a vLLM server serves, in the server's order (R: ``models_vllm()``).

    From ``GET <server>/v1/models`` (``base_url`` with or without ``/v1``),
    with the key found as for ``chat_vllm()``. As in R, each record has the
    model's ``id`` only.
    """
    reject_api_key("models_vllm", api_key, env=ENV)
    base_url = _check_base_url("models_vllm", base_url)
    headers = model_list_headers("models_vllm", _credentials(), credentials, api_headers, env=ENV)
    rows = list_model_rows(
        NAME,
        server_root(base_url) + "/v1/models",
        headers,
        expected="the vLLM server (such as http://localhost:8000)",
        max_tries=max_tries,
        timeout_s=timeout_s,
    )
    return [VllmModel(id=row["id"]) for row in rows if isinstance(row.get("id"), str)]


SPEC = ProviderSpec(
    name="vllm",
    chat_function=chat_vllm,
    protocol="openai-chat",
    credential_sources=ENV,
    credential_env=ENV,
    conformance_kwargs=lambda base_url: {"base_url": base_url, "model": "test-model"},
    description="A vLLM server (OpenAI-compatible); base_url= and model= required.",
    models_function=models_vllm,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_vllm."""
    register(SPEC)
