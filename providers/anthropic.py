"""Anthropic's Claude models (R: ``chat_anthropic()``, ``chat_claude()``, R/provider-claude.R)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attrs import frozen

from ellmer_py.plugin import (
    AnthropicBatch,
    AnthropicMessages,
    Chat,
    ChatArgs,
    ClaudePrices,
    CredentialValue,
    Echo,
    Params,
    Price,
    ProviderSpec,
    SystemPromptFallback,
    ToolBuiltIn,
    build_chat,
    default_model,
    env_credentials,
    hookimpl,
    list_model_rows,
    model_list_headers,
    price_columns,
    reject_api_key,
)

__all__ = [
    "AnthropicModel",
    "chat_anthropic",
    "chat_claude",
    "claude_tool_web_fetch",
    "claude_tool_web_search",
    "models_anthropic",
    "models_claude",
]

DEFAULT_BASE_URL = "https://api.anthropic.com/v1"
DEFAULT_MODEL = "claude-sonnet-5"
#: Message Batches (R: batch_submit() for ProviderAnthropic).
BATCH = AnthropicBatch()
ENV = ("ANTHROPIC_API_KEY",)
_HINT = " Create a key at https://platform.claude.com/settings/keys."


def _credentials() -> Callable[[], CredentialValue]:
    return env_credentials("Anthropic", ENV, hint=_HINT)


def chat_anthropic(
    system_prompt: str | None = None,
    params: Params | None = None,
    model: str | None = None,
    cache: str = "5m",
    api_args: Mapping[str, Any] | None = None,
    base_url: str = DEFAULT_BASE_URL,
    beta_headers: Sequence[str] = (),
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    api_headers: Mapping[str, str] | None = None,
    echo: Echo | bool | None = None,
    *,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with an Anthropic Claude model (R: ``chat_anthropic()``; alias ``chat_claude()``).

    The key comes from ``credentials`` or ``ANTHROPIC_API_KEY``, read at
    request time, and is sent as ``x-api-key`` with ``anthropic-version:
    2023-06-01``. The default model is ``claude-sonnet-5``; ``max_tokens`` is
    4096 unless ``params(max_tokens=)`` says otherwise. ``cache`` is "5m"
    (the default), "1h" or "none": the system prompt and the last message
    are marked for prompt caching. ``beta_headers`` are sent as
    ``anthropic-beta``. 429, 503 and 529 (overloaded) answers are retried.
    """
    reject_api_key("chat_anthropic", api_key, env=ENV)
    if isinstance(beta_headers, str):
        beta_headers = [beta_headers]
    return build_chat(
        "chat_anthropic",
        ChatArgs.of(locals()),
        name="Anthropic",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=AnthropicMessages(cache=cache, beta_headers=tuple(beta_headers)),
        default_credentials=_credentials(),
        auth_header="x-api-key",
        auth_prefix="",
        prices=ClaudePrices(price_of, cache),
        batch=BATCH,
    )


chat_claude = chat_anthropic


# -- built-in tools ------------------------------------------------------------------


def _domains(allowed: Sequence[str] | None, blocked: Sequence[str] | None, what: str) -> None:
    if allowed is not None and blocked is not None:
        raise ValueError(f"{what}: give allowed_domains or blocked_domains, not both.")
    for name, value in (("allowed_domains", allowed), ("blocked_domains", blocked)):
        if value is not None and (
            isinstance(value, str) or not all(isinstance(v, str) for v in value)
        ):
            raise ValueError(f"{what}({name}=) must be a list of strings.")


def _compact(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items() if v is not None}


def claude_tool_web_search(
    max_uses: int | None = None,
    allowed_domains: Sequence[str] | None = None,
    blocked_domains: Sequence[str] | None = None,
    user_location: Mapping[str, str] | None = None,
) -> ToolBuiltIn:
    """Let Claude search the web (R: ``claude_tool_web_search()``).

    Register it with ``chat.register_tool()``. Searches and their results
    come back in the answer as ``ContentToolRequestSearch`` and
    ``ContentToolResponseSearch``.
    """
    _domains(allowed_domains, blocked_domains, "claude_tool_web_search")
    if max_uses is not None and (not isinstance(max_uses, int) or max_uses < 1):
        raise ValueError("claude_tool_web_search(max_uses=) must be a whole number >= 1.")
    json = _compact(
        {
            "name": "web_search",
            "type": "web_search_20250305",
            "max_uses": max_uses,
            "allowed_domains": allowed_domains,
            "blocked_domains": blocked_domains,
            "user_location": dict(user_location) if user_location is not None else None,
        }
    )
    return ToolBuiltIn(
        name="web_search",
        json=json,
        description="Search the web for up-to-date information.",
        annotations={"title": "Web search", "read_only_hint": True, "open_world_hint": True},
    )


