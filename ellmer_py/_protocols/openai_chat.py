"""The OpenAI chat-completions wire protocol, as pure functions (no I/O).

Turns + params -> request body; a response document or stream events -> an
AssistantTurn. Used by every OpenAI-compatible provider (R:
``ProviderOpenAICompatible``'s ``chat_body``, ``value_turn`` and friends).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
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
    ContentToolResult,
    data_url,
)
from .._errors import MalformedResponseError, StreamErrorEvent
from .._params import Params, standardise_params
from .._sse import ServerSentEvent, SSEParser
from .._turn import AssistantTurn, SystemTurn, Tokens, Turn, UserTurn
from . import WireRequest
from ._accumulator import StreamAccumulator, count, parse_arguments, snippet, text_or_none
from ._tool_content import expand_tool_results

if TYPE_CHECKING:
    from .._tools import ToolDef
    from .._types import Type

__all__ = ["PARAM_NAMES", "OpenAIChat", "OpenAIChatDecoder"]

#: ellmer's mapping, wire name -> params() name (R: ``chat_params``).
PARAM_NAMES: Mapping[str, str] = {
    "frequency_penalty": "frequency_penalty",
    "logprobs": "log_probs",
    "max_completion_tokens": "max_tokens",
    "presence_penalty": "presence_penalty",
    "seed": "seed",
    "stop": "stop_sequences",
    "temperature": "temperature",
    "top_logprobs": "top_k",
    "top_p": "top_p",
}

_decode = json.JSONDecoder().decode

_FINISH_REASONS = {
    "stop": "success",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "content_filter",
}


def _content_part(content: Content) -> dict[str, Any]:
    if isinstance(content, ContentText):
        return {"type": "text", "text": content.text}
    if isinstance(content, ContentImageRemote):
        return {"type": "image_url", "image_url": {"url": content.url, "detail": content.detail}}
    if isinstance(content, ContentImageInline):
        return {"type": "image_url", "image_url": {"url": data_url(content.type, content.data)}}
    if isinstance(content, ContentPDF):
        return {
            "type": "file",
            "file": {
                "filename": content.filename,
                "file_data": data_url("application/pdf", content.data),
            },
        }
    if isinstance(content, ContentJson):
        return {"type": "text", "text": json.dumps(content.value)}
    raise TypeError(f"{type(content).__name__} cannot be sent in a user message.")


def _user_content(contents: Sequence[Content]) -> str | list[dict[str, Any]]:
    # One text alone goes as a plain string: every OpenAI-compatible server
    # accepts that, while some (older TGI, llama.cpp) reject part arrays.
    # Several texts are several parts, as R sends them.
    if len(contents) == 1 and isinstance(contents[0], ContentText):
        return contents[0].text
    return [_content_part(c) for c in contents]


def _messages(
    turn: Turn, preserve_thinking: bool, reasoning_field: str = "reasoning"
) -> list[dict[str, Any]]:
    if isinstance(turn, SystemTurn):
        return [{"role": "system", "content": turn.text}]
    if isinstance(turn, UserTurn):
        # a tool result that is an image or a PDF points to it below (R: turn_contents_expand)
        contents = expand_tool_results(turn.contents)
        results = [c for c in contents if isinstance(c, ContentToolResult)]
        rest = [c for c in contents if not isinstance(c, ContentToolResult)]
        out: list[dict[str, Any]] = [
            {"role": "tool", "content": r.model_text(), "tool_call_id": r.id} for r in results
        ]
        if rest:
            out.append({"role": "user", "content": _user_content(rest)})
        return out
    if isinstance(turn, AssistantTurn):
        text = "".join(
            c.text if isinstance(c, ContentText) else json.dumps(c.value)
            for c in turn.contents
            if isinstance(c, (ContentText, ContentJson))
        )
        calls = [
            {
                "id": c.id,
                "type": "function",
                "function": {
                    "name": c.name,
                    "arguments": c.arguments
                    if isinstance(c.arguments, str)
                    else json.dumps(c.arguments),
                },
            }
            for c in turn.contents
            if isinstance(c, ContentToolRequest)
        ]
        if not text and not calls:
            return []
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = calls
        if preserve_thinking:
            thinking = "".join(c.thinking for c in turn.contents if isinstance(c, ContentThinking))
            if thinking:
                message[reasoning_field] = thinking
        return [message]
    raise TypeError(f"Unknown turn type {type(turn).__name__}.")


def _tokens(usage: Any) -> Tokens | None:
    """Tokens from ``usage``; a count that is not a whole number (or digits) is 0."""
    if not isinstance(usage, Mapping):
        return None
    details = usage.get("prompt_tokens_details")
    cached = count(details.get("cached_tokens")) if isinstance(details, Mapping) else 0
    return Tokens(
        input=max(count(usage.get("prompt_tokens")) - cached, 0),
        output=count(usage.get("completion_tokens")),
        cached_input=cached,
    )


def _finish_reason(reason: Any) -> str | None:
    """The finish reason in ellmer's words; one that is not a string is no reason."""
    if type(reason) is not str or not reason:
        return None
    return _FINISH_REASONS.get(reason, reason)


