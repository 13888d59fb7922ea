"""OpenAI's models on the Responses API (R: ``chat_openai()``, R/provider-openai.R)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from attrs import frozen

from ellmer_py.plugin import (
    AssistantTurn,
    Chat,
    ChatArgs,
    CredentialValue,
    Echo,
    OpenAIBatch,
    OpenAIResponses,
    Params,
    Price,
    Provider,
    ProviderSpec,
    SystemPromptFallback,
    ToolBuiltIn,
    build_chat,
    default_model,
    env_credentials,
    hookimpl,
    list_model_rows,
    model_list_headers,
    newest_first,
    price_columns,
    reject_api_key,
    token_cost,
    unix_time,
)

__all__ = [
    "LIST_PRICES",
    "OpenAIModel",
    "OpenAIPrices",
    "chat_openai",
    "models_openai",
    "openai_tool_web_search",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-5.6-terra"
#: The Batch API, for the Responses endpoint (R: batch_submit() for ProviderOpenAI).
BATCH = OpenAIBatch(endpoint="/v1/responses")
ENV = ("OPENAI_API_KEY",)
_HINT = " Create a key at https://platform.openai.com/api-keys."


def _credentials() -> Callable[[], CredentialValue]:
    return env_credentials("OpenAI", ENV, hint=_HINT)


def chat_openai(
    system_prompt: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    model: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    api_headers: Mapping[str, str] | None = None,
    service_tier: str = "auto",
    echo: Echo | bool | None = None,
    *,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with an OpenAI model on the Responses API (R: ``chat_openai()``).

    The key comes from ``credentials`` or ``OPENAI_API_KEY``, read at request
    time, and is sent as a Bearer token. Requests go to ``POST responses``
    with ``store: false`` and ``service_tier`` ("auto", "default", "flex" or
    "priority"). The default model is ``gpt-5.6-terra``. Reasoning items come
    back as ``ContentThinking`` (their summary as the text, the item whole in
    ``extra``) and are sent back on the next request. For another
    chat-completions server, use ``chat_openai_compatible()``.
    """
    reject_api_key("chat_openai", api_key, env=ENV)
    protocol = OpenAIResponses(service_tier=service_tier)
    return build_chat(
        "chat_openai",
        ChatArgs.of(locals()),
        name="OpenAI",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=protocol,
        default_credentials=_credentials(),
        prices=OpenAIPrices(service_tier),
        batch=BATCH,
    )


# -- built-in tools ------------------------------------------------------------------


def openai_tool_web_search(
    allowed_domains: Sequence[str] | None = None,
    user_location: Mapping[str, str] | None = None,
    external_web_access: bool = True,
) -> ToolBuiltIn:
    """Let an OpenAI model search the web (R: ``openai_tool_web_search()``).

    Register it with ``chat.register_tool()``. ``allowed_domains`` (at most
    20; ``http(s)://`` is stripped) restricts the search; ``user_location``
    (``country``, ``city``, ``region``, ``timezone``) localizes it. Searches
    come back as ``ContentToolRequestSearch`` and the citations as the
    ``annotations`` in the answer text's ``extra``.
    """
    if allowed_domains is not None and (
        isinstance(allowed_domains, str) or not all(isinstance(d, str) for d in allowed_domains)
    ):
        raise ValueError("openai_tool_web_search(allowed_domains=) must be a list of strings.")
    if not isinstance(external_web_access, bool):
        raise ValueError("openai_tool_web_search(external_web_access=) must be True or False.")
    json: dict[str, Any] = {"type": "web_search"}
    if allowed_domains is not None:
        json["filters"] = {
            "allowed_domains": [re.sub(r"^https?://", "", d) for d in allowed_domains]
        }
    if user_location is not None:
        json["user_location"] = dict(user_location)
    json["external_web_access"] = external_web_access
    return ToolBuiltIn(
        name="web_search",
        json=json,
        description="Search the web for up-to-date information.",
        annotations={"title": "Web search", "read_only_hint": True, "open_world_hint": True},
    )


# -- prices ----------------------------------------------------------------------------

_DATED = r"(-\d{4}-\d{2}-\d{2})?"

