"""The AWS Bedrock Converse wire protocol, as pure functions (no I/O).

Turns + params -> ``POST model/{id}/converse`` (or ``model/{id}/converse-stream``,
answered as an AWS event stream, ``application/vnd.amazon.eventstream``); a
Converse document, or the stream's events (``messageStart``,
``contentBlockStart``, ``contentBlockDelta``, ``contentBlockStop``,
``messageStop``, ``metadata``, and ``exception`` / ``error`` frames), -> an
AssistantTurn. R: ``ProviderAWSBedrock``'s ``chat_request``, ``value_turn``,
``value_tokens``, ``value_finish_reason`` and ``stream_merge_chunks``
(R/provider-aws.R); the request's content blocks are built in
ellmer_py._protocols._bedrock_content.

A reasoning block keeps Bedrock's ``signature`` (or its ``redactedContent``)
in the ContentThinking's ``extra``, and goes back exactly as it came.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .._content import Content, ContentJson, ContentText, ContentThinking
from .._errors import ConfigurationError, MalformedResponseError, StreamErrorEvent
from .._eventstream import EventMessage, EventStreamDecoder
from .._params import Params, _caller_stacklevel, standardise_params
from .._turn import AssistantTurn, SystemTurn, Tokens, Turn
from .._type_classes import TypeObject
from . import WireRequest
from ._accumulator import StreamAccumulator, count, snippet, text_or_none
from ._bedrock_content import (
    CACHE_CHOICES,
    cache_point,
    cache_ttl,
    messages,
    model_fields,
    tool_json,
)
from ._schema import plain_schema
from ._sse_events import decode_event

if TYPE_CHECKING:
    from .._tools import ToolDef
    from .._types import Type

__all__ = [
    "PARAM_NAMES",
    "STRUCTURED_TOOL",
    "BedrockConverse",
    "BedrockDecoder",
    "error_message",
    "finish_reason",
    "tokens",
]

#: The tool R forces for structured output (R: ``structured_tool_call__``).
STRUCTURED_TOOL = "structured_tool_call__"
EVENT_STREAM = "application/vnd.amazon.eventstream"

#: R's mapping, wire name -> params() name (R: ``chat_params``), plus the names
#: that build_request moves into ``additionalModelRequestFields`` for the model.
PARAM_NAMES: Mapping[str, str] = {
    "temperature": "temperature",
    "topP": "top_p",
    "maxTokens": "max_tokens",
    "stopSequences": "stop_sequences",
    "top_k": "top_k",
    "reasoning_effort": "reasoning_effort",
    "budget_tokens": "reasoning_tokens",
}

_FINISH_REASONS = {
    "end_turn": "success",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "context_window",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def tokens(usage: Any) -> Tokens | None:
    """Tokens of a Converse ``usage`` (R: ``value_tokens``).

    Bedrock's ``inputTokens`` leaves the cache out: cache writes are added
    to the input (as for Claude), cache reads are the cached input.
    """
    if not isinstance(usage, Mapping):
        return None
    return Tokens(
        input=count(usage.get("inputTokens")) + count(usage.get("cacheWriteInputTokens")),
        output=count(usage.get("outputTokens")),
        cached_input=count(usage.get("cacheReadInputTokens")),
    )


def finish_reason(reason: Any) -> str | None:
    """The stop reason in ellmer's words (R: ``value_finish_reason``); a non-string is none."""
    if type(reason) is not str or not reason:
        return None
    return _FINISH_REASONS.get(reason, reason)


def error_message(doc: Any, kind: str | None = None) -> str:
    """Bedrock's error JSON, ``{"message"}`` or ``{"Message"}``, as ``message [kind]``.

    ``kind`` is the exception's name (an ``x-amzn-errortype`` header, or a
    stream's ``:exception-type``). R: ``body$Message %||% body$message``.
    """
    fields = doc if isinstance(doc, Mapping) else {}
    message = fields.get("message") or fields.get("Message")
    text = message if isinstance(message, str) else snippet(doc, 300)
    kind = kind.split(":", 1)[0].strip() if isinstance(kind, str) else None
    return f"{text} [{kind}]" if kind and kind not in text else text


