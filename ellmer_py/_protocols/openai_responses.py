"""The OpenAI Responses wire protocol, as pure functions (no I/O).

Turns + params -> a ``POST responses`` request; a ``response`` document or the
Responses stream (named events: ``response.output_item.added``,
``response.output_text.delta``, ``response.reasoning_summary_text.delta``
(or ``response.reasoning_text.delta``, raw reasoning),
``response.function_call_arguments.delta``, ``response.output_item.done``,
and the ends ``response.completed`` / ``response.incomplete`` /
``response.failed`` / ``error``; no ``[DONE]``) -> an AssistantTurn. R:
``ProviderOpenAI``'s ``chat_body``, ``chat_params``, ``as_json`` methods,
``value_turn`` and ``stream_merge_chunks`` (R/provider-openai.R).

Reasoning items are kept whole (``encrypted_content`` included) as the
``extra`` of a ``ContentThinking`` and sent back in place, so they precede the
function call they led to.
"""

from __future__ import annotations

import base64
import binascii
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
    ContentToolRequestSearch,
    ContentToolResult,
    data_url,
)
from .._errors import ConfigurationError, MalformedResponseError, StreamErrorEvent
from .._params import Params, standardise_params
from .._turn import AssistantTurn, SystemTurn, Tokens, Turn, UserTurn
from . import WireRequest, count_body, count_of
from ._accumulator import StreamAccumulator, count, snippet, text_or_none
from ._schema import strict_schema
from ._sse_events import SSEEventDecoder, decode_event
from ._tool_content import expand_tool_results

if TYPE_CHECKING:
    from .._tools import ToolDef
    from .._types import Type

__all__ = [
    "PARAM_NAMES",
    "SERVICE_TIERS",
    "OpenAIResponses",
    "OpenAIResponsesDecoder",
    "finish_reason",
    "is_reasoning_model",
    "tokens",
]

#: ellmer's mapping, wire name -> params() name (R: ``chat_params``).
PARAM_NAMES: Mapping[str, str] = {
    "temperature": "temperature",
    "top_p": "top_p",
    "frequency_penalty": "frequency_penalty",
    "max_output_tokens": "max_tokens",
    "log_probs": "log_probs",
    "top_logprobs": "top_k",
    "reasoning_effort": "reasoning_effort",
}
SERVICE_TIERS = ("auto", "default", "flex", "priority")

_IMAGE_FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
#: The events that end a stream.
_END_EVENTS = ("response.completed", "response.incomplete")
#: The fields of a chat body that ``responses/input_tokens`` takes (R: ``count_tokens()``).
_COUNTED = ("input", "model", "tools", "text")


def is_reasoning_model(model: str) -> bool:
    """Whether R asks this model for encrypted reasoning (R: ``is_openai_reasoning()``)."""
    return model.startswith("o") or model.startswith("gpt-5")


def tokens(usage: Any) -> Tokens | None:
    """Tokens as R counts them: input minus cached, cached input, output."""
    if not isinstance(usage, Mapping):
        return None
    details = usage.get("input_tokens_details")
    cached = count(details.get("cached_tokens")) if isinstance(details, Mapping) else 0
    return Tokens(
        input=max(count(usage.get("input_tokens")) - cached, 0),
        output=count(usage.get("output_tokens")),
        cached_input=cached,
    )


def finish_reason(response: Any) -> str | None:
    """The finish reason in ellmer's words (R: ``value_finish_reason``)."""
    if not isinstance(response, Mapping):
        return None
    status = response.get("status")
    if type(status) is not str or not status:
        return None
    if status == "completed":
        return "success"
    if status != "incomplete":
        return status
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, Mapping) else None
    if type(reason) is not str or not reason:
        return status
    return {"max_output_tokens": "max_tokens", "content_filter": "content_filter"}.get(
        reason, reason
    )


