"""The Anthropic Messages wire protocol, as pure functions (no I/O).

Turns + params -> a ``POST messages`` request; a ``message`` document or the
Messages stream (``message_start``, ``content_block_*``, ``message_delta``,
``message_stop``, ``ping``, ``error``) -> an AssistantTurn. R:
``ProviderAnthropic``'s ``chat_body``, ``as_json`` methods, ``value_turn`` and
``stream_merge_chunks`` (R/provider-claude.R).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._content import (
    Content,
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
from .._errors import ConfigurationError, MalformedResponseError, StreamErrorEvent
from .._params import Params, standardise_params
from .._turn import AssistantTurn, SystemTurn, Tokens, Turn, UserTurn
from . import WireRequest, count_body, count_of
from ._accumulator import StreamAccumulator, count, snippet, text_or_none
from ._schema import plain_schema
from ._sse_events import SSEEventDecoder, decode_event
from ._tool_content import expand_tool_results

if TYPE_CHECKING:
    from .._tools import ToolDef
    from .._types import Type

__all__ = [
    "ANTHROPIC_VERSION",
    "PARAM_NAMES",
    "STRUCTURED_TOOL",
    "AnthropicDecoder",
    "AnthropicMessages",
    "has_structured_output",
]

ANTHROPIC_VERSION = "2023-06-01"
#: The beta header the built-in web fetch tool needs.
WEB_FETCH_BETA = "web-fetch-2025-09-10"
#: The tool R forces for structured output on models without ``output_config``.
STRUCTURED_TOOL = "_structured_tool_call"
DEFAULT_MAX_TOKENS = 4096

#: ellmer's mapping, wire name -> params() name (R: ``chat_params``).
PARAM_NAMES: Mapping[str, str] = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "max_tokens": "max_tokens",
    "stop_sequences": "stop_sequences",
    "budget_tokens": "reasoning_tokens",
    "reasoning_effort": "reasoning_effort",
}

_FINISH_REASONS = {
    "end_turn": "success",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "context_window",
    "stop_sequence": "stop_sequence",
    "refusal": "content_filter",
}

# Claude 4.5 and later take ``output_config`` (R: ``has_claude_structured_output()``,
# which stops at 4.9; the 5 family has it too). The family is letters only, so
# that claude-3-5-sonnet and claude-3-7-sonnet are not read as version 5 or 7.
_STRUCTURED_MODEL = re.compile(r"^claude-[a-z]+-(4-[5-9]|[5-9](-\d)?)(-|$)")


def has_structured_output(model: str) -> bool:
    """Whether the model takes a JSON schema in ``output_config`` (Claude 4.5 and later)."""
    return bool(_STRUCTURED_MODEL.match(model))


def tokens(usage: Any) -> Tokens | None:
    """Tokens as R counts them: cache writes are input, cache reads are cached input.

    A count that is not a whole number (or a string of digits) is 0.
    """
    if not isinstance(usage, Mapping):
        return None
    return Tokens(
        input=count(usage.get("input_tokens")) + count(usage.get("cache_creation_input_tokens")),
        output=count(usage.get("output_tokens")),
        cached_input=count(usage.get("cache_read_input_tokens")),
    )


def finish_reason(reason: Any) -> str | None:
    """The stop reason in ellmer's words (R: ``value_finish_reason``); a non-string is none."""
    if type(reason) is not str or not reason:
        return None
    return _FINISH_REASONS.get(reason, reason)


def _index(value: Any) -> int | str | None:
    """A block index: an integer (or a string); any other value is no index."""
    return value if type(value) in (int, str) else None


def _block_id(value: Any) -> str | None:
    if type(value) is str:
        return value or None
    return str(value) if type(value) is int else None


# -- ellmer -> Claude ----------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _input(arguments: Any) -> dict[str, Any]:
    """A tool call's input: Claude takes only an object."""
    if isinstance(arguments, Mapping):
        return dict(arguments)
    return {} if arguments in (None, "") else {"value": arguments}