# -- Bedrock -> ellmer ---------------------------------------------------------------


def _order(index: Any) -> int | None:
    return index if type(index) is int else None


def _index(value: Any) -> int | str | None:
    """A block index: an integer (or a string); any other value is no index."""
    return value if type(value) in (int, str) else None


def _structured(arguments: Any, extra: Any) -> Content:
    """The forced tool's call is the structured answer: its ``data`` (R: ``has_type``)."""
    return ContentJson(arguments.get("data") if isinstance(arguments, Mapping) else arguments)


def _start_tool(acc: StreamAccumulator, index: Any, tool: Mapping[str, Any]) -> bool:
    """A ``toolUse`` block opens; False for a server tool's (Nova's code interpreter)."""
    if tool.get("type") == "server_tool_use":
        return False  # run by Bedrock, its result follows: kept in the turn's json only
    name = text_or_none(tool.get("name"))
    if name == STRUCTURED_TOOL:
        acc.block(index, _structured, order=_order(index))
    else:
        call_id = text_or_none(tool.get("toolUseId"))
        acc.tool(index, id=call_id or None, name=name, order=_order(index))
    return True


def _reasoning(
    acc: StreamAccumulator, index: Any, piece: Mapping[str, Any], out: list[Content] | None
) -> None:
    """Reasoning text, its signature, or redacted reasoning (whole, or a stream's delta)."""
    text = piece.get("text")
    acc.thinking(index, text if isinstance(text, str) else "", order=_order(index))
    if out is not None and isinstance(text, str) and text:
        out.append(ContentThinking(text))
    for key in ("signature", "redactedContent"):
        value = piece.get(key)
        if isinstance(value, str) and value:
            acc.extra(index, key, value, append=True)


def add_block(acc: StreamAccumulator, index: int, block: Any) -> None:
    """One block of a Converse answer's content (R: ``value_turn``'s cases).

    An empty text block is no content. Images, documents, a server tool's
    call and result, citations and guard content are left out (R aborts on
    them); they stay in the turn's json.
    """
    if not isinstance(block, Mapping):
        return
    text = block.get("text")
    tool = block.get("toolUse")
    reasoning = block.get("reasoningContent")
    if isinstance(text, str):
        acc.text(index, text, order=index)
    elif isinstance(tool, Mapping):
        if _start_tool(acc, index, tool) and tool.get("input") is not None:
            acc.arguments(index, tool.get("input"))
    elif isinstance(reasoning, Mapping):
        whole = reasoning.get("reasoningText")
        piece = dict(whole) if isinstance(whole, Mapping) else {}
        if "redactedContent" in reasoning:
            piece["redactedContent"] = reasoning["redactedContent"]
        _reasoning(acc, index, piece, None)


def _payload(message: EventMessage) -> Any:
    """An exception frame's payload: JSON, or its text."""
    try:
        return json.loads(message.payload)
    except (ValueError, RecursionError):
        return message.payload[:300].decode("utf-8", "replace")


def stream_error(message: EventMessage) -> StreamErrorEvent:
    """The error an ``exception`` or ``error`` frame carries (throttlingException, ...)."""
    if message.message_type == "exception":
        said = error_message(_payload(message), message.exception_type or message.event_type)
    else:
        said = error_message({"message": message.error_message or ""}, message.error_code)
    return StreamErrorEvent(f"The server sent an error in the stream: {said}", server_message=said)