def error_message(error: Any) -> str:
    """An error object as R words it: ``message (code)`` (or its type)."""
    if not isinstance(error, Mapping):
        return snippet(error, 300)
    message = error.get("message")
    kinds = (error.get("code"), error.get("type"))
    kind = next((k for k in kinds if isinstance(k, str) and k and k != "error"), None)
    text = message if isinstance(message, str) and message else snippet(error, 300)
    return f"{text} ({kind})" if isinstance(kind, str) and kind else text


# -- ellmer -> OpenAI ----------------------------------------------------------------


def _message(role: str, part: dict[str, Any]) -> dict[str, Any]:
    # "type" is optional in OpenAI's input messages (R leaves it out), but
    # llama-server (and servers ported from it) reject an assistant item without it
    return {"type": "message", "role": role, "content": [part]}


def _text_item(role: str, text: str) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    return _message(role, {"type": kind, "text": text})


def _arguments_text(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    value = {} if arguments is None else arguments
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)  # compact, as R sends it


def _items(content: Content, role: str) -> list[dict[str, Any]]:
    """The input items for one content (R: the ``as_json`` methods for ProviderOpenAI)."""
    if isinstance(content, ContentText):
        return [_text_item(role, content.text)]
    if isinstance(content, ContentJson):
        text = json.dumps(content.value, separators=(",", ":"), ensure_ascii=False)
        return [_text_item(role, text)]
    if isinstance(content, ContentThinking):
        extra = content.extra
        if isinstance(extra, Mapping) and extra.get("type") == "reasoning":
            return [dict(extra)]
        return []  # thinking without its reasoning item cannot go back
    if isinstance(content, ContentImageRemote):
        return [_message("user", {"type": "input_image", "image_url": content.url})]
    if isinstance(content, ContentImageInline):
        url = data_url(content.type, content.data)
        return [_message("user", {"type": "input_image", "image_url": url})]
    if isinstance(content, ContentPDF):
        part = {
            "type": "input_file",
            "filename": content.filename,
            "file_data": data_url("application/pdf", content.data),
        }
        return [_message("user", part)]
    if isinstance(content, ContentToolRequest):
        return [
            {
                "type": "function_call",
                "call_id": content.id,
                "name": content.name,
                "arguments": _arguments_text(content.arguments),
            }
        ]
    if isinstance(content, ContentToolResult):
        return [
            {"type": "function_call_output", "call_id": content.id, "output": content.model_text()}
        ]
    if isinstance(content, ContentToolRequestSearch):
        return [dict(content.json)] if isinstance(content.json, Mapping) else []
    raise ConfigurationError(f"{type(content).__name__} cannot be sent to OpenAI's Responses API.")


def input_items(turns: Sequence[Turn]) -> list[dict[str, Any]]:
    """The ``input`` list: one item per content, in order."""
    out: list[dict[str, Any]] = []
    for turn in turns:
        if isinstance(turn, SystemTurn):
            out.append(_text_item("system", turn.text))
            continue
        role = "user" if isinstance(turn, UserTurn) else "assistant"
        # a tool result that is an image or a PDF points to it below (R: turn_contents_expand)
        contents = expand_tool_results(turn.contents) if role == "user" else turn.contents
        for content in contents:
            out.extend(_items(content, role))
    return out


def tool_json(tool: Any) -> dict[str, Any]:
    """One tool definition (R: ``as_json`` of a ToolDef); built-in tools send their own JSON."""
    json_def = getattr(tool, "json", None)
    if isinstance(json_def, Mapping):
        return dict(json_def)
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "strict": True,
        "parameters": strict_schema(tool.arguments),
    }


def text_format(type: Type) -> dict[str, Any]:
    """``text.format`` asking for JSON that fits ``type``."""
    return {
        "format": {
            "type": "json_schema",
            "name": "structured_data",
            "schema": strict_schema(type),
            "strict": True,
        }
    }


# -- OpenAI -> ellmer ----------------------------------------------------------------


def _str(value: Any) -> str:
    return value if type(value) is str else ""


