"""Models hosted by Posit AI (R: ``chat_posit()``, ``models_posit()``, R/provider-posit.R).

Posit's gateway serves Claude models over Anthropic's Messages API at
``<base_url>/anthropic/v1`` and the others over OpenAI chat completions at
``<base_url>/openai/v1``; both take the access token of a Posit sign-in
(an OAuth device flow, ``DeviceFlowCredentials`` from the plugin API).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from attrs import frozen

from ellmer_py.plugin import (
    AnthropicMessages,
    Chat,
    ChatArgs,
    ClaudePrices,
    ConfigurationError,
    CredentialValue,
    DeviceFlowCredentials,
    Echo,
    ModelPrices,
    OpenAIChat,
    Params,
    Price,
    ProviderSpec,
    SystemPromptFallback,
    Transport,
    build_chat,
    default_model,
    hookimpl,
    list_model_rows,
    model_list_headers,
    table_price,
)

__all__ = [
    "PRICES",
    "PositModel",
    "chat_posit",
    "models_posit",
    "posit_credentials",
    "posit_error_message",
    "posit_oauth_reset",
    "price_of",
]

DEFAULT_BASE_URL = "https://gateway.posit.ai"
DEFAULT_MODEL = "claude-sonnet-5"
CACHE_CHOICES = ("5m", "1h", "none")
#: R's ``is_claude_model()``: these go to the Messages API.
_CLAUDE = re.compile(r"^claude")
_GATEWAY_SUFFIX = re.compile(r"/(anthropic|openai)/v1/?$")
SIGN_IN = "a Posit AI sign-in (OAuth device flow at login.posit.cloud, cached on disk)"


def _gateway(function: str, base_url: object) -> str:
    if not isinstance(base_url, str) or not base_url.strip():
        raise ConfigurationError(
            f"{function}(base_url=) must be the gateway's URL, a non-empty string such as "
            f"{DEFAULT_BASE_URL!r}."
        )
    return base_url.strip().rstrip("/")


# -- the sign-in ------------------------------------------------------------------------

#: Posit's login endpoints (R: ``default_posit_credentials()``). Module constants the
#: tests point at a loopback server, deliberately not an environment variable: a variable
#: could send the sign-in (and a cached refresh token) to another host, and R has none.
AUTH_URL = "https://login.posit.cloud/oauth/device/authorize"
TOKEN_URL = "https://login.posit.cloud/oauth/token"
CLIENT_ID = "rstudio-ide"
#: Sent on the authorize request and on every token request (R: ``token_params``).
SCOPE = "prism"
#: The OAuth client's name (R: ``oauth_client(name = "ellmer-posit")``): the cache folder.
CLIENT_NAME = "ellmer-posit"


def posit_credentials() -> DeviceFlowCredentials:
    """Posit AI's default credentials (R: ``default_posit_credentials()``).

    A device sign-in at :data:`AUTH_URL` / :data:`TOKEN_URL` for the client
    ``rstudio-ide`` with scope ``prism``, cached on disk.
    """
    return DeviceFlowCredentials(
        auth_url=AUTH_URL,
        token_url=TOKEN_URL,
        client_id=CLIENT_ID,
        scope=SCOPE,
        name=CLIENT_NAME,
        provider="Posit",
        service="Posit AI",
    )


def posit_oauth_reset() -> None:
    """Forget the cached Posit AI sign-in (R: ``posit_oauth_reset()``, unexported there)."""
    posit_credentials().clear()


def chat_posit(
    system_prompt: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    credentials: Callable[[], CredentialValue] | None = None,
    model: str | None = None,
    params: Params | None = None,
    cache: str = "5m",
    api_args: Mapping[str, Any] | None = None,
    api_headers: Mapping[str, str] | None = None,
    echo: Echo | bool | None = None,
    *,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a model hosted by Posit AI (R: ``chat_posit()``).

    The default model is ``claude-sonnet-5``. Claude models (``claude...``)
    speak Anthropic's Messages API at ``<base_url>/anthropic/v1``, with
    prompt caching as ``cache`` says ("5m", "1h" or "none"); other models
    speak OpenAI chat completions at ``<base_url>/openai/v1`` (``cache`` is
    ignored). The first request signs in to Posit AI: it shows a URL and a
    code on stderr and waits until the sign-in is approved; the tokens are
    cached under ``~/.cache/ellmer-py/oauth`` (or ``$XDG_CACHE_HOME``) and
    refreshed when they expire. ``credentials=`` (a token, sent as
    ``Authorization: Bearer``, or a dict of headers) replaces the sign-in.
    Answers are priced from R's "Posit" rows (:data:`PRICES`).
    """
    gateway = _gateway("chat_posit", base_url)
    if cache not in CACHE_CHOICES:
        raise ConfigurationError(f'chat_posit(cache=) must be "5m", "1h" or "none", not {cache!r}.')
    model = default_model(model, DEFAULT_MODEL)
    claude = isinstance(model, str) and _CLAUDE.match(model) is not None
    return build_chat(
        "chat_posit",
        ChatArgs.of(locals()),
        name="Posit",
        model=model,
        base_url=gateway + ("/anthropic/v1" if claude else "/openai/v1"),
        protocol=AnthropicMessages(cache=cache) if claude else OpenAIChat(),
        default_credentials=posit_credentials(),
        prices=ClaudePrices(price_of, cache) if claude else ModelPrices(price_of),
        error_message=posit_error_message,
    )


