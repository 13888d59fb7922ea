"""ellmer-py: chat with large language models from Python, a port of R's ellmer.

``chat_huggingface()`` and ``chat_openai_compatible()`` are built-in
provider plugins; ``chat("provider/model")`` finds any installed provider.
Heavy modules (urllib3, cattrs, pluggy) load on first use, not on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._chat import Chat
from ._content import (
    Content,
    ContentImage,
    ContentImageInline,
    ContentImageRemote,
    ContentJson,
    ContentPDF,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
)
from ._errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectionCutError,
    DeprecatedArgumentError,
    EllmerError,
    HTTPStatusError,
    MalformedResponseError,
    MissingCredentialsError,
    ModelLimitationError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    StreamError,
    StreamErrorEvent,
    ToolError,
    TransportError,
)
from ._modify_list import modify_list
from ._params import Params, params
from ._provider import ModelLimitation, Provider
from ._registry import ProviderSpec, chat, get_provider_spec, list_providers
from ._serialize import contents_record, contents_replay
from ._turn import AssistantPartialTurn, AssistantTurn, SystemTurn, Tokens, Turn, UserTurn

if TYPE_CHECKING:
    from ._hookspecs import hookimpl
    from .providers.huggingface import chat_huggingface
    from .providers.openai_compatible import chat_openai_compatible

__version__ = "0.1.0"

__all__ = [
    "AssistantPartialTurn",
    "AssistantTurn",
    "AuthenticationError",
    "BadRequestError",
    "Chat",
    "ConfigurationError",
    "ConnectionCutError",
    "Content",
    "ContentImage",
    "ContentImageInline",
    "ContentImageRemote",
    "ContentJson",
    "ContentPDF",
    "ContentText",
    "ContentThinking",
    "ContentToolRequest",
    "ContentToolResult",
    "DeprecatedArgumentError",
    "EllmerError",
    "HTTPStatusError",
    "MalformedResponseError",
    "MissingCredentialsError",
    "ModelLimitation",
    "ModelLimitationError",
    "NotFoundError",
    "Params",
    "PaymentRequiredError",
    "Provider",
    "ProviderSpec",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "StreamError",
    "StreamErrorEvent",
    "SystemTurn",
    "Tokens",
    "ToolError",
    "TransportError",
    "Turn",
    "UserTurn",
    "chat",
    "chat_huggingface",
    "chat_openai_compatible",
    "contents_record",
    "contents_replay",
    "get_provider_spec",
    "hookimpl",
    "list_providers",
    "modify_list",
    "params",
]


def __getattr__(name: str) -> Any:
    """Load ``hookimpl`` and ``chat_<provider>`` constructors on first use.

    Any registered provider's constructor is reachable here by its function
    name, so ``from ellmer_py import chat_huggingface`` goes through the
    same registry as a third-party plugin.
    """
    if name == "hookimpl":
        from ._hookspecs import hookimpl

        return hookimpl
    if name.startswith("chat_"):
        from ._registry import list_providers as _names

        for provider in _names():
            function = get_provider_spec(provider).chat_function
            if getattr(function, "__name__", None) == name:
                return function
        # A built-in left out by ELLMER_PY_PLUGINS is still importable by name
        # (a third-party plugin may build on chat_openai_compatible).
        module = _BUILTIN_CONSTRUCTORS.get(name)
        if module is not None:
            import importlib

            return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'ellmer_py' has no attribute {name!r}")


_BUILTIN_CONSTRUCTORS = {
    "chat_huggingface": "ellmer_py.providers.huggingface",
    "chat_openai_compatible": "ellmer_py.providers.openai_compatible",
}


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
