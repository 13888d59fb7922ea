"""The public API for provider plugins: everything a ``chat_<name>()`` package imports.

A provider package needs nothing from ellmer-py's private modules; the
built-in providers (``ellmer_py.providers.*``) import from here too, so a
third party builds on exactly what they build on::

    from ellmer_py.plugin import (
        Chat, OpenAIChat, ProviderSpec, build_chat, default_model,
        env_credentials, hookimpl, reject_api_key,
    )

    def chat_example(system_prompt=None, params=None, api_key=None,
                     credentials=None, model=None, ...) -> Chat:
        reject_api_key("chat_example", api_key, env=("EXAMPLE_API_KEY",))
        return build_chat(
            "chat_example", name="Example",
            model=default_model(model, "example-large"),
            base_url=base_url, protocol=OpenAIChat(),
            credentials=credentials,
            default_credentials=env_credentials("Example", ("EXAMPLE_API_KEY",)),
            params=params, ...,
        )

    @hookimpl
    def ellmer_py_register_providers(register):
        register(ProviderSpec(name="example", chat_function=chat_example, ...))

A ``models_<name>()`` builds on ``list_model_rows()`` (one GET, or every
page, of a model list), ``model_list_headers()``, ``unix_time()``,
``newest_first()`` and ``price_columns()``, and is registered as
``ProviderSpec(models_function=...)`` so ``Provider.list_models()`` finds it.
A provider with a list price table (``PriceTable``, matched by
``table_price()``) passes ``build_chat(prices=ModelPrices(lookup))``;
``ClaudePrices(lookup, cache)`` adds Claude's cache-write surcharge. A
provider that signs users in with the OAuth device flow passes a
``DeviceFlowCredentials`` as its ``default_credentials``.

A provider with a batch API passes a ``BatchApi`` (``OpenAIBatch``,
``AnthropicBatch``, ``GeminiBatch``, or its own: pure steps that yield
``BatchCall`` and are sent ``BatchAnswer``) to ``build_chat(batch=)`` and
names it in ``ProviderSpec(batch=)``; ``batch_chat()`` then works with it.

Importing this module loads pluggy (for ``hookimpl``); ``import ellmer_py``
does not import it. The protocol classes and the AWS credential chain load
when first named, so a provider pays only for the protocol it speaks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._aws_auth import AwsCredentialValue, SigV4Auth, aws_credentials
from ._build import (
    ChatArgs,
    build_chat,
    default_model,
    env_setting,
    require_model,
    server_root,
    with_defaults,
)
from ._chat import Chat, SystemPromptFallback
from ._credentials import (
    Credentials,
    CredentialValue,
    as_credentials,
    auth_headers,
    env_credentials,
    reject_api_key,
)
from ._echo import Echo
from ._errors import (
    ConfigurationError,
    DeprecatedArgumentError,
    MalformedResponseError,
    MissingCredentialsError,
)
from ._hookspecs import hookimpl
from ._models_list import (
    list_model_rows,
    model_list_headers,
    model_rows,
    newest_first,
    price_columns,
    unix_time,
)
from ._params import Params
from ._protocols import Auth, StreamDecoder, WireProtocol, WireRequest
from ._protocols.batch import BatchAnswer, BatchApi, BatchCall, BatchStatus, ItemResult
from ._provider import ModelLimitation, Provider
from ._registry import ProtocolSpec, ProviderSpec
from ._sigv4 import AwsCredentials
from ._tokens import (
    ClaudePrices,
    ModelPrices,
    Price,
    PriceSource,
    PriceTable,
    table_price,
    token_cost,
)
from ._tools import ToolBuiltIn
from ._transport import Transport
from ._turn import AssistantTurn

if TYPE_CHECKING:
    from ._aws_credentials import AwsCredentialChain, resolve_region
    from ._oauth_device import DeviceFlowCredentials
    from ._protocols.anthropic import AnthropicMessages
    from ._protocols.batch_anthropic import AnthropicBatch
    from ._protocols.batch_gemini import GeminiBatch
    from ._protocols.batch_openai import OpenAIBatch
    from ._protocols.bedrock import BedrockConverse
    from ._protocols.gemini import GeminiProtocol
    from ._protocols.openai_chat import PARAM_NAMES, OpenAIChat
    from ._protocols.openai_responses import OpenAIResponses

#: Loaded on first use: name -> module.
_LAZY = {
    "AnthropicBatch": "._protocols.batch_anthropic",
    "AnthropicMessages": "._protocols.anthropic",
    "GeminiBatch": "._protocols.batch_gemini",
    "OpenAIBatch": "._protocols.batch_openai",
    "AwsCredentialChain": "._aws_credentials",
    "BedrockConverse": "._protocols.bedrock",
    "DeviceFlowCredentials": "._oauth_device",
    "GeminiProtocol": "._protocols.gemini",
    "OpenAIChat": "._protocols.openai_chat",
    "OpenAIResponses": "._protocols.openai_responses",
    "PARAM_NAMES": "._protocols.openai_chat",
    "resolve_region": "._aws_credentials",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ellmer_py.plugin' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __package__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "PARAM_NAMES",
    "AnthropicBatch",
    "AnthropicMessages",
    "AssistantTurn",
    "Auth",
    "AwsCredentialChain",
    "AwsCredentialValue",
    "AwsCredentials",
    "BatchAnswer",
    "BatchApi",
    "BatchCall",
    "BatchStatus",
    "BedrockConverse",
    "Chat",
    "ChatArgs",
    "ClaudePrices",
    "ConfigurationError",
    "CredentialValue",
    "Credentials",
    "DeprecatedArgumentError",
    "DeviceFlowCredentials",
    "Echo",
    "GeminiBatch",
    "GeminiProtocol",
    "ItemResult",
    "MalformedResponseError",
    "MissingCredentialsError",
    "ModelLimitation",
    "ModelPrices",
    "OpenAIBatch",
    "OpenAIChat",
    "OpenAIResponses",
    "Params",
    "Price",
    "PriceSource",
    "PriceTable",
    "ProtocolSpec",
    "Provider",
    "ProviderSpec",
    "SigV4Auth",
    "StreamDecoder",
    "SystemPromptFallback",
    "ToolBuiltIn",
    "Transport",
    "WireProtocol",
    "WireRequest",
    "as_credentials",
    "auth_headers",
    "aws_credentials",
    "build_chat",
    "default_model",
    "env_credentials",
    "env_setting",
    "hookimpl",
    "list_model_rows",
    "model_list_headers",
    "model_rows",
    "newest_first",
    "price_columns",
    "reject_api_key",
    "require_model",
    "resolve_region",
    "server_root",
    "table_price",
    "token_cost",
    "unix_time",
    "with_defaults",
]
