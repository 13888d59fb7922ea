"""The built-in wire protocols, registered through the plugin hook a third party uses.

Declared in ellmer-py's own pyproject under the ``ellmer_py`` entry-point
group (``protocols``), exactly as a protocol package declares its own.
"""

from __future__ import annotations

from collections.abc import Callable

from .._hookspecs import hookimpl
from .._registry import ProtocolSpec
from .anthropic import AnthropicMessages
from .bedrock import BedrockConverse
from .gemini import GeminiProtocol
from .openai_chat import OpenAIChat
from .openai_responses import OpenAIResponses

__all__ = ["ellmer_py_register_protocols"]


@hookimpl
def ellmer_py_register_protocols(register: Callable[[ProtocolSpec], None]) -> None:
    """Register the chat-completions, Responses and Anthropic Messages protocols."""
    register(
        ProtocolSpec(
            name="openai-chat",
            factory=OpenAIChat,
            fake="ellmer_py.conformance.openai_chat:FAKE",
            description="OpenAI chat completions (POST chat/completions, SSE)",
        )
    )
    register(
        ProtocolSpec(
            name="anthropic-messages",
            factory=AnthropicMessages,
            fake="ellmer_py.conformance.anthropic:FAKE",
            description="Anthropic Messages (POST messages, SSE)",
        )
    )
    register(
        ProtocolSpec(
            name="openai-responses",
            factory=OpenAIResponses,
            fake="ellmer_py.conformance.openai_responses:FAKE",
            description="OpenAI Responses (POST responses, named-event SSE)",
        )
    )
    register(
        ProtocolSpec(
            name="gemini",
            factory=GeminiProtocol,
            fake="ellmer_py.conformance.gemini:FAKE",
            description="Gemini generateContent (POST models/{model}:generateContent, SSE)",
        )
    )
    register(
        ProtocolSpec(
            name="bedrock-converse",
            factory=BedrockConverse,
            fake="ellmer_py.conformance.bedrock:FAKE",
            description="AWS Bedrock Converse (POST model/{id}/converse, AWS event stream)",
        )
    )