def _summary_text(item: Mapping[str, Any]) -> str:
    """A reasoning item's summary, or its raw ``reasoning_text`` when it has no summary."""
    for field_name in ("summary", "content"):
        parts = item.get(field_name)
        if isinstance(parts, list):
            text = "".join(_str(p.get("text")) for p in parts if isinstance(p, Mapping))
            if text:
                return text
    return ""


def _search_query(item: Mapping[str, Any]) -> str:
    action = item.get("action")
    action = action if isinstance(action, Mapping) else {}
    queries = action.get("queries")
    first = queries[0] if isinstance(queries, list) and queries else None
    for value in (action.get("query"), first, action.get("url")):
        if type(value) is str and value:
            return value
    return "web search"


def _image(item: Mapping[str, Any]) -> Content | None:
    result = item.get("result")
    if type(result) is not str or not result:
        return None
    try:
        data = base64.b64decode(result, validate=True)
    except (binascii.Error, ValueError):
        return None
    mime = _IMAGE_FORMATS.get(_str(item.get("output_format")), "image/png")
    return ContentImageInline(mime, data)


def _fixed(content: Content | None) -> Any:
    return lambda arguments, extra: content


def _part_key(index: Any, part: Any) -> Hashable:
    return ("part", index, part if type(part) is int else 0)


def _part_order(index: int, part: Any) -> float:
    return index + (part if type(part) is int and 0 <= part < 1000 else 0) / 1000


def add_item(
    acc: StreamAccumulator, index: int, item: Any, *, seen: frozenset[Hashable] = frozenset()
) -> None:
    """Add a whole output item at ``index`` (a non-streamed one, or one just finished).

    ``seen`` holds the keys whose pieces already arrived as deltas: their
    text is not added twice.
    """
    if not isinstance(item, Mapping):
        return
    kind = item.get("type")
    if kind == "message":
        parts = item.get("content")
        for i, part in enumerate(parts if isinstance(parts, list) else []):
            if not isinstance(part, Mapping):
                continue
            key = _part_key(index, i)
            text = part.get("text") if part.get("type") == "output_text" else part.get("refusal")
            if key not in seen:
                acc.text(key, _str(text), order=_part_order(index, i))
            annotations = part.get("annotations")
            if isinstance(annotations, list) and annotations:
                acc.extra(key, "annotations", list(annotations))
            if part.get("type") == "refusal":
                acc.extra(key, "refusal", True)
    elif kind == "function_call":
        key = ("item", index)
        call_id = text_or_none(item.get("call_id")) or text_or_none(item.get("id"))
        acc.tool(key, id=call_id, name=text_or_none(item.get("name")), order=index)
        if key not in seen:
            arguments = item.get("arguments")
            acc.arguments(key, arguments if isinstance(arguments, (str, Mapping)) else "")
    elif kind == "reasoning":
        key = ("item", index)
        if key not in seen:
            acc.thinking(key, _summary_text(item), order=index)
        elif not acc.has(key):
            acc.thinking(key, "", order=index)
        for name, value in item.items():
            acc.extra(key, str(name), value)
    elif kind == "web_search_call":
        search = ContentToolRequestSearch(query=_search_query(item), json=dict(item))
        acc.block(("item", index), _fixed(search), order=index)
    elif kind == "image_generation_call":
        acc.block(("item", index), _fixed(_image(item)), order=index)
    # other item types (ones ellmer does not know) are left out


def _response_turn(response: Mapping[str, Any], duration: float | None) -> AssistantTurn:
    output = response.get("output")
    acc = StreamAccumulator()
    for index, item in enumerate(output if isinstance(output, list) else []):
        add_item(acc, index, item)
    return AssistantTurn(
        acc.contents(),
        tokens=tokens(response.get("usage")),
        finish_reason=finish_reason(response),
        duration=duration,
        json=dict(response),
    )


