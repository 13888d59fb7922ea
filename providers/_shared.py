"""Pieces shared by the OpenAI-compatible provider plugins (not a public API).

Each plugin module keeps its own defaults, its R-shaped signature and its
ProviderSpec; what they all do the same way (say which default model is
used, insist on a model where there is no default, build the Provider and
the Chat) lives here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ellmer_py import Chat, ModelLimitation, Params, Provider
from ellmer_py._chat import SystemPromptFallback
from ellmer_py._credentials import Credentials
from ellmer_py._echo import Echo
from ellmer_py._errors import ConfigurationError
from ellmer_py._openai_chat import OpenAIChat

__all__ = ["build_chat", "default_model", "env_setting", "require_model", "with_defaults"]

log = logging.getLogger("ellmer_py")


def default_model(model: str | None, default: str) -> str:
    """``model``, or the provider's default with a note that it was used (R: ``set_default()``)."""
    if model is None:
        log.info("Using model = %r.", default)
        return default
    return model


def require_model(function: str, model: str | None, what: str) -> str:
    """``model``, or a clear error for a provider that has no default model."""
    if model is None or not isinstance(model, str) or not model.strip():
        raise ConfigurationError(f"{function}() needs model=, {what}: it has no default.")
    return model


def env_setting(value: str | None, env: str) -> str | None:
    """An argument, else the environment variable, else None (empty counts as unset)."""
    if value is not None:
        return value
    found = os.environ.get(env, "").strip()
    return found or None


def with_defaults(defaults: Mapping[str, str], headers: Mapping[str, str] | None) -> dict[str, str]:
    """The provider's default headers, overridden (case-insensitively) by the user's."""
    if headers is None:
        return dict(defaults)
    if not isinstance(headers, Mapping):
        return headers  # not a dict: Provider rejects it with a clear message
    given = {str(k).lower() for k in headers}
    return {**{k: v for k, v in defaults.items() if k.lower() not in given}, **headers}


def build_chat(
    *,
    name: str,
    model: str,
    base_url: str,
    protocol: OpenAIChat,
    credentials: Credentials | None,
    params: Params | None,
    api_args: Mapping[str, Any] | None,
    api_headers: Mapping[str, str] | None,
    system_prompt: str | None,
    echo: Echo | bool | None,
    system_prompt_fallback: SystemPromptFallback,
    max_tries: int | None,
    timeout_s: float | None,
    limitations: Sequence[ModelLimitation] = (),
    auth_header: str = "Authorization",
    auth_prefix: str = "Bearer ",
    url_params: Mapping[str, str] | None = None,
    user_agent: str | None = None,
) -> Chat:
    """The Provider and the Chat every OpenAI-compatible plugin builds the same way."""
    from ellmer_py._transport import Transport  # urllib3 loads on first use, not on import

    transport_options: dict[str, Any] = {"max_tries": max_tries, "timeout_s": timeout_s}
    if user_agent is not None:
        transport_options["user_agent"] = user_agent
    provider = Provider(
        name=name,
        model=model,
        base_url=base_url,
        protocol=protocol,
        params=params,
        api_args=api_args if api_args is not None else {},
        api_headers=api_headers if api_headers is not None else {},
        credentials=credentials,
        auth_header=auth_header,
        auth_prefix=auth_prefix,
        limitations=limitations,
        url_params=url_params if url_params is not None else {},
        transport=Transport(name, **transport_options),
    )
    return Chat(provider, system_prompt, echo, system_prompt_fallback=system_prompt_fallback)
