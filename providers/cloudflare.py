"""Models hosted on Cloudflare Workers AI (R: ``chat_cloudflare()``)."""

from __future__ import annotations

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
    ModelLimitation,
    OpenAIChat,
    Params,
    ProviderSpec,
    SystemPromptFallback,
    build_chat,
    default_model,
    env_credentials,
    env_setting,
    hookimpl,
    reject_api_key,
)

__all__ = ["chat_cloudflare"]

#: ``{account}`` is replaced by the account id.
DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4/accounts/{account}/ai/v1"
DEFAULT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
ENV = ("CLOUDFLARE_API_KEY",)
ACCOUNT_ENV = "CLOUDFLARE_ACCOUNT_ID"

#: R documents "Images don't appear to work" and "Tool calling does not appear to work".
LIMITATIONS = (
    ModelLimitation(
        pattern=r".*",
        feature="images",
        advice="Images don't work through Cloudflare's OpenAI-compatible API: use another "
        "provider for images",
        example=DEFAULT_MODEL,
    ),
    ModelLimitation(
        pattern=r".*",
        feature="tools",
        advice="Tool calling doesn't work through Cloudflare's OpenAI-compatible API: use "
        "another provider for tools",
        example=DEFAULT_MODEL,
    ),
)


def chat_cloudflare(
    account: str | None = None,
    system_prompt: str | None = None,
    params: Params | None = None,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    model: str | None = None,
    api_args: Mapping[str, Any] | None = None,
    echo: Echo | bool | None = None,
    api_headers: Mapping[str, str] | None = None,
    *,
    base_url: str = DEFAULT_BASE_URL,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a model hosted on Cloudflare Workers AI (R: ``chat_cloudflare()``).

    ``account`` is the Cloudflare account id, by default from
    ``CLOUDFLARE_ACCOUNT_ID``; it goes into the URL (``{account}`` in
    ``base_url``). The API token comes from ``credentials`` or
    ``CLOUDFLARE_API_KEY``, read at request time. Model ids start with
    ``@cf/``; see https://developers.cloudflare.com/workers-ai/models/.

    Known limitations (from R): tool calling does not appear to work, and
    images don't either; registering a tool or sending an image raises
    ModelLimitationError before any request.
    """
    reject_api_key("chat_cloudflare", api_key, env=ENV)
    if "{account}" in base_url:
        account = env_setting(account, ACCOUNT_ENV)
        if account is None or not isinstance(account, str) or not account.strip():
            raise ConfigurationError(
                f"chat_cloudflare() needs a Cloudflare account id: set the {ACCOUNT_ENV} "
                "environment variable or pass account= (find it in the Cloudflare dashboard, "
                "https://developers.cloudflare.com/fundamentals/account/find-account-and-zone-ids/)."
            )
        base_url = base_url.replace("{account}", quote(account.strip(), safe=""))
    return build_chat(
        "chat_cloudflare",
        ChatArgs.of(locals()),
        name="Cloudflare",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=OpenAIChat(PARAM_NAMES),
        default_credentials=env_credentials(
            "Cloudflare",
            ENV,
            hint=" Create an API token with Workers AI permissions at "
            "https://dash.cloudflare.com/profile/api-tokens.",
        ),
        limitations=LIMITATIONS,
    )


SPEC = ProviderSpec(
    name="cloudflare",
    chat_function=chat_cloudflare,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    limitations=LIMITATIONS,
    conformance_kwargs=lambda base_url: {
        "base_url": base_url.rstrip("/") + "/accounts/{account}/ai/v1",
        "account": "test-account",
    },
    description="Cloudflare Workers AI, OpenAI-compatible; account id from CLOUDFLARE_ACCOUNT_ID.",
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_cloudflare."""
    register(SPEC)
