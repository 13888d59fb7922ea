"""Models hosted on DeepSeek (R: ``chat_deepseek()``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from attrs import frozen

from ellmer_py.plugin import (
    Chat,
    ChatArgs,
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
    hookimpl,
    list_model_rows,
    model_list_headers,
    reject_api_key,
)

__all__ = ["DeepSeekModel", "chat_deepseek", "models_deepseek"]

DEFAULT_BASE_URL = "https://api.deepseek.com"
DEFAULT_MODEL = "deepseek-v4-flash"
ENV = ("DEEPSEEK_API_KEY",)
_HINT = " Create a key at https://platform.deepseek.com/api_keys."


def _credentials() -> Callable[[], CredentialValue]:
    return env_credentials("DeepSeek", ENV, hint=_HINT)


#: R's ``chat_params`` for DeepSeek: ``max_tokens``, and no ``seed``.
DEEPSEEK_PARAM_NAMES = {
    "frequency_penalty": "frequency_penalty",
    "max_tokens": "max_tokens",
    "presence_penalty": "presence_penalty",
    "stop": "stop_sequences",
    "temperature": "temperature",
    "top_p": "top_p",
    "logprobs": "log_probs",
    "top_logprobs": "top_k",
}

_TEXT_ONLY = (
    "DeepSeek's chat API takes text only: describe the content in words, or use another provider"
)

#: R documents "Images are not supported" (and R drops anything but text) and
#: "Structured data extraction is not supported".
LIMITATIONS = (
    ModelLimitation(pattern=r".*", feature="images", advice=_TEXT_ONLY, example=DEFAULT_MODEL),
    ModelLimitation(pattern=r".*", feature="pdf", advice=_TEXT_ONLY, example=DEFAULT_MODEL),
    ModelLimitation(
        pattern=r".*",
        feature="structured_output",
        advice="DeepSeek does not take a JSON schema (response_format json_schema): ask for "
        "JSON in the prompt with chat(), or use another provider for chat_structured()",
        example=DEFAULT_MODEL,
    ),
)


def chat_deepseek(
    system_prompt: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    model: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    echo: Echo | bool | None = None,
    api_headers: Mapping[str, str] | None = None,
    *,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a model hosted on DeepSeek (R: ``chat_deepseek()``).

    Sign up at https://platform.deepseek.com. The key comes from
    ``credentials`` or ``DEEPSEEK_API_KEY``, read at request time. The
    model's reasoning (``reasoning_content``) is kept as thinking in the
    turn and, as in R, not sent back.

    Known limitations (from R): images and PDFs are not supported, nor is
    structured data extraction; asking for them (or calling
    ``chat_structured()``) raises ModelLimitationError before any request.
    """
    reject_api_key("chat_deepseek", api_key, env=ENV)
    return build_chat(
        "chat_deepseek",
        ChatArgs.of(locals()),
        name="DeepSeek",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=OpenAIChat(DEEPSEEK_PARAM_NAMES),
        default_credentials=_credentials(),
        limitations=LIMITATIONS,
    )


# -- models ----------------------------------------------------------------------------


@frozen
class DeepSeekModel:
    """One model DeepSeek serves (R: a ``models_deepseek()`` row)."""

    id: str
    owned_by: str


def models_deepseek(
    base_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> list[DeepSeekModel]:
    """The models DeepSeek serves, in DeepSeek's order (R: ``models_deepseek()``).

    From ``GET models``, with the key found as for ``chat_deepseek()``. R's
    price table has no DeepSeek prices, so (unlike R's always-empty price
    columns) the records carry none.
    """
    reject_api_key("models_deepseek", api_key, env=ENV)
    headers = model_list_headers(
        "models_deepseek", _credentials(), credentials, api_headers, env=ENV
    )
    url = base_url.rstrip("/") + "/models"
    rows = list_model_rows(
        "DeepSeek",
        url,
        headers,
        expected=f"the API root ({DEFAULT_BASE_URL})",
        max_tries=max_tries,
        timeout_s=timeout_s,
    )
    return [
        DeepSeekModel(
            id=row["id"],
            owned_by=row["owned_by"] if isinstance(row.get("owned_by"), str) else "",
        )
        for row in rows
        if isinstance(row.get("id"), str)
    ]


SPEC = ProviderSpec(
    name="deepseek",
    chat_function=chat_deepseek,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    limitations=LIMITATIONS,
    description="DeepSeek (api.deepseek.com), OpenAI-compatible; text only.",
    models_function=models_deepseek,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_deepseek."""
    register(SPEC)