def _call_id(value: Any) -> str | None:
    """A tool call's id: a non-empty string or a number; anything else is no id."""
    if type(value) is str:
        return value or None
    if type(value) is int:
        return str(value)
    return None


def _tool_request(call: Mapping[str, Any], index: int) -> ContentToolRequest:
    function = call.get("function")
    if not isinstance(function, Mapping):
        function = {}
    return ContentToolRequest(
        id=_call_id(call.get("id")) or f"call_{index}",
        name=text_or_none(function.get("name")) or "",
        arguments=parse_arguments(function.get("arguments")),
    )


def _text_of(content: Any) -> str:
    """Message content as text: a string, or (some servers) a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        )
    return ""


def _assemble(thinking: str, text: str, calls: Sequence[ContentToolRequest]) -> tuple[Content, ...]:
    contents: list[Content] = []
    if thinking:
        contents.append(ContentThinking(thinking))
    if text:
        contents.append(ContentText(text))
    contents.extend(calls)
    return tuple(contents)


def stream_error_message(doc: Any) -> str | None:
    """The error a provider put inside a 200 stream, if this chunk is one."""
    if not isinstance(doc, Mapping) or "error" not in doc or "choices" in doc:
        return None
    error = doc["error"]
    if error is None or error == "" or error == {}:
        return None  # "error": null on an ordinary chunk is no error
    if isinstance(error, Mapping):
        message = error.get("message")
        return message if type(message) is str and message else snippet(error, 300)
    return snippet(error, 300)


class OpenAIChatDecoder:
    """Decodes one chat-completions stream: SSE framing, ``[DONE]``, chunk deltas.

    Fed raw bytes; the pieces of every chunk go into the shared accumulator.
    A server that ignores ``"stream": true`` and sends one JSON document
    (no SSE framing at all) is read at ``close()``.
    """

    __slots__ = ("_acc", "_by_index", "_calls", "_last", "_protocol", "_sse", "chunks", "done")

    def __init__(self, protocol: OpenAIChat) -> None:
        self._protocol = protocol
        self._sse = SSEParser()
        self._acc = StreamAccumulator()
        self._by_index: dict[Any, int] = {}  # tool-call index -> the slot it now feeds
        self._calls = 0
        self._last: Any = None
        self.chunks = 0
        #: True once the server said the stream is over ([DONE]).
        self.done = False

    @property
    def complete(self) -> bool:
        """Whether the server marked the answer finished ([DONE] or a finish reason)."""
        return self.done or self._acc.finish_reason is not None

    def feed(self, chunk: bytes) -> list[Content]:
        """Parse ``chunk``; return the thinking and text pieces it completes."""
        out: list[Content] = []
        if self.done:
            return out
        parse = self._protocol.parse_event
        for event in self._sse.feed(chunk):
            doc = parse(event)
            if doc is None:
                self.done = True
                break
            self.add(doc, out)
        return out

    def close(self) -> list[Content]:
        """The end of the body: the last event without a blank line, or a bare JSON answer."""
        out: list[Content] = []
        if self.done:
            return out
        last, tail = self._sse.finish()
        if last is None and tail.strip() and self.chunks == 0:
            # No SSE framing at all: a bare JSON document (an answer, or an error).
            last = ServerSentEvent(tail.decode("utf-8", "replace").strip())
        if last is not None:
            doc = self._protocol.parse_event(last)
            if doc is None:
                self.done = True
            else:
                if self.chunks == 0 and "choices" in doc:
                    self._protocol.turn_from_response(doc)  # raises if it is not an answer
                self.add(doc, out)
        return out

    def add(self, doc: Any, out: list[Content]) -> None:
        """Take one decoded chunk, appending the pieces it adds to ``out``."""
        acc = self._acc
        self._last = doc
        self.chunks += 1
        usage = doc.get("usage")
        if usage:
            acc.usage = usage  # some providers send it on every chunk: keep the last
        choices = doc.get("choices")
        if not choices or type(choices) is not list:
            return
        choice = choices[0]
        if type(choice) is not dict:
            return
        reason = choice.get("finish_reason")
        if reason and type(reason) is str:
            acc.finish_reason = reason
        delta = choice.get("delta") or choice.get("message")
        if type(delta) is not dict:
            return
        thinking = delta.get("reasoning") or delta.get("reasoning_content")
        if type(thinking) is str and thinking:
            acc.thinking("thinking", thinking, order=0)
            out.append(ContentThinking(thinking))
        calls = delta.get("tool_calls")
        if calls and type(calls) is list:
            self._add_calls(calls)
        text = delta.get("content")
        if type(text) is not str:
            text = _text_of(text)
        if text:
            acc.text("text", text, order=1)
            out.append(ContentText(text))

    def _add_calls(self, calls: Sequence[Any]) -> None:
        """Merge tool-call deltas: by ``index``; a new ``id`` at an index starts a new call.

        OpenAI sends the id and name once, then argument fragments with only
        the index; some servers send no id at all, or (Together) index -1
        for every call, or (old TGI) the arguments as an object.
        """
        acc = self._acc
        for position, call in enumerate(calls):
            if not isinstance(call, Mapping):
                continue
            index = call.get("index", position)
            if not isinstance(index, Hashable):
                index = position
            call_id = _call_id(call.get("id"))
            slot = self._by_index.get(index)
            if slot is not None and call_id is not None:
                known = acc.tool_id(("tool", slot))
                if known is not None and known != call_id:
                    slot = None
            if slot is None:
                slot = self._calls
                self._calls += 1
                self._by_index[index] = slot
            key = ("tool", slot)
            function = call.get("function")
            if not isinstance(function, Mapping):
                function = {}
            name = function.get("name")
            acc.tool(key, id=call_id, name=text_or_none(name), order=2 + slot)
            args = function.get("arguments")
            if args is not None:
                acc.arguments(key, args)

    def turn(self, duration: float | None = None) -> AssistantTurn:
        """The AssistantTurn for everything received so far."""
        acc = self._acc
        return AssistantTurn(
            acc.contents(),
            tokens=_tokens(acc.usage),
            finish_reason=_finish_reason(acc.finish_reason),
            duration=duration,
            json=self._last,
        )


class OpenAIChat:
    """The chat-completions protocol; ``param_names`` maps wire -> params() names."""

    name = "openai-chat"

    def __init__(
        self,
        param_names: Mapping[str, str] = PARAM_NAMES,
        *,
        preserve_thinking: bool = False,
        stream_usage: bool = True,
        reasoning_field: str = "reasoning",
        strict_tools: bool = True,
    ) -> None:
        self.param_names = dict(param_names)
        #: Send the model's earlier thinking back with the history (R: ``preserve_thinking``).
        self.preserve_thinking = preserve_thinking
        self.stream_usage = stream_usage
        #: The message field thinking is sent back in: "reasoning", or
        #: "reasoning_content" for DeepSeek and LM Studio (R: ``reasoning_content_field()``).
        self.reasoning_field = reasoning_field
        #: Mark tool definitions ``strict`` (R: not for Groq or vLLM).
        self.strict_tools = strict_tools

    def chat_path(self) -> str:
        """The path of the chat endpoint below the base URL."""
        return "chat/completions"

    def wire_params(self, params: Params | None) -> dict[str, Any]:
        """params() as body fields; one warning lists the unsupported ones."""
        return standardise_params(params, self.param_names)

    def encode_params(self, params: Params | None) -> dict[str, Any]:
        """The seam's name for :meth:`wire_params`."""
        return self.wire_params(params)

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
        """The request for these turns: ``POST chat/completions`` with :meth:`chat_body`."""
        body = self.chat_body(
            turns, model=model, wire_params=params, stream=stream, tools=tools, type=type
        )
        return WireRequest(
            self.chat_path(),
            body,
            accept="text/event-stream" if stream else "application/json",
        )

    def parse_response(self, doc: Any, duration: float | None = None) -> AssistantTurn:
        """The seam's name for :meth:`turn_from_response`."""
        return self.turn_from_response(doc, duration)

    def open_stream(self) -> OpenAIChatDecoder:
        """A decoder for one streamed answer."""
        return OpenAIChatDecoder(self)

    def chat_body(
        self,
        turns: Sequence[Turn],
        *,
        model: str,
        wire_params: Mapping[str, Any],
        stream: bool,
        tools: Sequence[ToolDef] = (),
        type: Type | None = None,
    ) -> dict[str, Any]:
        """The request body for these turns (R: ``chat_body``).

        ``tools`` go as ``tools`` (function definitions, strict as ellmer
        sends them); ``type`` asks for structured output with a
        ``response_format`` of type ``json_schema``.
        """
        messages: list[dict[str, Any]] = []
        for turn in turns:
            messages.extend(_messages(turn, self.preserve_thinking, self.reasoning_field))
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            **wire_params,
            "stream": stream,
        }
        if stream and self.stream_usage:
            body["stream_options"] = {"include_usage": True}
        if tools:
            body["tools"] = [self.tool_json(t) for t in tools]
        if type is not None:
            body["response_format"] = self.response_format(type)
        return body

    def tool_json(self, tool: ToolDef) -> dict[str, Any]:
        """One tool definition as the API wants it (R: ``as_json()`` of a ``ToolDef``)."""
        json_def = getattr(tool, "json", None)
        if isinstance(json_def, Mapping):
            return dict(json_def)  # a built-in tool sends its own definition (R: ToolBuiltIn)
        from ._schema import strict_schema

        function: dict[str, Any] = {"name": tool.name, "description": tool.description}
        if self.strict_tools:
            function["strict"] = True
        function["parameters"] = strict_schema(tool.arguments)
        return {"type": "function", "function": function}

    def response_format(self, type: Type) -> dict[str, Any]:
        """The ``response_format`` asking for JSON that fits ``type`` (R: ``chat_body``)."""
        from ._schema import strict_schema

        return {
            "type": "json_schema",
            "json_schema": {
                "name": "structured_data",
                "schema": strict_schema(type),
                "strict": True,
            },
        }

    def needs_wrapper(self, type: Type, *, model: str | None = None) -> bool:
        """Whether a structured type must be wrapped in an object (R: ``type_needs_wrapper()``).

        The API only takes object schemas; anything else goes as ``{"wrapper": ...}``.
        """
        from .._structured import needs_wrapper

        return needs_wrapper(type)

    def turn_from_response(self, doc: Any, duration: float | None = None) -> AssistantTurn:
        """The AssistantTurn for a non-streamed answer (R: ``value_turn``)."""
        if not isinstance(doc, Mapping):
            raise MalformedResponseError(
                f"Expected a JSON object from the server, got {type(doc).__name__}."
            )
        message = stream_error_message(doc)
        if message is not None:
            raise StreamErrorEvent(
                f"The server answered with an error: {message}", server_message=message
            )
        choices = doc.get("choices")
        if not choices or not isinstance(choices, list):
            raise MalformedResponseError("The server's answer has no 'choices': " + snippet(doc))
        choice = choices[0]
        message_doc = None
        if isinstance(choice, Mapping):
            message_doc = choice.get("message") or choice.get("delta") or {}
        if not isinstance(message_doc, Mapping):
            raise MalformedResponseError("The server's answer has no message: " + snippet(doc))
        content = _text_of(message_doc.get("content"))
        thinking = message_doc.get("reasoning") or message_doc.get("reasoning_content")
        thinking = thinking if isinstance(thinking, str) else ""
        raw_calls = message_doc.get("tool_calls")
        calls = [
            _tool_request(c, i)
            for i, c in enumerate(raw_calls if isinstance(raw_calls, list) else [])
            if isinstance(c, Mapping)
        ]
        return AssistantTurn(
            _assemble(thinking, content, calls),
            tokens=_tokens(doc.get("usage")),
            finish_reason=_finish_reason(choice.get("finish_reason")),
            duration=duration,
            json=doc,
        )

    def parse_event(self, event: ServerSentEvent) -> Any:
        """Decode one SSE event: a chunk dict, or None for ``[DONE]``.

        Raises StreamErrorEvent for an error event or an error object, and
        MalformedResponseError for data that is not JSON.
        """
        data = event.data
        if data == "[DONE]":
            return None
        try:
            doc = _decode(data)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            if event.event == "error":
                raise StreamErrorEvent(
                    f"The server sent an error in the stream: {data[:300]}",
                    server_message=data[:300],
                ) from None
            raise MalformedResponseError(
                f"The stream carried data that is not JSON: {data[:200]!r}"
            ) from None
        if type(doc) is dict and "error" not in doc and event.event == "message":
            return doc  # the hot path: an ordinary chunk
        message = stream_error_message(doc) if isinstance(doc, Mapping) else None
        if event.event == "error" and message is None:
            message = data[:300]
        if message is not None:
            raise StreamErrorEvent(
                f"The server sent an error in the stream: {message}", server_message=message
            )
        if not isinstance(doc, Mapping):
            raise MalformedResponseError(
                f"The stream carried JSON that is not an object: {data[:200]!r}"
            )
        return doc