# -- errors ----------------------------------------------------------------------------

ACCOUNT_NOT_FOUND = (
    "You must finish setting up your Posit AI account before using the API. "
    "Visit https://posit.ai/ to accept the service agreement."
)


def posit_error_message(body: bytes) -> str | None:
    """The message of a gateway error body, or None to leave it to the usual reading.

    (R: ``posit_error_body()``.) ``error_type: "prism_account_not_found"``
    gets a message saying what to do (the gateway's own names an internal
    user id); the gateway's errors have a string ``error``; upstream
    Anthropic and OpenAI errors are passed through with an object ``error``,
    whose ``message`` is used.
    """
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, Mapping):
        return None
    if doc.get("error_type") == "prism_account_not_found":
        return ACCOUNT_NOT_FOUND
    error = doc.get("error")
    if isinstance(error, str) and error:
        return error
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        return str(error["message"])
    return None


# -- prices ----------------------------------------------------------------------------

#: R's list prices for Posit AI, US dollars per million tokens: model id -> (input,
#: output, cached input). The "Posit" rows of R ellmer's data-raw/prices.json
#: (updated_at 2026-08-03T09:30:30Z): Anthropic's rates plus Posit's 10% for the
#: Claude models, and Gemma entered by hand. Matched exactly, as R's get_token_cost()
#: does (R's "above_200k_tokens" variant of claude-sonnet-4-5 is never asked for).
PRICES: Mapping[str, tuple[float | None, float | None, float | None]] = {
    "claude-fable-5": (11.0, 55.0, 1.1),
    "claude-haiku-4-5": (1.1, 5.5, 0.11),
    "claude-opus-4-5": (5.5, 27.5, 0.55),
    "claude-opus-4-6": (5.5, 27.5, 0.55),
    "claude-opus-4-7": (5.5, 27.5, 0.55),
    "claude-opus-4-8": (5.5, 27.5, 0.55),
    "claude-sonnet-4-5": (3.3, 16.5, 0.33),
    "claude-sonnet-4-6": (3.3, 16.5, 0.33),
    "google/gemma-4-26B-A4B-it": (0.3, 1.5, 0.03),
}


def price_of(model: str) -> Price | None:
    """R's list price of a Posit AI model (exactly as named), or None (R: ``get_token_cost()``)."""
    return table_price(PRICES, model)


# -- models ----------------------------------------------------------------------------


@frozen
class PositModel:
    """One model Posit AI serves (R: a ``models_posit()`` row)."""

    id: str
    name: str


def models_posit(
    base_url: str = DEFAULT_BASE_URL,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[PositModel]:
    """The chat models Posit AI serves, in the gateway's order (R: ``models_posit()``).

    From ``GET <base_url>/models`` (its ``chat`` array: ``id`` and
    ``display_name``), authenticated as ``chat_posit()`` is: the cached
    Posit AI sign-in (signing in first if need be), or ``credentials=``.
    A chat's ``/anthropic/v1`` or ``/openai/v1`` base URL is taken back to
    the gateway's.
    """
    gateway = _GATEWAY_SUFFIX.sub("", _gateway("models_posit", base_url))
    headers = model_list_headers("models_posit", posit_credentials(), credentials, api_headers)
    transport = Transport(
        "Posit", max_tries=max_tries, timeout_s=timeout_s, error_message=posit_error_message
    )
    try:
        rows = list_model_rows(
            "Posit",
            gateway + "/models",
            headers,
            key="chat",
            expected=f"the gateway's URL ({DEFAULT_BASE_URL})",
            transport=transport,
        )
    finally:
        transport.close()
    return [
        PositModel(id=row["id"], name=str(row.get("display_name") or row["id"]))
        for row in rows
        if isinstance(row.get("id"), str)
    ]


SPEC = ProviderSpec(
    name="posit",
    chat_function=chat_posit,
    protocol="anthropic-messages",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=(SIGN_IN,),
    description="Posit AI (gateway.posit.ai): Claude over Messages, other models over "
    "chat completions; OAuth device sign-in.",
    models_function=models_posit,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_posit."""
    register(SPEC)