class BedrockDecoder:
    """Decodes one ConverseStream answer: event-stream frames, split at any byte.

    ``done`` is set by ``metadata`` (usage, after ``messageStop``): the
    server's last event. The answer is ``complete`` from ``messageStop`` on.
    An ``exception`` frame raises StreamErrorEvent; ``turn()`` still holds
    what arrived before it.
    """

    __slots__ = ("_acc", "_frames", "_meta", "_skip", "_stopped", "done")

    def __init__(self) -> None:
        self._frames = EventStreamDecoder()
        self._acc = StreamAccumulator()
        self._meta: dict[str, Any] = {}
        self._skip: set[Any] = set()  # blocks of a server tool: not read
        self._stopped = False
        self.done = False

    @property
    def complete(self) -> bool:
        """Whether the answer is finished (``messageStop`` arrived)."""
        return self.done or self._stopped

    def feed(self, chunk: bytes) -> list[Content]:
        """Decode ``chunk``; return the pieces to show that its frames complete."""
        out: list[Content] = []
        for message in self._frames.feed(chunk):
            if self.done:
                break
            self.message(message, out)
        return out

    def close(self) -> list[Content]:
        """The end of the body: a frame cut short is a MalformedResponseError."""
        if not self.done:
            self._frames.close()
        return []

    def message(self, message: EventMessage, out: list[Content]) -> None:
        """Take one frame, appending the pieces to show to ``out``."""
        kind = message.message_type
        if kind in ("exception", "error"):
            raise stream_error(message)
        name = message.event_type
        if kind not in (None, "event") or not name:
            return  # a message type added later: nothing to do
        doc = decode_event(name, message.payload.decode("utf-8", "replace"))
        if not isinstance(doc, dict):
            raise MalformedResponseError(
                f"The stream carried JSON that is not an object: {snippet(doc)!r}"
            )
        doc.pop("p", None)  # padding
        self.event(name, doc, out)

    def event(self, name: str, doc: dict[str, Any], out: list[Content]) -> None:
        """Take one event (R: ``stream_merge_chunks``)."""
        acc = self._acc
        if name == "contentBlockDelta":
            index = _index(doc.get("contentBlockIndex"))
            delta = doc.get("delta")
            if index in self._skip or not isinstance(delta, Mapping):
                return
            text, tool = delta.get("text"), delta.get("toolUse")
            if isinstance(text, str):
                acc.text(index, text, order=_order(index))
                if text:
                    out.append(ContentText(text))
            elif isinstance(tool, Mapping):
                piece = tool.get("input")
                if isinstance(piece, str) and piece:
                    acc.arguments(index, piece)
            elif isinstance(delta.get("reasoningContent"), Mapping):
                _reasoning(acc, index, delta["reasoningContent"], out)
            # a server tool's result, citations, images: left out
        elif name == "contentBlockStart":
            index = _index(doc.get("contentBlockIndex"))
            start = doc.get("start")
            tool = start.get("toolUse") if isinstance(start, Mapping) else None
            if isinstance(tool, Mapping):
                if not _start_tool(acc, index, tool):
                    self._skip.add(index)
            elif isinstance(start, Mapping) and "toolResult" in start:
                self._skip.add(index)  # a server tool's result
        elif name == "messageStart":
            self._meta["role"] = doc.get("role")
        elif name == "messageStop":
            reason = doc.get("stopReason")
            acc.finish_reason = reason if isinstance(reason, str) and reason else None
            self._meta.update(doc)
            self._stopped = True
        elif name == "metadata":
            acc.usage = doc.get("usage")
            self._meta.update(doc)
            self.done = True
        # "contentBlockStop" and event types added later: nothing to do

    def turn(self, duration: float | None = None) -> AssistantTurn:
        """The AssistantTurn for everything received so far."""
        acc = self._acc
        doc: dict[str, Any] | None = None
        if self._meta:
            meta = dict(self._meta)
            role = meta.pop("role", None) or "assistant"
            doc = {"output": {"message": {"role": role}}, **meta}
        return AssistantTurn(
            acc.contents(),
            tokens=tokens(acc.usage),
            finish_reason=finish_reason(acc.finish_reason),
            duration=duration,
            json=doc,
        )


# -- the protocol ----------------------------------------------------------------------


