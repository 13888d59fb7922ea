"""Pins the public surface of ``ellmer_py`` (the httpx habit).

Adding or removing a public name is a decision: change ``PUBLIC`` here
in the same change, so the diff shows it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
import types

import pytest

import ellmer_py

PUBLIC = [
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

#: The OpenAI-compatible providers ported from R's ellmer, one plugin module each.
PROVIDER_MODULES = {
    "chat_aws_bedrock": "ellmer_py.providers.aws_bedrock",
    "chat_azure_openai": "ellmer_py.providers.azure_openai",
    "chat_cloudflare": "ellmer_py.providers.cloudflare",
    "chat_databricks": "ellmer_py.providers.databricks",
    "chat_deepseek": "ellmer_py.providers.deepseek",
    "chat_github": "ellmer_py.providers.github",
    "chat_groq": "ellmer_py.providers.groq",
    "chat_lmstudio": "ellmer_py.providers.lmstudio",
    "chat_mistral": "ellmer_py.providers.mistral",
    "chat_ollama": "ellmer_py.providers.ollama",
    "chat_openrouter": "ellmer_py.providers.openrouter",
    "chat_perplexity": "ellmer_py.providers.perplexity",
    "chat_portkey": "ellmer_py.providers.portkey",
    "chat_posit": "ellmer_py.providers.posit",
    "chat_vllm": "ellmer_py.providers.vllm",
}

#: Names reached through the module's ``__getattr__`` rather than imported eagerly.
LAZY = {"chat_huggingface", "chat_openai_compatible", "hookimpl", "models_huggingface"}
LAZY |= {"chat_anthropic", "chat_claude", "models_anthropic", "models_claude"}
LAZY |= {"claude_tool_web_fetch", "claude_tool_web_search"}
LAZY |= {"chat_openai", "models_openai", "openai_tool_web_search"}
LAZY |= {"chat_google_gemini", "models_google_gemini"}
LAZY |= {"chat_google_vertex", "models_google_vertex"}
LAZY |= {"chat_aws_bedrock", "models_aws_bedrock", "AwsCredentials"}
LAZY |= {"interpolate", "interpolate_file", "interpolate_package"}
LAZY |= {
    "models_groq",
    "models_deepseek",
    "models_mistral",
    "models_ollama",
    "models_openrouter",
    "models_portkey",
    "models_posit",
    "models_vllm",
    "models_lmstudio",
    "models_github",
}
LAZY |= {"google_tool_web_search", "google_tool_web_fetch"}
LAZY |= set(PROVIDER_MODULES)
#: Tools, schema types and structured output build many classes: loaded on first use too.
LAZY_CORE = {
    "BatchError": "ellmer_py._batch_job",
    "BatchItemError": "ellmer_py._batch_job",
    "batch_chat": "ellmer_py._batch",
    "batch_chat_completed": "ellmer_py._batch",
    "batch_chat_structured": "ellmer_py._batch",
    "batch_chat_text": "ellmer_py._batch",
    "Round": "ellmer_py._rounds",
    "content_image_plot": "ellmer_py._content_plot",
    "contents_html": "ellmer_py._display_contents",
    "contents_markdown": "ellmer_py._display_contents",
    "contents_text": "ellmer_py._display_contents",
    "has_credentials": "ellmer_py._has_credentials",
    "live_console": "ellmer_py._console",
    "StructuredOutputError": "ellmer_py._structured",
    "ToolBuiltIn": "ellmer_py._tools",
    "ToolDef": "ellmer_py._tools",
    "ToolReject": "ellmer_py._tools",
    "tool": "ellmer_py._tools",
    "tool_annotations": "ellmer_py._tools",
    "tool_reject": "ellmer_py._tools",
    **{
        name: "ellmer_py._types"
        for name in (
            "Type",
            "TypeArray",
            "TypeBasic",
            "TypeEnum",
            "TypeIgnore",
            "TypeJsonSchema",
            "TypeObject",
            "type_array",
            "type_boolean",
            "type_enum",
            "type_from_schema",
            "type_ignore",
            "type_integer",
            "type_number",
            "type_object",
            "type_string",
        )
    },
}
LAZY |= set(LAZY_CORE)

#: Names that the ``__init__`` module needs for itself, not part of the API.
NOT_API = {"annotations", "TYPE_CHECKING", "Any"}

ERRORS = [
    "AuthenticationError",
    "BadRequestError",
    "BatchError",
    "BatchItemError",
    "ConfigurationError",
    "ConnectionCutError",
    "DeprecatedArgumentError",
    "HTTPStatusError",
    "MalformedResponseError",
    "MissingCredentialsError",
    "ModelLimitationError",
    "NotFoundError",
    "ParallelChatError",
    "PaymentRequiredError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "StreamError",
    "StreamErrorEvent",
    "StructuredOutputError",
    "ToolError",
    "ToolReject",
    "TransportError",
]


def test_all_is_pinned() -> None:
    assert ellmer_py.__all__ == PUBLIC


def test_all_is_sorted_and_unique() -> None:
    assert ellmer_py.__all__ == sorted(set(ellmer_py.__all__))


@pytest.mark.parametrize("name", PUBLIC)
def test_every_name_resolves(name: str) -> None:
    member = getattr(ellmer_py, name)
    assert member is not None
    assert callable(member), name  # every public name is a class or a function


def test_every_public_module_attribute_is_exported() -> None:
    eager = {
        name
        for name, value in vars(ellmer_py).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in NOT_API
    }
    assert eager == set(PUBLIC) - LAZY


def test_dir_lists_the_public_names() -> None:
    assert set(PUBLIC) <= set(dir(ellmer_py))


def test_star_import() -> None:
    namespace: dict[str, object] = {}
    exec("from ellmer_py import *", namespace)
    assert {k for k in namespace if k != "__builtins__"} == set(PUBLIC)


def test_lazy_names_are_the_real_objects() -> None:
    from ellmer_py._hookspecs import hookimpl
    from ellmer_py.providers.huggingface import chat_huggingface, models_huggingface
    from ellmer_py.providers.openai_compatible import chat_openai_compatible

    assert ellmer_py.hookimpl is hookimpl
    assert ellmer_py.models_huggingface is models_huggingface
    assert ellmer_py.chat_huggingface is chat_huggingface
    assert ellmer_py.chat_openai_compatible is chat_openai_compatible


@pytest.mark.parametrize(("name", "module"), sorted(PROVIDER_MODULES.items()))
def test_provider_constructors_are_the_plugins_functions(name: str, module: str) -> None:
    assert getattr(ellmer_py, name) is getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(("name", "module"), sorted(LAZY_CORE.items()))
def test_lazy_core_names_are_the_real_objects(name: str, module: str) -> None:
    assert getattr(ellmer_py, name) is getattr(importlib.import_module(module), name)


def test_tools_and_types_load_on_first_use() -> None:
    code = (
        "import sys, ellmer_py; "
        "print(sorted(m for m in ('ellmer_py._tools', 'ellmer_py._types', "
        "'ellmer_py._structured') if m in sys.modules)); "
        "ellmer_py.type_string; print('ellmer_py._types' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\n")[:2] == ["[]", "True"]


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        ellmer_py.nonexistent  # noqa: B018
    assert not hasattr(ellmer_py, "chat_no_such_provider")


@pytest.mark.parametrize("name", ERRORS)
def test_errors_share_one_base(name: str) -> None:
    error = getattr(ellmer_py, name)
    assert issubclass(error, ellmer_py.EllmerError)


def test_error_bases_that_callers_rely_on() -> None:
    assert issubclass(ellmer_py.DeprecatedArgumentError, TypeError)
    assert issubclass(ellmer_py.ConfigurationError, ValueError)
    assert issubclass(ellmer_py.MissingCredentialsError, ellmer_py.ConfigurationError)
    assert issubclass(ellmer_py.ModelLimitationError, ellmer_py.EllmerError)


def test_version_matches_the_distribution() -> None:
    assert ellmer_py.__version__ == importlib.metadata.version("ellmer-py")


def test_import_is_light() -> None:
    # The heavy modules load on first use, not on ``import ellmer_py``.
    code = (
        "import sys, ellmer_py; "
        "print(','.join(sorted(m for m in ('urllib3', 'cattrs', 'pluggy') if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