def _block(content: Content, role: str) -> dict[str, Any] | None:
    """One content block (R: the ``as_json`` methods for ProviderAnthropic)."""
    if isinstance(content, ContentText):
        return {"type": "text", "text": content.text if content.text.strip() else "[empty string]"}
    if isinstance(content, ContentJson):
        # Compact, as R's jsonlite::toJSON() sends it back.
        text = json.dumps(content.value, separators=(",", ":"), ensure_ascii=False)
        return {"type": "text", "text": text}
    if isinstance(content, ContentImageRemote):
        return {"type": "image", "source": {"type": "url", "url": content.url}}
    if isinstance(content, ContentImageInline):
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": content.type, "data": _b64(content.data)},
        }
    if isinstance(content, ContentPDF):
        return {
            "type": "document",
            "source": {
                "type": "base64",
                "media_type": "application/pdf",
                "data": _b64(content.data),
            },
            "title": content.filename,
        }
    if isinstance(content, ContentToolRequest):
        return {
            "type": "tool_use",
            "id": content.id,
            "name": content.name,
            "input": _input(content.arguments),
        }
    if isinstance(content, ContentToolResult):
        return {
            "type": "tool_result",
            "tool_use_id": content.id,
            "content": content.model_text(),
            "is_error": content.error is not None,
        }
    if isinstance(content, ContentThinking):
        extra = content.extra if isinstance(content.extra, Mapping) else {}
        if extra.get("type") == "redacted_thinking":
            return {"type": "redacted_thinking", "data": extra.get("data")}
        signature = extra.get("signature")
        if not content.thinking or not signature or role != "assistant":
            return None  # Claude only takes back its own, signed thinking
        return {"type": "thinking", "thinking": content.thinking, "signature": signature}
    if isinstance(
        content,
        (
            ContentToolRequestSearch,
            ContentToolResponseSearch,
            ContentToolRequestFetch,
            ContentToolResponseFetch,
        ),
    ):
        return dict(content.json) if isinstance(content.json, Mapping) else None
    raise ConfigurationError(
        f"{type(content).__name__} cannot be sent to Anthropic's Messages API."
    )


