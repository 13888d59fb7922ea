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
    ContentToolRequestFetch,
    ContentToolRequestSearch,
    ContentToolResponseFetch,
    ContentToolResponseSearch,
    ContentToolResult,
)
from ._content_files import (
    content_image_file,
    content_image_url,
    content_pdf_file,
    content_pdf_url,
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
from ._parallel import (
    ParallelChatError,
    parallel_chat,
    parallel_chat_structured,
    parallel_chat_text,
)
from ._params import Params, params
from ._provider import ModelLimitation, Provider
from ._registry import (
    ProtocolSpec,
    ProviderSpec,
    chat,
    get_protocol_spec,
    get_provider_spec,
    list_protocols,
    list_providers,
)
from ._serialize import contents_record, contents_replay
from ._tokens import token_usage
from ._turn import AssistantPartialTurn, AssistantTurn, SystemTurn, Tokens, Turn, UserTurn

if TYPE_CHECKING:
    from ._batch import batch_chat, batch_chat_completed, batch_chat_structured, batch_chat_text
    from ._batch_job import BatchError, BatchItemError
    from ._console import live_console
    from ._content_plot import content_image_plot
    from ._display_contents import contents_html, contents_markdown, contents_text
    from ._has_credentials import has_credentials
    from ._hookspecs import hookimpl
    from ._rounds import Round
    from ._structured import StructuredOutputError
    from ._tools import ToolBuiltIn, ToolDef, ToolReject, tool, tool_annotations, tool_reject
    from ._types import (
        Type,
        TypeArray,
        TypeBasic,
        TypeEnum,
        TypeIgnore,
        TypeJsonSchema,
        TypeObject,
        type_array,
        type_boolean,
        type_enum,
        type_from_schema,
        type_ignore,
        type_integer,
        type_number,
        type_object,
        type_string,
    )
    from .providers.anthropic import (
        chat_anthropic,
        chat_claude,
        claude_tool_web_fetch,
        claude_tool_web_search,
        models_anthropic,
        models_claude,
    )
    from .providers.aws_bedrock import chat_aws_bedrock, models_aws_bedrock
    from .providers.azure_openai import chat_azure_openai
    from .providers.cloudflare import chat_cloudflare
    from .providers.databricks import chat_databricks
    from .providers.deepseek import chat_deepseek, models_deepseek
    from .providers.github import chat_github, models_github
    from .providers.google import (
        chat_google_gemini,
        chat_google_vertex,
        google_tool_web_fetch,
        google_tool_web_search,
        models_google_gemini,
        models_google_vertex,
    )
    from .providers.groq import chat_groq, models_groq
    from .providers.huggingface import chat_huggingface, models_huggingface
    from .providers.lmstudio import chat_lmstudio, models_lmstudio
    from .providers.mistral import chat_mistral, models_mistral
    from .providers.ollama import chat_ollama, models_ollama
    from .providers.openai import chat_openai, models_openai, openai_tool_web_search
    from .providers.openai_compatible import chat_openai_compatible
    from .providers.openrouter import chat_openrouter, models_openrouter
    from .providers.perplexity import chat_perplexity
    from .providers.portkey import chat_portkey, models_portkey
    from .providers.posit import chat_posit, models_posit
    from .providers.vllm import chat_vllm, models_vllm

__version__ = "0.1.0"

__all__ = [
    "AssistantPartialTurn",
    "AssistantTurn",
    "AuthenticationError",
    "AwsCredentials",
    "BadRequestError",
    "BatchError",
    "BatchItemError",
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
    "ContentToolRequestFetch",
    "ContentToolRequestSearch",
    "ContentToolResponseFetch",
    "ContentToolResponseSearch",
    "ContentToolResult",
    "DeprecatedArgumentError",
    "EllmerError",
    "HTTPStatusError",
    "MalformedResponseError",
    "MissingCredentialsError",
    "ModelLimitation",
    "ModelLimitationError",
    "NotFoundError",
    "ParallelChatError",
    "Params",
    "PaymentRequiredError",
    "ProtocolSpec",
    "Provider",
    "ProviderSpec",
    "RateLimitError",
    "RequestTimeoutError",
    "Round",
    "ServerError",
    "StreamError",
    "StreamErrorEvent",
    "StructuredOutputError",
    "SystemTurn",
    "Tokens",
    "ToolBuiltIn",
    "ToolDef",
    "ToolError",
    "ToolReject",
    "TransportError",
    "Turn",
    "Type",
    "TypeArray",
    "TypeBasic",
    "TypeEnum",
    "TypeIgnore",
    "TypeJsonSchema",
    "TypeObject",
    "UserTurn",
    "batch_chat",
    "batch_chat_completed",
    "batch_chat_structured",
    "batch_chat_text",
    "chat",
    "chat_anthropic",
    "chat_aws_bedrock",
    "chat_azure_openai",
    "chat_claude",
    "chat_cloudflare",
    "chat_databricks",
    "chat_deepseek",
    "chat_github",
    "chat_google_gemini",
    "chat_google_vertex",
    "chat_groq",
    "chat_huggingface",
    "chat_lmstudio",
    "chat_mistral",
    "chat_ollama",
    "chat_openai",
    "chat_openai_compatible",
    "chat_openrouter",
    "chat_perplexity",
    "chat_portkey",
    "chat_posit",
    "chat_vllm",
    "claude_tool_web_fetch",
    "claude_tool_web_search",
    "content_image_file",
    "content_image_plot",
    "content_image_url",
    "content_pdf_file",
    "content_pdf_url",
    "contents_html",
    "contents_markdown",
    "contents_record",
    "contents_replay",
    "contents_text",
    "get_protocol_spec",
    "get_provider_spec",
    "google_tool_web_fetch",
    "google_tool_web_search",
    "has_credentials",
    "hookimpl",
    "interpolate",
    "interpolate_file",
    "interpolate_package",
    "list_protocols",
    "list_providers",
    "live_console",
    "models_anthropic",
    "models_aws_bedrock",
    "models_claude",
    "models_deepseek",
    "models_github",
    "models_google_gemini",
    "models_google_vertex",
    "models_groq",
    "models_huggingface",
    "models_lmstudio",
    "models_mistral",
    "models_ollama",
    "models_openai",
    "models_openrouter",
    "models_portkey",
    "models_posit",
    "models_vllm",
    "modify_list",
    "openai_tool_web_search",
    "parallel_chat",
    "parallel_chat_structured",
    "parallel_chat_text",
    "params",
    "token_usage",
    "tool",
    "tool_annotations",
    "tool_reject",
    "type_array",
    "type_boolean",
    "type_enum",
    "type_from_schema",
    "type_ignore",
    "type_integer",
    "type_number",
    "type_object",
    "type_string",
]


def __getattr__(name: str) -> Any:
    """Load ``hookimpl``, ``chat_<provider>`` constructors and tools/types on first use.

    Any registered provider's constructor is reachable here by its function
    name, so ``from ellmer_py import chat_huggingface`` goes through the
    same registry as a third-party plugin.
    """
    if name == "hookimpl":
        from ._hookspecs import hookimpl

        return hookimpl
    if name.startswith("chat_"):
        # A built-in is imported from its module, without loading every plugin
        # (it is importable even when ELLMER_PY_PLUGINS leaves it out: a
        # third-party plugin may build on chat_openai_compatible).
        module = _BUILTIN_CONSTRUCTORS.get(name)
        if module is not None:
            import importlib

            return getattr(importlib.import_module(module), name)
        from ._registry import list_providers as _names

        for provider in _names():
            function = get_provider_spec(provider).chat_function
            if getattr(function, "__name__", None) == name:
                return function
    if name in _BUILTIN_FUNCTIONS:
        import importlib

        return getattr(importlib.import_module(_BUILTIN_FUNCTIONS[name]), name)
    if name in _LAZY_CORE:
        import importlib

        return getattr(importlib.import_module(_LAZY_CORE[name], __name__), name)
    raise AttributeError(f"module 'ellmer_py' has no attribute {name!r}")


_BUILTIN_CONSTRUCTORS = {
    "chat_anthropic": "ellmer_py.providers.anthropic",
    "chat_claude": "ellmer_py.providers.anthropic",
    "chat_aws_bedrock": "ellmer_py.providers.aws_bedrock",
    "chat_azure_openai": "ellmer_py.providers.azure_openai",
    "chat_cloudflare": "ellmer_py.providers.cloudflare",
    "chat_databricks": "ellmer_py.providers.databricks",
    "chat_deepseek": "ellmer_py.providers.deepseek",
    "chat_github": "ellmer_py.providers.github",
    "chat_google_gemini": "ellmer_py.providers.google",
    "chat_google_vertex": "ellmer_py.providers.google",
    "chat_groq": "ellmer_py.providers.groq",
    "chat_huggingface": "ellmer_py.providers.huggingface",
    "chat_lmstudio": "ellmer_py.providers.lmstudio",
    "chat_mistral": "ellmer_py.providers.mistral",
    "chat_ollama": "ellmer_py.providers.ollama",
    "chat_openai": "ellmer_py.providers.openai",
    "chat_openai_compatible": "ellmer_py.providers.openai_compatible",
    "chat_openrouter": "ellmer_py.providers.openrouter",
    "chat_perplexity": "ellmer_py.providers.perplexity",
    "chat_portkey": "ellmer_py.providers.portkey",
    "chat_posit": "ellmer_py.providers.posit",
    "chat_vllm": "ellmer_py.providers.vllm",
}

#: Tools, schema types and structured output, loaded on first use (they build many classes).
_LAZY_CORE = {
    "BatchError": "._batch_job",
    "BatchItemError": "._batch_job",
    "batch_chat": "._batch",
    "batch_chat_completed": "._batch",
    "batch_chat_structured": "._batch",
    "batch_chat_text": "._batch",
    "Round": "._rounds",
    "content_image_plot": "._content_plot",
    "contents_html": "._display_contents",
    "contents_markdown": "._display_contents",
    "contents_text": "._display_contents",
    "has_credentials": "._has_credentials",
    "live_console": "._console",
    "interpolate": "._interpolate",
    "interpolate_file": "._interpolate",
    "interpolate_package": "._interpolate",
    "AwsCredentials": "._sigv4",
    "StructuredOutputError": "._structured",
    "ToolBuiltIn": "._tools",
    "ToolDef": "._tools",
    "ToolReject": "._tools",
    "Type": "._types",
    "TypeArray": "._types",
    "TypeBasic": "._types",
    "TypeEnum": "._types",
    "TypeIgnore": "._types",
    "TypeJsonSchema": "._types",
    "TypeObject": "._types",
    "tool": "._tools",
    "tool_annotations": "._tools",
    "tool_reject": "._tools",
    "type_array": "._types",
    "type_boolean": "._types",
    "type_enum": "._types",
    "type_from_schema": "._types",
    "type_ignore": "._types",
    "type_integer": "._types",
    "type_number": "._types",
    "type_object": "._types",
    "type_string": "._types",
}

#: Other public functions of the built-in plugins, loaded on first use.
_BUILTIN_FUNCTIONS = {
    "models_huggingface": "ellmer_py.providers.huggingface",
    "models_anthropic": "ellmer_py.providers.anthropic",
    "models_claude": "ellmer_py.providers.anthropic",
    "claude_tool_web_search": "ellmer_py.providers.anthropic",
    "claude_tool_web_fetch": "ellmer_py.providers.anthropic",
    "models_openai": "ellmer_py.providers.openai",
    "openai_tool_web_search": "ellmer_py.providers.openai",
    "models_google_gemini": "ellmer_py.providers.google",
    "models_google_vertex": "ellmer_py.providers.google",
    "models_aws_bedrock": "ellmer_py.providers.aws_bedrock",
    "models_groq": "ellmer_py.providers.groq",
    "models_deepseek": "ellmer_py.providers.deepseek",
    "models_mistral": "ellmer_py.providers.mistral",
    "models_ollama": "ellmer_py.providers.ollama",
    "models_openrouter": "ellmer_py.providers.openrouter",
    "models_portkey": "ellmer_py.providers.portkey",
    "models_posit": "ellmer_py.providers.posit",
    "models_vllm": "ellmer_py.providers.vllm",
    "models_lmstudio": "ellmer_py.providers.lmstudio",
    "models_github": "ellmer_py.providers.github",
    "google_tool_web_search": "ellmer_py.providers.google",
    "google_tool_web_fetch": "ellmer_py.providers.google",
}


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
