"""GitHub Models, retired by GitHub (R: ``chat_github()`` and ``models_github()``, defunct)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from ellmer_py.plugin import (
    ConfigurationError,
    CredentialValue,
    DeprecatedArgumentError,
    Echo,
    Params,
    ProviderSpec,
    SystemPromptFallback,
    hookimpl,
)

__all__ = ["chat_github", "models_github"]

DEFAULT_BASE_URL = "https://models.github.ai/inference"
DEFAULT_MODEL = "gpt-5"
#: R's ``models_github()`` default: the catalog lived beside the inference API.
DEFAULT_MODELS_URL = "https://models.github.ai/"


def _retired(function: str) -> str:
    return (
        f"GitHub Models was retired on 2026-07-30, so {function}() no longer works "
        "(R's ellmer made it defunct too). Use another provider instead, for example "
        "chat_huggingface(), chat_groq() or chat_openrouter(); any other server that speaks "
        "the OpenAI chat API works with chat_openai_compatible(base_url=..., model=...)."
    )


RETIRED = _retired("chat_github")
MODELS_RETIRED = _retired("models_github")


def chat_github(
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
) -> NoReturn:
    """Always raises: GitHub retired GitHub Models (R: ``chat_github()``, defunct).

    Raises ConfigurationError saying so and what to use instead; given
    ``api_key=``, the error is a DeprecatedArgumentError (as for every
    provider) with the same advice.
    """
    if api_key is not None:
        raise DeprecatedArgumentError(
            f"chat_github(api_key=...) is not accepted by ellmer-py, and the service is gone: "
            f"{RETIRED}"
        )
    raise ConfigurationError(RETIRED)


def models_github(
    base_url: str = DEFAULT_MODELS_URL,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    *,
    api_headers: Mapping[str, str] | None = None,
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> NoReturn:
    """Always raises: GitHub retired GitHub Models (R: ``models_github()``, defunct).

    Raises ConfigurationError saying so and what to use instead (every
    other ``models_<name>()`` lists a live catalog); given ``api_key=``, the
    error is a DeprecatedArgumentError (as for every provider) with the
    same advice. Nothing is sent.
    """
    if api_key is not None:
        raise DeprecatedArgumentError(
            f"models_github(api_key=...) is not accepted by ellmer-py, and the service is "
            f"gone: {MODELS_RETIRED}"
        )
    raise ConfigurationError(MODELS_RETIRED)


SPEC = ProviderSpec(
    name="github",
    chat_function=chat_github,
    protocol="openai-chat",
    default_base_url=DEFAULT_BASE_URL,
    default_model=DEFAULT_MODEL,
    description="GitHub Models: retired by GitHub on 2026-07-30.",
    retired=RETIRED,
    models_function=models_github,
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_github, which only says that the service is retired."""
    register(SPEC)