def _messages(turns: Sequence[Turn], cache: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The ``messages`` list: one per turn, consecutive same-role turns merged.

    The last block of the last turn carries ``cache_control`` (R: ``is_last``).
    """
    out: list[dict[str, Any]] = []
    for turn in turns:
        if isinstance(turn, SystemTurn):
            continue
        role = "user" if isinstance(turn, UserTurn) else "assistant"
        # a tool result that is an image or a PDF points to it below (R: turn_contents_expand)
        contents = expand_tool_results(turn.contents) if role == "user" else turn.contents
        blocks = [b for b in (_block(c, role) for c in contents) if b is not None]
        if not blocks:
            continue  # Claude rejects a message with no content
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    if cache is not None and out:
        last = out[-1]["content"][-1]
        if last.get("type") not in ("thinking", "redacted_thinking"):
            last["cache_control"] = dict(cache)
    return out


def _tool_json(tool: Any) -> dict[str, Any]:
    """One tool definition (R: ``as_json`` of a ToolDef); built-in tools send their own JSON."""
    json_def = getattr(tool, "json", None)
    if isinstance(json_def, Mapping):
        return dict(json_def)
    schema = plain_schema(tool.arguments)
    return {"name": tool.name, "description": tool.description, "input_schema": schema}


# -- Claude -> ellmer ----------------------------------------------------------------


def _server_tool(block: Mapping[str, Any]) -> Callable[[Any, Any], Content | None]:
    """Builds a server tool call (web search or fetch) once its input has arrived."""

    def build(arguments: Any, extra: Any) -> Content | None:
        merged = {**block, "input": arguments}
        args = arguments if isinstance(arguments, Mapping) else {}
        if block.get("name") == "web_search":
            return ContentToolRequestSearch(query=_scalar_text(args.get("query")), json=merged)
        if block.get("name") == "web_fetch":
            return ContentToolRequestFetch(url=_scalar_text(args.get("url")), json=merged)
        return None  # a server tool ellmer does not know (R aborts): left out

    return build


def _scalar_text(value: Any) -> str:
    """A string, or a number as text; anything else (an object, null) is ""."""
    if type(value) is str:
        return value
    return str(value) if type(value) in (int, float) else ""


def _structured(arguments: Any, extra: Any) -> Content:
    data = arguments.get("data") if isinstance(arguments, Mapping) else arguments
    return ContentJson(data)


def _fixed(content: Content | None) -> Callable[[Any, Any], Content | None]:
    return lambda arguments, extra: content


def _search_result(block: Mapping[str, Any]) -> Content:
    found = block.get("content")
    urls = [
        str(x["url"])
        for x in (found if isinstance(found, list) else [])
        if isinstance(x, Mapping) and isinstance(x.get("url"), str)
    ]
    return ContentToolResponseSearch(urls=tuple(urls), json=dict(block))


def _fetch_result(block: Mapping[str, Any]) -> Content:
    found = block.get("content")
    url = found.get("url") if isinstance(found, Mapping) else None
    url = url or block.get("url")
    return ContentToolResponseFetch(url=url if isinstance(url, str) else "failed", json=dict(block))


def start_block(acc: StreamAccumulator, index: Any, block: Any) -> None:
    """A content block opens (or arrives whole, in a non-streamed answer)."""
    if not isinstance(block, Mapping):
        return
    index = _index(index)
    kind = block.get("type")
    order = index if type(index) is int else None
    if kind == "text":
        text = block.get("text")
        acc.text(index, text if isinstance(text, str) else "", order=order)
        citations = block.get("citations")
        if isinstance(citations, list) and citations:
            acc.extra(index, "citations", list(citations))
    elif kind == "thinking":
        thinking = block.get("thinking")
        acc.thinking(index, thinking if isinstance(thinking, str) else "", order=order)
        signature = block.get("signature")
        if isinstance(signature, str) and signature:
            acc.extra(index, "signature", signature)
    elif kind == "redacted_thinking":
        redacted = ContentThinking(
            "", extra={"type": "redacted_thinking", "data": block.get("data")}
        )
        acc.block(index, _fixed(redacted), order=order)
    elif kind == "tool_use":
        name = block.get("name")
        arguments = block.get("input") or None
        if name == STRUCTURED_TOOL:
            acc.block(index, _structured, arguments=arguments, order=order)
            return
        acc.tool(index, id=_block_id(block.get("id")), name=text_or_none(name), order=order)
        if arguments is not None:
            acc.arguments(index, arguments)
    elif kind == "server_tool_use":
        acc.block(index, _server_tool(block), arguments=block.get("input") or None, order=order)
    elif kind == "web_search_tool_result":
        acc.block(index, _fixed(_search_result(block)), order=order)
    elif kind == "web_fetch_tool_result":
        acc.block(index, _fixed(_fetch_result(block)), order=order)
    # anything else ("fallback", blocks of tools ellmer does not know) is left out


def _delta(acc: StreamAccumulator, index: Any, delta: Any, out: list[Content]) -> None:
    if not isinstance(delta, Mapping):
        return
    index = _index(index)
    kind = delta.get("type")
    if kind == "text_delta":
        text = delta.get("text")
        if isinstance(text, str) and text:
            acc.text(index, text)
            out.append(ContentText(text))
    elif kind == "input_json_delta":
        piece = delta.get("partial_json")
        if isinstance(piece, str) and piece:
            acc.arguments(index, piece)
    elif kind == "thinking_delta":
        thinking = delta.get("thinking")
        if isinstance(thinking, str) and thinking:
            acc.thinking(index, thinking)
            out.append(ContentThinking(thinking))
    elif kind == "signature_delta":
        signature = delta.get("signature")
        if isinstance(signature, str):
            acc.extra(index, "signature", signature, append=True)
    elif kind == "citations_delta":
        citation = delta.get("citation")
        if isinstance(citation, Mapping):
            acc.extra(index, "citations", citation, append=True)


def _merge_usage(acc: StreamAccumulator, usage: Any) -> None:
    if not isinstance(usage, Mapping):
        return
    old = acc.usage if isinstance(acc.usage, dict) else {}
    acc.usage = {**old, **{k: v for k, v in usage.items() if v is not None}}


def error_message(error: Any) -> str:
    """An error object as R words it: ``message [type]``."""
    if not isinstance(error, Mapping):
        return snippet(error, 300)
    message = error.get("message")
    kind = error.get("type")
    text = message if isinstance(message, str) and message else snippet(error, 300)
    return f"{text} [{kind}]" if isinstance(kind, str) and kind else text


class AnthropicDecoder(SSEEventDecoder):
    """Decodes one Messages stream: SSE framing and every event type, split at any byte."""

    __slots__ = ("_acc", "_message")

    def __init__(self) -> None:
        super().__init__()  # self.done: True once ``message_stop`` arrived
        self._acc = StreamAccumulator()
        self._message: dict[str, Any] = {}

    @property
    def complete(self) -> bool:
        """Whether the server finished the answer (``message_stop`` or a stop reason)."""
        return self.done or self._acc.finish_reason is not None

    def event(self, name: str, data: str, out: list[Content]) -> None:
        """Take one SSE event, appending the pieces to show to ``out``."""
        doc = decode_event(name, data)
        if not isinstance(doc, dict):
            raise MalformedResponseError(
                f"The stream carried JSON that is not an object: {data[:200]!r}"
            )
        kind = doc.get("type", name)
        acc = self._acc
        if kind == "content_block_delta":
            _delta(acc, doc.get("index"), doc.get("delta"), out)
        elif kind == "content_block_start":
            index = doc.get("index")
            block = doc.get("content_block")
            start_block(acc, index, block)
            if isinstance(block, Mapping):
                text = block.get("text")
                thinking = block.get("thinking")
                if block.get("type") == "text" and text and type(text) is str:
                    out.append(ContentText(text))
                elif block.get("type") == "thinking" and thinking and type(thinking) is str:
                    out.append(ContentThinking(thinking))
        elif kind == "message_start":
            message = doc.get("message")
            if isinstance(message, Mapping):
                self._message = {k: v for k, v in message.items() if k != "content"}
                _merge_usage(acc, message.get("usage"))
        elif kind == "message_delta":
            delta = doc.get("delta")
            if isinstance(delta, Mapping):
                reason = delta.get("stop_reason")
                if reason and type(reason) is str:
                    acc.finish_reason = reason
                    self._message["stop_reason"] = reason
                if "stop_sequence" in delta:
                    self._message["stop_sequence"] = delta["stop_sequence"]
            _merge_usage(acc, doc.get("usage"))
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            message = error_message(doc.get("error"))
            raise StreamErrorEvent(
                f"The server sent an error in the stream: {message}", server_message=message
            )
        # "ping", "content_block_stop" and event types added later: nothing to do

    def turn(self, duration: float | None = None) -> AssistantTurn:
        """The AssistantTurn for everything received so far."""
        acc = self._acc
        json_doc = {**self._message, "usage": acc.usage} if self._message else None
        return AssistantTurn(
            acc.contents(),
            tokens=tokens(acc.usage),
            finish_reason=finish_reason(acc.finish_reason),
            duration=duration,
            json=json_doc,
        )


class AnthropicMessages:
    """The Messages protocol (R: ``ProviderAnthropic``).

    ``cache`` is ``"5m"``, ``"1h"`` or ``"none"`` (R: ``cache``);
    ``beta_headers`` go in ``anthropic-beta``.
    """

    name = "anthropic-messages"

    def __init__(
        self,
        *,
        cache: str = "5m",
        beta_headers: Sequence[str] = (),
        version: str = ANTHROPIC_VERSION,
        param_names: Mapping[str, str] = PARAM_NAMES,
    ) -> None:
        if cache not in ("5m", "1h", "none"):
            raise ConfigurationError(f'cache must be "5m", "1h" or "none", not {cache!r}.')
        self.cache = cache
        self.beta_headers = tuple(beta_headers)
        self.version = version
        self.param_names = dict(param_names)

    def cache_control(self) -> dict[str, Any] | None:
        """The ``cache_control`` block R places, or None with ``cache="none"``."""
        return None if self.cache == "none" else {"type": "ephemeral", "ttl": self.cache}

    def encode_params(self, params: Params | None) -> dict[str, Any]:
        """params() as wire fields; ``max_tokens`` defaults to 4096, as Claude requires it."""
        names = self.param_names
        if params is not None and "reasoning_effort" in params.standard:
            # Claude takes one or the other; as in R, reasoning_effort wins and
            # reasoning_tokens is reported with the other unsupported ones.
            names = {k: v for k, v in names.items() if v != "reasoning_tokens"}
        out = standardise_params(params, names)
        out.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        if "stop_sequences" in out:
            out["stop_sequences"] = list(out["stop_sequences"])
        return out

    def needs_wrapper(self, type: Type, *, model: str | None = None) -> bool:
        """A non-object type is wrapped when it goes in ``output_config`` (which takes objects)."""
        from .._structured import needs_wrapper

        if model is not None and not self._uses_output_config(type, model):
            return False  # the structured tool wraps it in {"data": ...} itself
        return needs_wrapper(type)

    def _uses_output_config(self, type: Type, model: str) -> bool:
        from .._types import TypeObject

        def open_object(t: Any) -> bool:
            if isinstance(t, TypeObject):
                return t.additional_properties or any(open_object(p) for p in t.properties.values())
            items = getattr(t, "items", None)
            return open_object(items) if items is not None else False

        return has_structured_output(model) and not open_object(type)

    def build_request(
        self,
        turns: Sequence[Turn],
        *,
        model: str,
        params: Mapping[str, Any],
        tools: Sequence[ToolDef] = (),
        type: Type | None = None,
        stream: bool,
    ) -> WireRequest:
        """``POST messages`` for these turns (R: ``chat_body``)."""
        cache = self.cache_control()
        body: dict[str, Any] = {"model": model}
        if turns and isinstance(turns[0], SystemTurn):
            system: dict[str, Any] = {"type": "text", "text": turns[0].text}
            if cache is not None:
                system["cache_control"] = dict(cache)
            body["system"] = [system]
        body["messages"] = _messages(turns, cache)
        body["stream"] = stream
        tool_defs = [_tool_json(t) for t in tools]
        output_config: dict[str, Any] = {}
        if type is not None:
            if self._uses_output_config(type, model):
                output_config["format"] = {"type": "json_schema", "schema": plain_schema(type)}
            else:
                from .._types import type_object

                wrapper = type_object(data=type)
                tool_defs.append(
                    {
                        "name": STRUCTURED_TOOL,
                        "description": "Extract structured data",
                        "input_schema": plain_schema(wrapper),
                    }
                )
                body["tool_choice"] = {"type": "tool", "name": STRUCTURED_TOOL}
        if tool_defs:
            body["tools"] = tool_defs
        wire = dict(params)
        effort = wire.pop("reasoning_effort", None)
        budget = wire.pop("budget_tokens", None)
        if effort is not None:
            body["thinking"] = {"type": "adaptive"}
            output_config["effort"] = effort
        elif budget is not None:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if output_config:
            body["output_config"] = output_config
        body.update(wire)
        headers = {"anthropic-version": self.version}
        betas = list(self.beta_headers)
        if any(d.get("type", "").startswith("web_fetch") for d in tool_defs) and not any(
            b.startswith("web-fetch") for b in betas
        ):
            betas.append(WEB_FETCH_BETA)
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        return WireRequest(
            "messages",
            body,
            headers=headers,
            accept="text/event-stream" if stream else "application/json",
        )

    def count_tokens_request(
        self,
        turns: Sequence[Turn],
        *,
        model: str,
        tools: Sequence[ToolDef] = (),
        type: Type | None = None,
    ) -> WireRequest:
        """``POST messages/count_tokens`` for these turns (R: ``count_tokens()``)."""
        chat = self.build_request(
            turns, model=model, params={}, tools=tools, type=type, stream=False
        )
        keys = ("model", "system", "messages", "tools", "tool_choice", "output_config", "thinking")
        return WireRequest(
            "messages/count_tokens", count_body(chat.body, keys), headers=chat.headers
        )

    def parse_token_count(self, doc: Any) -> int:
        """``input_tokens`` of the answer."""
        return count_of(doc, "input_tokens")

    def parse_response(self, doc: Any, duration: float | None = None) -> AssistantTurn:
        """The AssistantTurn for a non-streamed ``message`` (R: ``value_turn``)."""
        if not isinstance(doc, Mapping):
            raise MalformedResponseError(
                f"Expected a JSON object from the server, got {type(doc).__name__}."
            )
        if doc.get("type") == "error" or ("error" in doc and "content" not in doc):
            message = error_message(doc.get("error"))
            raise StreamErrorEvent(
                f"The server answered with an error: {message}", server_message=message
            )
        blocks = doc.get("content")
        if not isinstance(blocks, list):
            raise MalformedResponseError(
                "The server's answer has no 'content' list: " + snippet(doc)
            )
        acc = StreamAccumulator()
        for index, block in enumerate(blocks):
            start_block(acc, index, block)
        _merge_usage(acc, doc.get("usage"))
        reason = doc.get("stop_reason")
        acc.finish_reason = reason if isinstance(reason, str) else None
        return AssistantTurn(
            acc.contents(),
            tokens=tokens(acc.usage),
            finish_reason=finish_reason(acc.finish_reason),
            duration=duration,
            json=dict(doc),
        )

    def open_stream(self) -> AnthropicDecoder:
        """A decoder for one streamed answer."""
        return AnthropicDecoder()
