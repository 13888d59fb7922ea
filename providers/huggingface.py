"""Hugging Face Inference Providers through the router (R: ``chat_huggingface()``)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from attrs import frozen

from ellmer_py.plugin import (
    PARAM_NAMES,
    Chat,
    ChatArgs,
    Credentials,
    CredentialValue,
    Echo,
    ModelLimitation,
    OpenAIChat,
    Params,
    Price,
    Provider,
    ProviderSpec,
    SystemPromptFallback,
    build_chat,
    default_model,
    env_credentials,
    hookimpl,
    list_model_rows,
    model_list_headers,
    model_rows,
    newest_first,
    reject_api_key,
)

__all__ = [
    "HuggingFaceModel",
    "HuggingFaceModelProvider",
    "RouterPrices",
    "chat_huggingface",
    "models_huggingface",
]

DEFAULT_BASE_URL = "https://router.huggingface.co/v1"
DEFAULT_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
ENV = ("HUGGINGFACE_API_KEY", "HF_TOKEN")

#: The router documents ``max_tokens``, not ``max_completion_tokens``.
HF_PARAM_NAMES = {
    ("max_tokens" if k == "max_completion_tokens" else k): v for k, v in PARAM_NAMES.items()
}

LIMITATIONS = (
    ModelLimitation(
        pattern=r"google/gemma-2-.*",
        feature="system_prompt",
        advice="Gemma 2 chat templates have no system role: choose another model "
        "(for example meta-llama/Llama-3.1-8B-Instruct), or drop the system prompt",
        example="google/gemma-2-2b-it",
    ),
)

log = logging.getLogger("ellmer_py")


def hf_token_files() -> list[Path]:
    """Where ``huggingface-cli login`` keeps the token: ``$HF_HOME/token``."""
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface"
    )
    return [Path(home) / "token"]


def _default_credentials() -> Credentials:
    return env_credentials(
        "HuggingFace",
        ENV,
        token_files=hf_token_files,
        hint=" Create a token at https://huggingface.co/settings/tokens "
        '(with "Make calls to Inference Providers").',
    )


def _is_router(base_url: str) -> bool:
    return (urlsplit(base_url).hostname or "").lower() == "router.huggingface.co"


def chat_huggingface(
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
    pricing: bool | None = None,
) -> Chat:
    """Chat with a model on Hugging Face Inference Providers (R: ``chat_huggingface()``).

    The key comes from ``credentials``, else ``HUGGINGFACE_API_KEY``, else
    ``HF_TOKEN``, else the token file ``huggingface-cli login`` writes; it is
    read at request time. ``base_url`` points the same code at an Inference
    Endpoint, a local TGI or llama.cpp server, or any OpenAI-compatible server.

    Known limitation: some models lack parts of the chat interface; the
    Gemma 2 family has no system prompt, and asking for one raises
    ModelLimitationError before any request.

    Cost: each answer is priced from the router's own ``GET /models`` list,
    for the inference provider that served it (the ``x-inference-provider``
    header, or a ``model:provider`` suffix). The list is fetched once, when
    the first answer arrives; if it can't be read the cost stays None.
    ``pricing=None`` does this only for the router itself, ``True`` for any
    ``base_url`` that serves the same list, ``False`` never.
    """
    reject_api_key("chat_huggingface", api_key, env=ENV)
    if pricing is None:
        pricing = _is_router(base_url)
    return build_chat(
        "chat_huggingface",
        ChatArgs.of(locals()),
        name="HuggingFace",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=OpenAIChat(HF_PARAM_NAMES),
        default_credentials=_default_credentials(),
        limitations=LIMITATIONS,
        prices=RouterPrices() if pricing else None,
    )


# -- models and prices ---------------------------------------------------------


@frozen
class HuggingFaceModelProvider:
    """One inference provider serving a model through the router.

    Prices are US dollars per million tokens; None where the router gives none.
    """

    provider: str
    status: str | None = None
    context_length: int | None = None
    input_price: float | None = None
    output_price: float | None = None
    supports_tools: bool | None = None
    supports_structured_output: bool | None = None
    is_model_author: bool | None = None

    @property
    def price(self) -> Price | None:
        """The price as a :class:`ellmer_py.plugin.Price`, if both prices are known."""
        if self.input_price is None or self.output_price is None:
            return None
        return Price(self.input_price, self.output_price)


@frozen
class HuggingFaceModel:
    """A model the router serves, with the inference providers behind it."""

    id: str
    created_at: datetime | None = None
    owned_by: str | None = None
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()
    providers: tuple[HuggingFaceModelProvider, ...] = ()

    def provider(self, name: str) -> HuggingFaceModelProvider | None:
        """The entry for the inference provider ``name`` (case-insensitive), if it serves this."""
        return next((p for p in self.providers if p.provider.lower() == name.lower()), None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _whole(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _model_provider(doc: Mapping[str, Any]) -> HuggingFaceModelProvider | None:
    name = _text(doc.get("provider"))
    if not name:
        return None
    pricing = doc.get("pricing")
    pricing = pricing if isinstance(pricing, Mapping) else {}
    return HuggingFaceModelProvider(
        provider=name,
        status=_text(doc.get("status")),
        context_length=_whole(doc.get("context_length")),
        input_price=_number(pricing.get("input")),
        output_price=_number(pricing.get("output")),
        supports_tools=_flag(doc.get("supports_tools")),
        supports_structured_output=_flag(doc.get("supports_structured_output")),
        is_model_author=_flag(doc.get("is_model_author")),
    )


def _model(doc: Mapping[str, Any]) -> HuggingFaceModel | None:
    model_id = _text(doc.get("id"))
    if not model_id:
        return None
    created = _number(doc.get("created"))
    architecture = doc.get("architecture")
    architecture = architecture if isinstance(architecture, Mapping) else {}
    providers = doc.get("providers")
    entries = [
        _model_provider(p)
        for p in (providers if isinstance(providers, list) else [])
        if isinstance(p, Mapping)
    ]
    return HuggingFaceModel(
        id=model_id,
        created_at=datetime.fromtimestamp(created, tz=timezone.utc) if created else None,
        owned_by=_text(doc.get("owned_by")),
        input_modalities=_texts(architecture.get("input_modalities")),
        output_modalities=_texts(architecture.get("output_modalities")),
        providers=tuple(p for p in entries if p is not None),
    )


#: What a base_url that lacks the model list should have been.
_EXPECTED = f"the router's API root ({DEFAULT_BASE_URL})"


def _models(rows: list[Mapping[str, Any]]) -> list[HuggingFaceModel]:
    return newest_first([m for m in map(_model, rows) if m is not None])


def parse_models(doc: Any) -> list[HuggingFaceModel]:
    """The models of a ``GET /models`` answer, newest first (as R's ``models_*()`` sort)."""
    return _models(model_rows(doc, "HuggingFace", expected=_EXPECTED))


def models_huggingface(
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[HuggingFaceModel]:
    """The models the Hugging Face router serves (R: ``models_openai()`` and friends).

    One record per model, newest first, each listing its inference providers
    with their status, context length, prices (dollars per million tokens)
    and tool and structured-output support. The list is public: the key
    (found as for ``chat_huggingface()``) is sent when there is one.
    """
    reject_api_key("models_huggingface", api_key, env=ENV)
    headers = model_list_headers(
        "models_huggingface",
        _default_credentials(),
        credentials,
        api_headers,
        env=ENV,
        public=True,  # the model list needs no key
    )
    url = base_url.rstrip("/") + "/models"
    rows = list_model_rows(
        "HuggingFace", url, headers, expected=_EXPECTED, max_tries=max_tries, timeout_s=timeout_s
    )
    return _models(rows)


class RouterPrices:
    """Prices from the router's own ``GET /models``, read once, when first needed.

    The price of an answer is that of the inference provider that served it:
    the router names it in the ``x-inference-provider`` header, or the model
    id names it (``org/model:provider``). A list that can't be read leaves
    every answer unpriced; it is not asked for again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: dict[tuple[str, str], Price] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """The prices read so far, without the lock (a chat pickles)."""
        return {"_table": self._table}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    def price(self, provider: Provider, headers: Mapping[str, str]) -> Price | None:
        """The price of ``provider.model`` as served by the upstream provider in ``headers``."""
        model, _, suffix = provider.model.partition(":")
        upstream = (headers.get("x-inference-provider") or suffix).strip().lower()
        if not upstream:
            return None
        return self._prices(provider).get((model.lower(), upstream))

    def _prices(self, provider: Provider) -> dict[tuple[str, str], Price]:
        with self._lock:
            if self._table is None:
                self._table = {}
                url = provider.base_url.rstrip("/") + "/models"
                try:
                    doc = provider.transport.request_json(
                        "GET", url, headers=provider.auth_only_headers()
                    )
                    for model in parse_models(doc):
                        for entry in model.providers:
                            if entry.price is not None:
                                key = (model.id.lower(), entry.provider.lower())
                                self._table[key] = entry.price
                except Exception as exc:  # never break a chat for a price
                    log.info("HuggingFace: no prices (GET /models failed: %s).", exc)
            return self._table


SPEC = ProviderSpec(
    name="huggingface",
    chat_function=chat_huggingface,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=(*ENV, "$HF_HOME/token"),
    credential_env=ENV,
    limitations=LIMITATIONS,
    description="Hugging Face Inference Providers (router.huggingface.co), OpenAI-compatible.",
    models_function=models_huggingface,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_huggingface."""
    register(SPEC)