class BedrockConverse:
    """The Converse protocol (R: ``ProviderAWSBedrock``).

    ``cache`` is ``"auto"`` (5m for Claude and Nova models, none for the
    others), ``"5m"``, ``"1h"`` or ``"none"`` (R: ``cache``): a cache point
    follows the system prompt and ends the last message.
    """

    name = "bedrock-converse"

    def __init__(
        self, *, cache: str = "auto", param_names: Mapping[str, str] = PARAM_NAMES
    ) -> None:
        if cache not in CACHE_CHOICES:
            choices = ", ".join(f'"{c}"' for c in CACHE_CHOICES)
            raise ConfigurationError(f"cache must be one of {choices}, not {cache!r}.")
        self.cache = cache
        self.param_names = dict(param_names)
        self._warned: set[tuple[str, str]] = set()  # (model, param) warned about once

    def encode_params(self, params: Params | None) -> dict[str, Any]:
        """params() as ``inferenceConfig`` fields (one warning lists the unsupported ones).

        ``top_k`` and reasoning stay under their own names until
        ``build_request`` knows the model they are for. With both reasoning
        params, ``reasoning_effort`` wins (as for Claude on Anthropic's API).
        """
        names = self.param_names
        if params is not None and "reasoning_effort" in params.standard:
            names = {k: v for k, v in names.items() if v != "reasoning_tokens"}
        out = standardise_params(params, names)
        if "stopSequences" in out:
            out["stopSequences"] = list(out["stopSequences"])
        return out

    def needs_wrapper(self, type: Type, *, model: str | None = None) -> bool:
        """Never: the forced tool's input wraps any type in ``{"data": ...}`` (as R)."""
        return False

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
        """``model/{id}/converse`` or ``converse-stream`` for these turns (R: ``chat_request``)."""
        ttl = cache_ttl(self.cache, model)
        body: dict[str, Any] = {"messages": messages(turns, ttl)}
        if turns and isinstance(turns[0], SystemTurn) and turns[0].text:
            body["system"] = [{"text": turns[0].text}, *cache_point(ttl)]
        tool_defs = [tool_json(t) for t in tools]
        config: dict[str, Any] = {}
        if type is not None:
            schema = plain_schema(TypeObject({"data": type}))
            spec = {"name": STRUCTURED_TOOL, "description": "Extract structured data"}
            tool_defs.append({"toolSpec": {**spec, "inputSchema": {"json": schema}}})
            config["toolChoice"] = {"tool": {"name": STRUCTURED_TOOL}}
        if tool_defs:
            body["toolConfig"] = {"tools": tool_defs, **config}
        wire = dict(params)
        fields, ignored = model_fields(model, wire)
        self._warn(model, ignored)
        if wire:
            body["inferenceConfig"] = wire
        if fields:
            body["additionalModelRequestFields"] = fields
        return WireRequest(
            f"model/{quote(model, safe='')}/{'converse-stream' if stream else 'converse'}",
            body,
            accept=EVENT_STREAM if stream else "application/json",
        )

    def _warn(self, model: str, ignored: list[str]) -> None:
        new = [name for name in ignored if (model, name) not in self._warned]
        if not new:
            return
        self._warned.update((model, name) for name in new)
        warnings.warn(
            f"Ignoring unsupported parameters for {model}: "
            + ", ".join(repr(n) for n in new)
            + " (send the model's own fields in api_args={'additionalModelRequestFields': ...}).",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )

    def parse_response(self, doc: Any, duration: float | None = None) -> AssistantTurn:
        """The AssistantTurn for a Converse answer (R: ``value_turn``)."""
        if not isinstance(doc, Mapping):
            raise MalformedResponseError(
                f"Expected a JSON object from the server, got {type(doc).__name__}."
            )
        if "output" not in doc and ("message" in doc or "Message" in doc):
            said = error_message(doc)
            raise StreamErrorEvent(
                f"The server answered with an error: {said}", server_message=said
            )
        output = doc.get("output")
        message = output.get("message") if isinstance(output, Mapping) else None
        blocks = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(blocks, list):
            raise MalformedResponseError(
                "The server's answer has no 'output.message.content' list: " + snippet(doc)
            )
        acc = StreamAccumulator()
        for index, block in enumerate(blocks):
            add_block(acc, index, block)
        return AssistantTurn(
            acc.contents(),
            tokens=tokens(doc.get("usage")),
            finish_reason=finish_reason(doc.get("stopReason")),
            duration=duration,
            json=dict(doc),
        )

    def open_stream(self) -> BedrockDecoder:
        """A decoder for one streamed answer."""
        return BedrockDecoder()