class OpenAIResponsesDecoder(SSEEventDecoder):
    """Decodes one Responses stream: SSE framing and the named events, split at any byte."""

    __slots__ = ("_acc", "_final", "_items", "_response", "_seen")

    def __init__(self) -> None:
        super().__init__()  # self.done: True once response.completed / .incomplete arrived
        self._acc = StreamAccumulator()
        self._response: dict[str, Any] = {}
        self._final: AssistantTurn | None = None
        self._seen: set[Hashable] = set()
        self._items: dict[str, int] = {}

    @property
    def complete(self) -> bool:
        """Whether the server finished the answer."""
        return self.done

    def _index(self, doc: Mapping[str, Any]) -> int:
        """The event's ``output_index``; by item id, in order of appearance, when it has none.

        (llama-server's events name only the item.)
        """
        index = doc.get("output_index")
        if type(index) is int:
            return index
        item = doc.get("item")
        item_id = doc.get("item_id") or (item.get("id") if isinstance(item, Mapping) else None)
        if not isinstance(item_id, str):
            return -1
        return self._items.setdefault(item_id, len(self._items))

    def event(self, name: str, data: str, out: list[Content]) -> None:
        """Take one SSE event, appending the pieces to show to ``out``."""
        if not data.strip() or data.strip() == "[DONE]":
            return
        doc = decode_event(name, data)
        if not isinstance(doc, dict):
            raise MalformedResponseError(
                f"The stream carried JSON that is not an object: {data[:200]!r}"
            )
        kind = doc.get("type", name)
        acc = self._acc
        index = self._index(doc)
        if kind == "response.output_text.delta" or kind == "response.refusal.delta":
            delta = doc.get("delta")
            if isinstance(delta, str) and delta:
                key = _part_key(index, doc.get("content_index"))
                acc.text(key, delta, order=_part_order(index, doc.get("content_index")))
                self._seen.add(key)
                out.append(ContentText(delta))
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            delta = doc.get("delta")
            if isinstance(delta, str) and delta:
                key = ("item", index)
                acc.thinking(key, delta, order=index)
                self._seen.add(key)
                out.append(ContentThinking(delta))
        elif kind == "response.function_call_arguments.delta":
            delta = doc.get("delta")
            if isinstance(delta, str) and delta:
                key = ("item", index)
                acc.arguments(key, delta)
                self._seen.add(key)
        elif kind == "response.output_item.added":
            item = doc.get("item")
            if isinstance(item, Mapping) and item.get("type") == "function_call":
                call_id = text_or_none(item.get("call_id")) or text_or_none(item.get("id"))
                acc.tool(
                    ("item", index), id=call_id, name=text_or_none(item.get("name")), order=index
                )
        elif kind == "response.output_item.done":
            add_item(acc, index, doc.get("item"), seen=frozenset(self._seen))
        elif kind in ("response.created", "response.in_progress"):
            response = doc.get("response")
            if isinstance(response, Mapping):
                self._response = {k: v for k, v in response.items() if k != "output"}
        elif kind in _END_EVENTS:
            response = doc.get("response")
            if isinstance(response, Mapping):
                self._response = dict(response)
                output = response.get("output")
                if isinstance(output, list) and output:
                    self._final = _response_turn(response, None)
            if kind == "response.incomplete" and "status" not in self._response:
                self._response["status"] = "incomplete"
            self.done = True
        elif kind == "response.failed":
            response = doc.get("response")
            error = response.get("error") if isinstance(response, Mapping) else None
            message = error_message(error)
            raise StreamErrorEvent(f"Request failed: {message}", server_message=message)
        elif kind == "error":
            error = doc.get("error") if isinstance(doc.get("error"), Mapping) else doc
            message = error_message(error)
            raise StreamErrorEvent(f"Request errored: {message}", server_message=message)
        # every other event (content_part.added, *.done, web_search_call.*): nothing to do

    def turn(self, duration: float | None = None) -> AssistantTurn:
        """The AssistantTurn for everything received so far."""
        response = self._response
        if self._final is not None:
            return AssistantTurn(
                self._final.contents,
                tokens=self._final.tokens,
                finish_reason=self._final.finish_reason,
                duration=duration,
                json=dict(response),
            )
        return AssistantTurn(
            self._acc.contents(),
            tokens=tokens(response.get("usage")),
            finish_reason=finish_reason(response) if self.done else None,
            duration=duration,
            json=dict(response) if response else None,
        )


