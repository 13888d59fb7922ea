"""Google's Gemini models (R: ``chat_google_gemini()``, R/provider-google.R)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from attrs import frozen

from ellmer_py.plugin import (
    Chat,
    ChatArgs,
    CredentialValue,
    Echo,
    Params,
    Price,
    Provider,
    ProviderSpec,
    SystemPromptFallback,
    ToolBuiltIn,
    Transport,
    as_credentials,
    auth_headers,
    build_chat,
    default_model,
    env_credentials,
    hookimpl,
    reject_api_key,
)

__all__ = [
    "GeminiPrices",
    "GoogleModel",
    "chat_google_gemini",
    "google_tool_web_fetch",
    "google_tool_web_search",
    "models_google_gemini",
]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta/"
DEFAULT_MODEL = "gemini-3.5-flash"
#: R reads GOOGLE_API_KEY first, then GEMINI_API_KEY.
ENV = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
_HINT = " Create a key at https://aistudio.google.com/apikey."


def _credentials() -> Callable[[], CredentialValue]:
    return env_credentials("Google/Gemini", ENV, hint=_HINT)


def chat_google_gemini(
    system_prompt: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    model: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    api_headers: Mapping[str, str] | None = None,
    echo: Echo | bool | None = None,
    *,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a Google Gemini model (R: ``chat_google_gemini()``).

    The key comes from ``credentials``, or ``GOOGLE_API_KEY`` then
    ``GEMINI_API_KEY``, read at request time, and is sent as
    ``x-goog-api-key`` (never in the URL). The default model is
    ``gemini-3.5-flash``. Requests go to ``models/{model}:generateContent``
    (``:streamGenerateContent?alt=sse`` when streaming); ``params()`` go in
    ``generationConfig`` (``reasoning_tokens`` / ``reasoning_effort`` as
    ``thinkingConfig``).
    """
    reject_api_key("chat_google_gemini", api_key, env=ENV)
    return build_chat(
        "chat_google_gemini",
        ChatArgs.of(locals()),
        name="Google/Gemini",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol="gemini",
        default_credentials=_credentials(),
        auth_header="x-goog-api-key",
        auth_prefix="",
        prices=GeminiPrices(),
    )


# -- built-in tools ------------------------------------------------------------------


def google_tool_web_search() -> ToolBuiltIn:
    """Let Gemini search the web with Google Search (R: ``google_tool_web_search()``).

    Register it with ``chat.register_tool()``; the grounding data comes back
    in the turn's ``json`` (``groundingMetadata``).
    """
    return ToolBuiltIn(
        name="web_search",
        json={"google_search": {}},
        description="Search the web for up-to-date information.",
        annotations={"title": "Web search", "read_only_hint": True, "open_world_hint": True},
    )


def google_tool_web_fetch() -> ToolBuiltIn:
    """Let Gemini read URLs that appear in the conversation (R: ``google_tool_web_fetch()``)."""
    return ToolBuiltIn(
        name="web_fetch",
        json={"url_context": {}},
        description="Fetch and analyze content from a web URL.",
        annotations={"title": "Web fetch", "read_only_hint": True, "open_world_hint": True},
    )


# -- prices ----------------------------------------------------------------------------

#: Google's list prices (paid tier, prompts up to 200k tokens), US dollars per
#: million tokens: (model pattern, input, output, cached input). More specific first.
PRICES: tuple[tuple[str, float, float, float], ...] = (
    (r"gemini-3(\.\d)?-pro.*", 2.00, 12.00, 0.20),
    (r"gemini-3(\.\d)?-flash-lite.*", 0.10, 0.40, 0.01),
    (r"gemini-3(\.\d)?-flash.*", 0.50, 3.00, 0.05),
    (r"gemini-2\.5-pro.*", 1.25, 10.00, 0.125),
    (r"gemini-2\.5-flash-lite.*", 0.10, 0.40, 0.01),
    (r"gemini-2\.5-flash.*", 0.30, 2.50, 0.03),
    (r"gemini-2\.0-flash-lite.*", 0.075, 0.30, 0.01875),
    (r"gemini-2\.0-flash.*", 0.10, 0.40, 0.025),
    (r"gemini-1\.5-pro.*", 1.25, 5.00, 0.3125),
    (r"gemini-1\.5-flash.*", 0.075, 0.30, 0.01875),
)


def price_of(model: str) -> Price | None:
    """The list price of a Gemini model, or None for a model not in the table."""
    model = model.removeprefix("models/")
    for pattern, input_price, output_price, cached in PRICES:
        if re.fullmatch(pattern, model):
            return Price(input_price, output_price, cached)
    return None


class GeminiPrices:
    """Prices from :data:`PRICES`."""

    def price(self, provider: Provider, headers: Mapping[str, str]) -> Price | None:
        """The price of ``provider.model``."""
        return price_of(provider.model)


# -- models ----------------------------------------------------------------------------


@frozen
class GoogleModel:
    """One model Gemini serves, with its list price if known (R: ``models_google_gemini()``)."""

    id: str
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None


def models_google_gemini(
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[GoogleModel]:
    """The models that can ``generateContent``, by id (R: ``models_google_gemini()``).

    Every page of ``GET models`` is read. Prices come from :data:`PRICES`.
    """
    reject_api_key("models_google_gemini", api_key, env=ENV)
    creds = as_credentials("models_google_gemini", _credentials(), credentials, env=ENV)
    headers = dict(api_headers or {})
    headers.update(auth_headers(creds(), "x-goog-api-key", ""))
    transport = Transport("Google/Gemini", max_tries=max_tries, timeout_s=timeout_s)
    root = base_url.rstrip("/") + "/models?pageSize=1000"
    rows: list[Mapping[str, Any]] = []
    url = root
    try:
        for _ in range(1000):  # pages; a server that never says it is done stops here
            doc = transport.request_json("GET", url, headers=headers)
            data = doc.get("models") if isinstance(doc, Mapping) else None
            page = [d for d in data if isinstance(d, Mapping)] if isinstance(data, list) else []
            rows.extend(page)
            token = doc.get("nextPageToken") if isinstance(doc, Mapping) else None
            if not isinstance(token, str) or not token or not page:
                break
            url = f"{root}&pageToken={quote(token, safe='')}"
    finally:
        transport.close()
    models = []
    for row in rows:
        methods = row.get("supportedGenerationMethods")
        if not isinstance(methods, list) or "generateContent" not in methods:
            continue
        model_id = str(row.get("name", "")).removeprefix("models/")
        price = price_of(model_id)
        models.append(
            GoogleModel(
                id=model_id,
                input_price=price.input if price else None,
                output_price=price.output if price else None,
                cached_input_price=price.cached_input if price else None,
            )
        )
    return sorted(models, key=lambda m: m.id)


def _conformance_kwargs(base_url: str) -> Mapping[str, Any]:
    return {"base_url": base_url}


SPEC = ProviderSpec(
    name="google_gemini",
    chat_function=chat_google_gemini,
    protocol="gemini",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="Google Gemini (generativelanguage.googleapis.com), generateContent.",
    conformance_kwargs=_conformance_kwargs,
)
GEMINI_SPEC = ProviderSpec(
    name="gemini",
    chat_function=chat_google_gemini,
    protocol="gemini",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="Alias of google_gemini.",
    conformance_kwargs=_conformance_kwargs,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_google_gemini, and gemini as its alias."""
    register(SPEC)
    register(GEMINI_SPEC)
