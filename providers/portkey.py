"""Models reached through the PortkeyAI gateway (R: ``chat_portkey()``)."""

from __future__ import annotations

import os
import warnings
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
)

__all__ = ["PortkeyModel", "chat_portkey", "models_portkey"]

DEFAULT_BASE_URL = "https://api.portkey.ai/v1"
ENV = ("PORTKEY_API_KEY",)
VIRTUAL_KEY_ENV = "PORTKEY_VIRTUAL_KEY"
#: Portkey's own header for its key, sent as it is (no ``Bearer``).
AUTH_HEADER = "x-portkey-api-key"
_HINT = " Create a key at https://app.portkey.ai/."


def _credentials() -> Callable[[], CredentialValue]:
    return env_credentials("PortkeyAI", ENV, hint=_HINT)


def chat_portkey(
    model: str | None = None,
    system_prompt: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    virtual_key: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    echo: Echo | bool | None = None,
    api_headers: Mapping[str, str] | None = None,
    *,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a model through the PortkeyAI gateway (R: ``chat_portkey()``).

    ``model`` is required and names the model provider too, as
    ``"@my-provider/my-model"``. The Portkey key comes from ``credentials``
    or ``PORTKEY_API_KEY``, read at request time, and is sent in the
    ``x-portkey-api-key`` header.

    ``virtual_key`` is deprecated, as in R: the provider now goes in the
    model name. For backward compatibility a model without the ``@`` prefix
    gets ``@<virtual key>/`` prepended, the virtual key coming from
    ``virtual_key`` or the ``PORTKEY_VIRTUAL_KEY`` environment variable.
    """
    reject_api_key("chat_portkey", api_key, env=ENV)
    model = require_model(
        "chat_portkey", model, "the model and its provider, such as '@my-provider/gpt-4.1-mini'"
    )
    if virtual_key is not None:
        warnings.warn(
            "chat_portkey(virtual_key=) is deprecated: put the model provider in the model "
            "name instead, as model='@my-provider/my-model' "
            "(see https://portkey.ai/docs/support/upgrade-to-model-catalog).",
            DeprecationWarning,
            stacklevel=2,
        )
        if not isinstance(virtual_key, str) or not virtual_key:
            raise ConfigurationError("chat_portkey(virtual_key=) must be a non-empty string.")
    if not model.startswith("@"):
        virtual_key = virtual_key or os.environ.get(VIRTUAL_KEY_ENV) or None
        if virtual_key:
            model = f"@{virtual_key}/{model}"
    return build_chat(
        "chat_portkey",
        ChatArgs.of(locals()),
        name="PortkeyAI",
        model=model,
        base_url=base_url,
        protocol=OpenAIChat(PARAM_NAMES),
        default_credentials=_credentials(),
        auth_header=AUTH_HEADER,
        auth_prefix="",
    )


# -- models ----------------------------------------------------------------------------


@frozen
class PortkeyModel:
    """One model of the Portkey Model Catalog (R: a ``models_portkey()`` row)."""

    id: str
    slug: str | None


def models_portkey(
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[PortkeyModel]:
    """The models your Portkey workspace can route to, in Portkey's order (R: ``models_portkey()``).

    From ``GET models``, the key (found as for ``chat_portkey()``) in
    ``x-portkey-api-key``; an id such as ``"@my-provider/gpt-4.1-mini"`` is
    what ``chat_portkey(model=)`` takes. The list comes in pages
    (``total``, ``offset``): every page is read, where R reads the first.
    ``api_headers`` may add Portkey's headers, such as ``x-portkey-provider``.
    """
    reject_api_key("models_portkey", api_key, env=ENV)
    headers = model_list_headers(
        "models_portkey",
        _credentials(),
        credentials,
        api_headers,
        env=ENV,
        header=AUTH_HEADER,
        prefix="",
    )
    root = base_url.rstrip("/") + "/models"
    seen: dict[str, PortkeyModel] = {}  # by id: a page may repeat what came before

    def next_page(doc: Mapping[str, Any], page: list[Mapping[str, Any]]) -> str | None:
        before = len(seen)
        for row in page:
            if isinstance(row.get("id"), str) and row["id"] not in seen:
                slug = row["slug"] if isinstance(row.get("slug"), str) else None
                seen[row["id"]] = PortkeyModel(id=row["id"], slug=slug)
        total = doc.get("total")
        if len(seen) == before or type(total) is not int or len(seen) >= total:
            return None
        return f"{root}?offset={len(seen)}"

    list_model_rows(
        "PortkeyAI",
        root,
        headers,
        expected=f"the API root ({DEFAULT_BASE_URL})",
        next_page=next_page,
        max_tries=max_tries,
        timeout_s=timeout_s,
    )
    return list(seen.values())


SPEC = ProviderSpec(
    name="portkey",
    chat_function=chat_portkey,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL,
    credential_sources=ENV,
    credential_env=ENV,
    conformance_kwargs=lambda base_url: {
        "base_url": base_url,
        "model": "@test-provider/test-model",
    },
    description="PortkeyAI gateway (api.portkey.ai); model= required, as '@provider/model'.",
    models_function=models_portkey,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_portkey."""
    register(SPEC)
