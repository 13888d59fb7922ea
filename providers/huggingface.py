"""Hugging Face Inference Providers through the router (R: ``chat_huggingface()``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ellmer_py import Chat, ModelLimitation, Params, Provider, ProviderSpec, hookimpl
from ellmer_py._chat import SystemPromptFallback
from ellmer_py._credentials import CredentialValue, as_credentials, env_credentials, reject_api_key
from ellmer_py._echo import Echo
from ellmer_py._openai_chat import PARAM_NAMES, OpenAIChat

__all__ = ["chat_huggingface"]

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
    ),
)

log = logging.getLogger("ellmer_py")


def hf_token_files() -> list[Path]:
    """Where ``huggingface-cli login`` keeps the token: ``$HF_HOME/token``."""
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface"
    )
    return [Path(home) / "token"]


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
) -> Chat:
    """Chat with a model on Hugging Face Inference Providers (R: ``chat_huggingface()``).

    The key comes from ``credentials``, else ``HUGGINGFACE_API_KEY``, else
    ``HF_TOKEN``, else the token file ``huggingface-cli login`` writes; it is
    read at request time. ``base_url`` points the same code at an Inference
    Endpoint, a local TGI or llama.cpp server, or any OpenAI-compatible server.

    Known limitation: some models lack parts of the chat interface; the
    Gemma 2 family has no system prompt, and asking for one raises
    ModelLimitationError before any request.
    """
    from ellmer_py._transport import Transport

    reject_api_key("chat_huggingface", api_key, env=ENV)
    if model is None:
        model = DEFAULT_MODEL
        log.info("Using model = %r.", model)
    creds = as_credentials(
        "chat_huggingface",
        env_credentials(
            "HuggingFace",
            ENV,
            token_files=hf_token_files,
            hint=" Create a token at https://huggingface.co/settings/tokens "
            '(with "Make calls to Inference Providers").',
        ),
        credentials,
        api_key,
        env=ENV,
    )
    provider = Provider(
        name="HuggingFace",
        model=model,
        base_url=base_url,
        protocol=OpenAIChat(HF_PARAM_NAMES),
        params=params,
        api_args=api_args if api_args is not None else {},
        api_headers=api_headers if api_headers is not None else {},
        credentials=creds,
        limitations=LIMITATIONS,
        transport=Transport("HuggingFace", max_tries=max_tries, timeout_s=timeout_s),
    )
    return Chat(provider, system_prompt, echo, system_prompt_fallback=system_prompt_fallback)


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
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_huggingface."""
    register(SPEC)