def claude_tool_web_fetch(
    max_uses: int | None = None,
    allowed_domains: Sequence[str] | None = None,
    blocked_domains: Sequence[str] | None = None,
    citations: bool = False,
    max_content_tokens: int | None = None,
) -> ToolBuiltIn:
    """Let Claude fetch URLs that appear in the conversation (R: ``claude_tool_web_fetch()``).

    The ``web-fetch-2025-09-10`` beta header it needs is added to requests
    that offer it.
    """
    _domains(allowed_domains, blocked_domains, "claude_tool_web_fetch")
    if not isinstance(citations, bool):
        raise ValueError("claude_tool_web_fetch(citations=) must be True or False.")
    json = _compact(
        {
            "name": "web_fetch",
            "type": "web_fetch_20250910",
            "max_uses": max_uses,
            "allowed_domains": allowed_domains,
            "blocked_domains": blocked_domains,
            "citations": {"enabled": citations},
            "max_content_tokens": max_content_tokens,
        }
    )
    return ToolBuiltIn(
        name="web_fetch",
        json=json,
        description="Fetch and analyze content from a web URL.",
        annotations={"title": "Web fetch", "read_only_hint": True, "open_world_hint": True},
    )


# -- prices ----------------------------------------------------------------------------

#: Anthropic's list prices, US dollars per million tokens: (model pattern, input,
#: output, cache read). Cache writes cost 1.25x input (5 minutes) or 2x (1 hour).
PRICES: tuple[tuple[str, float, float, float], ...] = (
    (r"claude-opus-4-[5-9].*|claude-opus-[5-9].*", 5.0, 25.0, 0.50),
    (r"claude-opus-4.*|claude-3-opus.*", 15.0, 75.0, 1.50),
    (r"claude-sonnet-.*|claude-3-7-sonnet.*|claude-3-5-sonnet.*", 3.0, 15.0, 0.30),
    (r"claude-haiku-4-[5-9].*|claude-haiku-[5-9].*", 1.0, 5.0, 0.10),
    (r"claude-3-5-haiku.*", 0.80, 4.0, 0.08),
    (r"claude-3-haiku.*", 0.25, 1.25, 0.03),
)


def price_of(model: str) -> Price | None:
    """The list price of a Claude model, or None for a model not in the table."""
    for pattern, input_price, output_price, cached in PRICES:
        if re.fullmatch(pattern, model):
            return Price(input_price, output_price, cached)
    return None


# -- models ----------------------------------------------------------------------------


@frozen
class AnthropicModel:
    """One model Anthropic serves, with its list price if known (R: a ``models_claude()`` row)."""

    id: str
    name: str
    created_at: str
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None


def models_anthropic(
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[AnthropicModel]:
    """The models Anthropic serves, newest first (R: ``models_anthropic()``, ``models_claude()``).

    Every page of ``GET models`` is read. Prices come from :data:`PRICES`.
    """
    reject_api_key("models_anthropic", api_key, env=ENV)
    headers = model_list_headers(
        "models_anthropic",
        _credentials(),
        credentials,
        {"anthropic-version": "2023-06-01", **dict(api_headers or {})},
        env=ENV,
        header="x-api-key",
        prefix="",
    )
    root = base_url.rstrip("/") + "/models?limit=1000"

    def next_page(doc: Mapping[str, Any], page: list[Mapping[str, Any]]) -> str | None:
        last = doc.get("last_id")
        return f"{root}&after_id={last}" if doc.get("has_more") and last else None

    rows = list_model_rows(
        "Anthropic", root, headers, next_page=next_page, max_tries=max_tries, timeout_s=timeout_s
    )
    models = []
    for row in rows:
        model_id = str(row.get("id", ""))
        models.append(
            AnthropicModel(
                id=model_id,
                name=str(row.get("display_name") or model_id),
                created_at=str(row.get("created_at") or ""),
                **price_columns(price_of(model_id)),
            )
        )
    return sorted(models, key=lambda m: m.created_at, reverse=True)


models_claude = models_anthropic


def _conformance_kwargs(base_url: str) -> Mapping[str, Any]:
    return {"base_url": base_url}


SPEC = ProviderSpec(
    name="anthropic",
    batch=BATCH,
    chat_function=chat_anthropic,
    protocol="anthropic-messages",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="Anthropic (api.anthropic.com), Messages API.",
    conformance_kwargs=_conformance_kwargs,
    models_function=models_anthropic,
)
CLAUDE_SPEC = ProviderSpec(
    name="claude",
    batch=BATCH,
    chat_function=chat_claude,
    protocol="anthropic-messages",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="Alias of anthropic (R: chat_claude()).",
    conformance_kwargs=_conformance_kwargs,
    models_function=models_claude,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_anthropic, and chat_claude as its alias."""
    register(SPEC)
    register(CLAUDE_SPEC)