class OpenAIResponses:
    """The Responses protocol (R: ``ProviderOpenAI``).

    ``service_tier`` is "auto", "default", "flex" or "priority"; every
    request says ``store: false``.
    """

    name = "openai-responses"

    def __init__(
        self, *, service_tier: str = "auto", param_names: Mapping[str, str] = PARAM_NAMES
    ) -> None:
        if service_tier not in SERVICE_TIERS:
            raise ConfigurationError(
                "service_tier must be one of "
                + ", ".join(repr(s) for s in SERVICE_TIERS)
                + f", not {service_tier!r}."
            )
        self.service_tier = service_tier
        self.param_names = dict(param_names)

    def encode_params(self, params: Params | None) -> dict[str, Any]:
        """params() as wire fields (R: ``chat_params``); unsupported ones in one warning."""
        out = standardise_params(params, self.param_names)
        if "stop_sequences" in out:
            out["stop_sequences"] = list(out["stop_sequences"])
        return out

    def needs_wrapper(self, type: Type, *, model: str | None = None) -> bool:
        """Strict JSON schema takes objects only: anything else is wrapped."""
        from .._structured import needs_wrapper

        return needs_wrapper(type)

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
        """``POST responses`` for these turns (R: ``chat_body``)."""
        wire = dict(params)
        effort = wire.pop("reasoning_effort", None)
        log_probs = wire.pop("log_probs", None)
        include = []
        if log_probs is True:
            include.append("message.output_text.logprobs")
        if is_reasoning_model(model):
            include.append("reasoning.encrypted_content")
        body: dict[str, Any] = {"input": input_items(turns)}
        if include:
            body["include"] = include
        body["model"] = model
        body.update(wire)
        body["stream"] = stream
        if tools:
            body["tools"] = [tool_json(t) for t in tools]
        if type is not None:
            body["text"] = text_format(type)
        if effort is not None:
            body["reasoning"] = {"effort": effort, "summary": "auto"}
        body["store"] = False
        body["service_tier"] = self.service_tier
        return WireRequest(
            "responses", body, accept="text/event-stream" if stream else "application/json"
        )

    def count_tokens_request(
        self,
        turns: Sequence[Turn],
        *,
        model: str,
        tools: Sequence[ToolDef] = (),
        type: Type | None = None,
    ) -> WireRequest:
        """``POST responses/input_tokens`` for these turns (R: ``count_tokens()``)."""
        chat = self.build_request(
            turns, model=model, params={}, tools=tools, type=type, stream=False
        )
        return WireRequest("responses/input_tokens", count_body(chat.body, _COUNTED))

    def parse_token_count(self, doc: Any) -> int:
        """``input_tokens`` of the answer."""
        return count_of(doc, "input_tokens")

    def parse_response(self, doc: Any, duration: float | None = None) -> AssistantTurn:
        """The AssistantTurn for a non-streamed ``response`` (R: ``value_turn``)."""
        if not isinstance(doc, Mapping):
            raise MalformedResponseError(
                f"Expected a JSON object from the server, got {type(doc).__name__}."
            )
        error = doc.get("error")
        if error is not None and (doc.get("status") == "failed" or "output" not in doc):
            message = error_message(error)
            raise StreamErrorEvent(
                f"The server answered with an error: {message}", server_message=message
            )
        if not isinstance(doc.get("output"), list):
            raise MalformedResponseError(
                "The server's answer has no 'output' list: " + snippet(doc)
            )
        return _response_turn(doc, duration)

    def open_stream(self) -> OpenAIResponsesDecoder:
        """A decoder for one streamed answer."""
        return OpenAIResponsesDecoder()
