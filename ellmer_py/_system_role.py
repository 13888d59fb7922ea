"""A model without a system role: the one error for it, and how servers say so.

Some chat templates (Gemma 2's, for one) have no system role. A plugin may
declare it for a model (``ModelLimitation``), and ``Chat`` refuses before
any request; otherwise the server says so, with 400 or 422 (TGI, vLLM) or
500 (llama.cpp, llama-cpp-python), and ``Provider`` raises the same error
when the request carried a system prompt.
"""

from __future__ import annotations

import re

from ._errors import ModelLimitationError

__all__ = ["is_system_role_error", "system_prompt_error"]

_SYSTEM_ROLE_ERROR = re.compile(
    r"system[ _-]?(role|prompt|message)s?[^.]{0,40}\bnot\b[^.]{0,20}\bsupported"
    r"|conversation roles must alternate user/assistant",
    re.IGNORECASE,
)


def is_system_role_error(message: str | None) -> bool:
    """Whether a server's error says the model's chat template has no system role."""
    return bool(message) and bool(_SYSTEM_ROLE_ERROR.search(message or ""))


def system_prompt_error(
    provider: str,
    model: str,
    advice: str = "",
    *,
    cause: str | None = None,
    status: int | None = None,
) -> ModelLimitationError:
    """The one error for "this model does not take a system prompt"."""
    said = f" The server said: {cause.rstrip('.')}." if cause else ""
    advice = advice or "Choose another model, or drop the system prompt"
    return ModelLimitationError(
        f"{provider}: the model {model!r} does not support a system prompt.{said} "
        f"{advice.rstrip('.')}, or pass system_prompt_fallback='merge' to fold the system "
        "prompt into the first user turn.",
        model=model,
        feature="system_prompt",
        provider=provider,
        status=status,
        server_message=cause,
    )
