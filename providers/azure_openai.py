"""Models deployed on Azure OpenAI (R: ``chat_azure_openai()``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

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
    env_setting,
    hookimpl,
    reject_api_key,
    require_model,
)

__all__ = ["chat_azure_openai"]

DEFAULT_API_VERSION = "2024-10-21"
ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
ENV = ("AZURE_OPENAI_API_KEY",)
#: Azure's own header for a key, sent as it is (no ``Bearer``).
AUTH_HEADER = "api-key"


def chat_azure_openai(
    endpoint: str | None = None,
    model: str | None = None,
    params: Params | None = None,
    api_version: str | None = None,
    system_prompt: str | None = None,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    api_args: Mapping[str, Any] | None = None,
    echo: Echo | bool | None = None,
    api_headers: Mapping[str, str] | None = None,
    deployment_id: str | None = None,
    *,
    base_url: str | None = None,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a model deployed on Azure OpenAI (R: ``chat_azure_openai()``).

    ``endpoint`` is ``https://<resource>.openai.azure.com``, by default from
    ``AZURE_OPENAI_ENDPOINT``; ``model`` is required and is the deployment
    id. Requests go to ``<endpoint>/openai/deployments/<model>/chat/completions``
    with the ``api-version`` query parameter (default ``2024-10-21``);
    ``base_url`` replaces ``<endpoint>/openai/deployments/<model>``.

    The key comes from ``credentials`` or ``AZURE_OPENAI_API_KEY``, read at
    request time, and is sent in the ``api-key`` header. For Entra ID, pass
    ``credentials`` returning ``{"Authorization": "Bearer <token>"}``; R
    also finds service principal, Azure CLI-style and Posit Connect
    credentials by itself, which ellmer-py does not yet do.
    ``deployment_id`` is deprecated, as in R: use ``model``.
    """
    reject_api_key("chat_azure_openai", api_key, env=ENV)
    if deployment_id is not None:
        warnings.warn(
            "chat_azure_openai(deployment_id=) is deprecated: use model= (the deployment id).",
            DeprecationWarning,
            stacklevel=2,
        )
        if model is not None and model != deployment_id:
            raise ConfigurationError(
                "chat_azure_openai() was given both model= and deployment_id=; pass only "
                "model=, the deployment id."
            )
        model = deployment_id
    model = require_model(
        "chat_azure_openai", model, "the deployment id of your model, such as 'gpt-4o-mini'"
    )
    if api_version is None:
        api_version = DEFAULT_API_VERSION
    elif not isinstance(api_version, str) or not api_version.strip():
        raise ConfigurationError(
            f"chat_azure_openai(api_version=) must be a version string such as "
            f"{DEFAULT_API_VERSION!r}."
        )
    if base_url is None:
        endpoint = env_setting(endpoint, ENDPOINT_ENV)
        if endpoint is None or not isinstance(endpoint, str) or not endpoint.strip():
            raise ConfigurationError(
                f"chat_azure_openai() needs endpoint=, such as "
                f"'https://my-resource.openai.azure.com', or the {ENDPOINT_ENV} "
                "environment variable."
            )
        base_url = f"{endpoint.strip().rstrip('/')}/openai/deployments/{quote(model, safe='')}"
    return build_chat(
        "chat_azure_openai",
        ChatArgs.of(locals()),
        name="Azure/OpenAI",
        model=model,
        base_url=base_url,
        protocol=OpenAIChat(PARAM_NAMES),
        default_credentials=env_credentials(
            "Azure/OpenAI",
            ENV,
            hint=" Find the key under 'Keys and Endpoint' of your Azure OpenAI resource.",
        ),
        auth_header=AUTH_HEADER,
        auth_prefix="",
        url_params={"api-version": api_version.strip()},
    )


SPEC = ProviderSpec(
    name="azure_openai",
    chat_function=chat_azure_openai,
    protocol="openai-chat",
    default_base_url="{AZURE_OPENAI_ENDPOINT}/openai/deployments/{model}",
    credential_sources=ENV,
    credential_env=ENV,
    conformance_kwargs=lambda base_url: {"endpoint": base_url, "model": "test-deployment"},
    description="Azure OpenAI (endpoint from AZURE_OPENAI_ENDPOINT); model= is the deployment id.",
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_azure_openai."""
    register(SPEC)