#: OpenAI's public list prices, US dollars per million tokens, by service tier:
#: (model pattern, tier, input, output, cached input). "standard" is the
#: price of the "default" and "auto" tiers; a tier a model is not listed for
#: leaves its answers unpriced. Patterns are tried in order.
LIST_PRICES: tuple[tuple[str, str, float, float, float | None], ...] = (
    # R's default model (R's price table, data-raw/prices.json)
    ("gpt-5.6-terra", "standard", 2.0, 12.0, 0.2),
    ("gpt-5.6-terra", "priority", 4.0, 24.0, 0.4),
    ("gpt-5.6-terra", "flex", 1.0, 6.0, 0.1),
    ("gpt-5.2-pro", "standard", 21.0, 168.0, None),
    ("gpt-5-pro", "standard", 15.0, 120.0, None),
    ("gpt-5.2(-chat-latest|-codex)?", "standard", 1.75, 14.0, 0.175),
    ("gpt-5.2(-codex)?", "priority", 3.5, 28.0, 0.35),
    ("gpt-5.2", "flex", 0.875, 7.0, 0.0875),
    ("gpt-5(\\.1)?-mini|gpt-5-codex-mini|gpt-5.1-codex-mini", "standard", 0.25, 2.0, 0.025),
    ("gpt-5(\\.1)?-mini", "priority", 0.45, 3.6, 0.045),
    ("gpt-5(\\.1)?-mini", "flex", 0.125, 1.0, 0.0125),
    ("gpt-5(\\.1)?-nano", "standard", 0.05, 0.40, 0.005),
    ("gpt-5(\\.1)?-nano", "flex", 0.025, 0.20, 0.0025),
    ("gpt-5(\\.1)?(-chat-latest|-codex|-codex-max)?", "standard", 1.25, 10.0, 0.125),
    ("gpt-5(\\.1)?(-codex)?", "priority", 2.5, 20.0, 0.25),
    ("gpt-5(\\.1)?", "flex", 0.625, 5.0, 0.0625),
    ("gpt-4.1-nano", "standard", 0.10, 0.40, 0.025),
    ("gpt-4.1-nano", "priority", 0.20, 0.80, 0.05),
    ("gpt-4.1-mini", "standard", 0.40, 1.60, 0.10),
    ("gpt-4.1-mini", "priority", 0.70, 2.80, 0.175),
    ("gpt-4.1", "standard", 2.0, 8.0, 0.50),
    ("gpt-4.1", "priority", 3.5, 14.0, 0.875),
    ("gpt-4o-mini", "standard", 0.15, 0.60, 0.075),
    ("gpt-4o-mini", "priority", 0.25, 1.0, 0.125),
    ("gpt-4o|chatgpt-4o-latest", "standard", 2.5, 10.0, 1.25),
    ("gpt-4o", "priority", 4.25, 17.0, 2.125),
    ("o4-mini", "standard", 1.10, 4.40, 0.275),
    ("o4-mini", "priority", 2.0, 8.0, 0.50),
    ("o4-mini", "flex", 0.55, 2.20, 0.138),
    ("o3-pro", "standard", 20.0, 80.0, None),
    ("o3-mini|o1-mini", "standard", 1.10, 4.40, 0.55),
    ("o3", "standard", 2.0, 8.0, 0.50),
    ("o3", "priority", 3.5, 14.0, 0.875),
    ("o3", "flex", 1.0, 4.0, 0.25),
    ("o1-pro", "standard", 150.0, 600.0, None),
    ("o1", "standard", 15.0, 60.0, 7.50),
)
_COMPILED = tuple(
    (re.compile(f"(?:{pattern}){_DATED}"), tier, i, o, c) for pattern, tier, i, o, c in LIST_PRICES
)


def price_of(model: str, service_tier: str | None = "default") -> Price | None:
    """The list price of ``model`` in ``service_tier``, or None when it is not in the table."""
    tier = "standard" if service_tier in (None, "", "auto", "default", "standard") else service_tier
    for pattern, row_tier, input_price, output_price, cached in _COMPILED:
        if row_tier == tier and pattern.fullmatch(model):
            return Price(input_price, output_price, cached)
    return None


class OpenAIPrices:
    """Prices from :data:`LIST_PRICES`, by the model and the tier that served the answer."""

    def __init__(self, service_tier: str = "auto") -> None:
        self.service_tier = service_tier

    def price(self, provider: Provider, headers: Mapping[str, str]) -> Price | None:
        """The price of ``provider.model`` in the requested tier."""
        return price_of(provider.model, self.service_tier)

    def cost(
        self, provider: Provider, turn: AssistantTurn, headers: Mapping[str, str]
    ) -> float | None:
        """An answer's tokens at its model's price in the tier that served it (R: value_turn)."""
        if turn.tokens is None:
            return None
        doc = turn.json if isinstance(turn.json, Mapping) else {}
        tier = doc.get("service_tier")
        tier = tier if isinstance(tier, str) and tier else self.service_tier
        served = doc.get("model")
        price = None
        if isinstance(served, str) and served:
            price = price_of(served, tier)
        price = price or price_of(provider.model, tier)
        return token_cost(turn.tokens, price) if price is not None else None


# -- models ----------------------------------------------------------------------------


@frozen
class OpenAIModel:
    """One model OpenAI serves, with its list price if known (R: a ``models_openai()`` row)."""

    id: str
    created_at: datetime | None
    owned_by: str
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None


def models_openai(
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[OpenAIModel]:
    """The models OpenAI serves, newest first (R: ``models_openai()``).

    From ``GET models``; prices (standard tier) come from :data:`LIST_PRICES`.
    """
    reject_api_key("models_openai", api_key, env=ENV)
    headers = model_list_headers("models_openai", _credentials(), credentials, api_headers, env=ENV)
    url = base_url.rstrip("/") + "/models"
    rows = list_model_rows("OpenAI", url, headers, max_tries=max_tries, timeout_s=timeout_s)
    models = [
        OpenAIModel(
            id=row["id"],
            created_at=unix_time(row.get("created")),
            owned_by=row["owned_by"] if isinstance(row.get("owned_by"), str) else "",
            **price_columns(price_of(row["id"])),
        )
        for row in rows
        if isinstance(row.get("id"), str)
    ]
    return newest_first(models)


def _conformance_kwargs(base_url: str) -> Mapping[str, Any]:
    return {"base_url": base_url}


SPEC = ProviderSpec(
    name="openai",
    batch=BATCH,
    chat_function=chat_openai,
    protocol="openai-responses",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    description="OpenAI (api.openai.com), Responses API.",
    conformance_kwargs=_conformance_kwargs,
    models_function=models_openai,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_openai."""
    register(SPEC)
