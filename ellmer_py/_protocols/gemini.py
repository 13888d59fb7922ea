"""The Gemini ``generateContent`` wire protocol, as pure functions (no I/O).

Turns + params -> ``POST models/{model}:generateContent`` (or
``:streamGenerateContent?alt=sse``); a ``GenerateContentResponse``, or a
stream of them (each SSE event is a whole response carrying the next
pieces), -> an AssistantTurn. R: ``ProviderGoogleGemini``'s ``chat_body``,
``as_json`` methods, ``value_turn`` and ``merge_gemini_chunks``
(R/provider-google.R).

Gemini's ``thoughtSignature`` (on function calls, and on text parts) is kept
in the content's ``extra`` and sent back on the same part.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

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
)
from .._errors import ConfigurationError, MalformedResponseError, StreamErrorEvent
from .._params import Params, standardise_params
from .._turn import AssistantTurn, SystemTurn, Tokens, Turn, UserTurn
from .._type_classes import TypeJsonSchema
from . import WireRequest, count_body, count_of
from ._accumulator import StreamAccumulator, count, snippet, text_or_none
from ._schema import gemini_schema
from ._sse_events import SSEEventDecoder, decode_event
from ._tool_content import expand_tool_results

if TYPE_CHECKING:
    from .._tools import ToolDef
    from .._types import Type

__all__ = ["PARAM_NAMES", "GeminiDecoder", "GeminiProtocol", "finish_reason", "tokens"]

#: R's mapping, wire name -> params() name (R: ``chat_params``).
PARAM_NAMES: Mapping[str, str] = {
    "temperature": "temperature",
    "topP": "top_p",
    "topK": "top_k",
    "frequencyPenalty": "frequency_penalty",
    "presencePenalty": "presence_penalty",
    "seed": "seed",
    "maxOutputTokens": "max_tokens",
    "responseLogprobs": "log_probs",
    "stopSequences": "stop_sequences",
    "thinkingBudget": "reasoning_tokens",
    "thinkingLevel": "reasoning_effort",
}

_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)


def tokens(usage: Any) -> Tokens | None:
    """R's rule: input = prompt - cached, output = total - prompt, cached apart."""
    if not isinstance(usage, Mapping):
        return None
    prompt = count(usage.get("promptTokenCount"))
    total = count(usage.get("totalTokenCount"))
    cached = min(count(usage.get("cachedContentTokenCount")), prompt)
    if total == 0:  # no total: the parts it is made of
        total = prompt + sum(
            count(usage.get(k))
            for k in ("candidatesTokenCount", "thoughtsTokenCount", "toolUsePromptTokenCount")
        )
    return Tokens(input=prompt - cached, output=max(total - prompt, 0), cached_input=cached)


def finish_reason(reason: Any) -> str | None:
    """The finish reason in ellmer's words (R: ``value_finish_reason``)."""
    if type(reason) is not str or not reason or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    if reason == "STOP":
        return "success"
    if reason == "MAX_TOKENS":
        return "max_tokens"
    return "content_filter" if reason in _FILTERED else reason


def error_message(error: Any) -> str:
    """Google's ``{"code", "message", "status"}`` as ``message [status]``."""
    if not isinstance(error, Mapping):
        return snippet(error, 300)
    message = error.get("message")
    status = error.get("status")
    text = message if isinstance(message, str) and message else snippet(error, 300)
    return f"{text} [{status}]" if isinstance(status, str) and status else text


# -- ellmer -> Gemini ----------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _signed(part: dict[str, Any], extra: Any) -> dict[str, Any]:
    if isinstance(extra, Mapping):
        signature = extra.get("thoughtSignature")
        if isinstance(signature, str) and signature:
            part["thoughtSignature"] = signature
    return part


def _args(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, Mapping):
        return dict(arguments)
    return {} if arguments in (None, "") else {"value": arguments}


def _part(content: Content, names: Mapping[str, str]) -> dict[str, Any] | None:
    """One part (R: the ``as_json`` methods for ProviderGoogleGemini)."""
    if isinstance(content, ContentText):
        extra = content.extra
        if content.text == "" and not (isinstance(extra, Mapping) and "thoughtSignature" in extra):
            return None  # Gemini refuses an empty text part back
        return _signed({"text": content.text}, extra)
    if isinstance(content, ContentJson):
        return {"text": json.dumps(content.value, separators=(",", ":"), ensure_ascii=False)}
    if isinstance(content, ContentThinking):
        return _signed({"thought": True, "text": content.thinking}, content.extra)
    if isinstance(content, ContentImageInline):
        return {"inlineData": {"mimeType": content.type, "data": _b64(content.data)}}
    if isinstance(content, ContentPDF):
        return {"inlineData": {"mimeType": "application/pdf", "data": _b64(content.data)}}
    if isinstance(content, ContentImageRemote):
        # R refuses remote images; the API takes a URL as fileData: accepted.
        return {"fileData": {"fileUri": content.url}}
    if isinstance(content, ContentToolRequest):
        call: dict[str, Any] = {"name": content.name, "args": _args(content.arguments)}
        if content.id and content.id != content.name:
            call["id"] = content.id
        return _signed({"functionCall": call}, content.extra)
    if isinstance(content, ContentToolResult):
        name = names.get(content.id, content.id)
        response: dict[str, Any] = {"name": name, "response": {"value": content.model_text()}}
        if content.id != name:
            response["id"] = content.id
        return {"functionResponse": response}
    uri = getattr(content, "uri", None)
    mime = getattr(content, "mime_type", None)
    if isinstance(uri, str) and isinstance(mime, str):  # an uploaded file (R: ContentUploaded)
        return {"fileData": {"mimeType": mime, "fileUri": uri}}
    raise ConfigurationError(f"{type(content).__name__} cannot be sent to Gemini.")


def _contents(turns: Sequence[Turn]) -> list[dict[str, Any]]:
    """``contents``: one per turn (roles user / model), consecutive same roles merged."""
    names = {
        c.id: c.name for turn in turns for c in turn.contents if isinstance(c, ContentToolRequest)
    }
    out: list[dict[str, Any]] = []
    for turn in turns:
        if isinstance(turn, SystemTurn):
            continue
        role = "user" if isinstance(turn, UserTurn) else "model"
        # a tool result that is an image or a PDF points to it below (R: turn_contents_expand)
        contents = expand_tool_results(turn.contents) if role == "user" else turn.contents
        parts = [p for p in (_part(c, names) for c in contents) if p is not None]
        if not parts:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["parts"].extend(parts)
        else:
            out.append({"role": role, "parts": parts})
    return out


def _tools(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """User functions as one ``functionDeclarations`` entry, then the built-in tools."""
    declarations: list[dict[str, Any]] = []
    builtins: list[dict[str, Any]] = []
    for tool in tools:
        json_def = getattr(tool, "json", None)
        if isinstance(json_def, Mapping):
            builtins.append(dict(json_def))
            continue
        declaration: dict[str, Any] = {"name": tool.name}
        if tool.description:
            declaration["description"] = tool.description
        parameters = gemini_schema(tool.arguments)
        if parameters:
            declaration["parameters"] = parameters
        declarations.append(declaration)
    return ([{"functionDeclarations": declarations}] if declarations else []) + builtins


# -- Gemini -> ellmer ----------------------------------------------------------------


def _inline(data: Any) -> Content | None:
    if not isinstance(data, Mapping):
        return None
    mime, raw = data.get("mimeType"), data.get("data")
    if not isinstance(mime, str) or not isinstance(raw, str):
        return None
    try:
        decoded = base64.b64decode(raw, validate=False)
    except (binascii.Error, ValueError):
        return None
    if mime == "application/pdf":
        return ContentPDF(decoded)
    return ContentImageInline(mime, decoded)


def _fixed(content: Content | None) -> Callable[[Any, Any], Content | None]:
    return lambda arguments, extra: content


class _Parts:
    """Parts of one answer, in order: text (and thought) runs joined, calls apart."""

    __slots__ = ("_last", "_n", "acc", "raw")

    def __init__(self) -> None:
        self.acc = StreamAccumulator()
        self.raw: list[Any] = []
        self._n = 0
        self._last: tuple[str, int] | None = None

    def _key(self, kind: str) -> int:
        if self._last is not None and self._last[0] == kind:
            return self._last[1]
        self._n += 1
        self._last = (kind, self._n)
        return self._n

    def add(self, part: Any, out: list[Content] | None = None) -> None:
        if not isinstance(part, Mapping):
            return
        self.raw.append(part)
        acc = self.acc
        signature = text_or_none(part.get("thoughtSignature"))
        text = part.get("text")
        call = part.get("functionCall")
        if isinstance(text, str):
            kind = "thought" if part.get("thought") is True else "text"
            key = self._key(kind)
            if kind == "thought":
                acc.thinking(key, text)
            else:
                acc.text(key, text)
            if signature:
                acc.extra(key, "thoughtSignature", signature)
            if out is not None and text:
                out.append(ContentThinking(text) if kind == "thought" else ContentText(text))
        elif isinstance(call, Mapping):
            self._last = None
            self._n += 1
            name = text_or_none(call.get("name")) or ""
            call_id = text_or_none(call.get("id")) or name
            acc.tool(self._n, id=call_id or None, name=name)
            args = call.get("args")
            acc.arguments(self._n, args if args is not None else {})
            if signature:
                acc.extra(self._n, "thoughtSignature", signature)
        elif "inlineData" in part:
            self._last = None
            self._n += 1
            content = _inline(part.get("inlineData"))
            acc.block(self._n, _fixed(content))
        elif signature and self._last is not None:
            acc.extra(self._last[1], "thoughtSignature", signature)
        # executableCode, codeExecutionResult, toolCall / toolResponse of
        # server-side tools: kept in the turn's json only (R skips them)

    def contents(self) -> tuple[Content, ...]:
        return self.acc.contents()


def _candidate(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    candidates = doc.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], Mapping):
        return candidates[0]
    return None


def _check_blocked(doc: Mapping[str, Any]) -> None:
    """A prompt Gemini refused (``promptFeedback.blockReason``, no candidates): an error."""
    feedback = doc.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, Mapping) else None
    if _candidate(doc) is None and isinstance(reason, str) and reason:
        message = f"Gemini blocked the prompt: {reason}"
        detail = feedback.get("blockReasonMessage") if isinstance(feedback, Mapping) else None
        if isinstance(detail, str) and detail:
            message += f" ({detail})"
        raise StreamErrorEvent(message + ".", server_message=reason)


def _check_error(doc: Mapping[str, Any]) -> None:
    if "error" in doc and "candidates" not in doc:
        message = error_message(doc.get("error"))
        raise StreamErrorEvent(
            f"The server answered with an error: {message}", server_message=message
        )


class GeminiDecoder(SSEEventDecoder):
    """Decodes ``streamGenerateContent?alt=sse``: every event is a whole response."""

    __slots__ = ("_candidate", "_meta", "_parts", "_usage")

    def __init__(self) -> None:
        super().__init__()  # self.done stays False: Gemini marks no end, the body ending is it
        self._parts = _Parts()
        self._meta: dict[str, Any] = {}
        self._candidate: dict[str, Any] = {}
        self._usage: Any = None

    @property
    def complete(self) -> bool:
        """Whether a finish reason arrived."""
        return self._parts.acc.finish_reason is not None

    def event(self, name: str, data: str, out: list[Content]) -> None:
        """Take one event's data (a GenerateContentResponse)."""
        if not data.strip():
            return
        doc = decode_event("message", data)
        if isinstance(doc, list):  # a JSON-array stream (no alt=sse): each item a response
            for item in doc:
                if isinstance(item, Mapping):
                    self._take(item, out)
            return
        if not isinstance(doc, Mapping):
            raise MalformedResponseError(
                f"The stream carried JSON that is not an object: {data[:200]!r}"
            )
        self._take(doc, out)

    def _take(self, doc: Mapping[str, Any], out: list[Content]) -> None:
        _check_error(doc)
        _check_blocked(doc)
        self._meta.update({k: v for k, v in doc.items() if k != "candidates"})
        if isinstance(doc.get("usageMetadata"), Mapping):
            self._usage = doc["usageMetadata"]
        candidate = _candidate(doc)
        if candidate is None:
            return
        self._candidate.update({k: v for k, v in candidate.items() if k != "content"})
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, Mapping) else None
        for part in parts if isinstance(parts, list) else []:
            self._parts.add(part, out)
        reason = candidate.get("finishReason")
        if isinstance(reason, str) and reason:
            self._parts.acc.finish_reason = reason

    def turn(self, duration: float | None = None) -> AssistantTurn:
        """The AssistantTurn for everything received so far."""
        parts = self._parts
        candidate = {**self._candidate, "content": {"role": "model", "parts": list(parts.raw)}}
        doc = {**self._meta, "candidates": [candidate]} if parts.raw or self._meta else None
        return AssistantTurn(
            parts.contents(),
            tokens=tokens(self._usage),
            finish_reason=finish_reason(parts.acc.finish_reason),
            duration=duration,
            json=doc,
        )


class GeminiProtocol:
    """The Gemini protocol (R: ``ProviderGoogleGemini``); Vertex AI speaks it too.

    ``vertex`` is Vertex AI's dialect: no
    ``toolConfig.includeServerSideToolInvocations`` (the Gemini API takes
    it, Vertex AI refuses it), and ``countTokens`` bodies not wrapped in
    ``generateContentRequest``.
    """

    name = "gemini"

    def __init__(
        self, *, vertex: bool = False, param_names: Mapping[str, str] = PARAM_NAMES
    ) -> None:
        self.vertex = vertex
        self.param_names = dict(param_names)

    def encode_params(self, params: Params | None) -> dict[str, Any]:
        """params() as ``generationConfig`` fields (one warning lists the unsupported ones)."""
        out = standardise_params(params, self.param_names)
        if "stopSequences" in out and not isinstance(out["stopSequences"], str):
            out["stopSequences"] = list(out["stopSequences"])
        return out

    def needs_wrapper(self, type: Type, *, model: str | None = None) -> bool:
        """Never: ``responseSchema`` takes any type (R wraps for OpenAI only)."""
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
        """``models/{model}:generateContent`` for these turns (R: ``chat_body``)."""
        system = turns[0].text if turns and isinstance(turns[0], SystemTurn) else ""
        config = dict(params)
        if type is not None:
            config["responseMimeType"] = "application/json"
            if isinstance(type, TypeJsonSchema):  # a whole JSON schema: Gemini's full-schema field
                config["responseJsonSchema"] = dict(type.json)
            else:
                config["responseSchema"] = gemini_schema(type)
        thinking = {k: config.pop(k) for k in ("thinkingBudget", "thinkingLevel") if k in config}
        if thinking:
            config["thinkingConfig"] = {**thinking, "includeThoughts": True}
        body: dict[str, Any] = {"contents": _contents(turns)}
        tool_defs = _tools(tools)
        if tool_defs:
            body["tools"] = tool_defs
            builtin = [isinstance(getattr(t, "json", None), Mapping) for t in tools]
            if not self.vertex and any(builtin) and not all(builtin):
                body["toolConfig"] = {"includeServerSideToolInvocations": True}
        body["systemInstruction"] = {"parts": [{"text": system}]}
        if config:
            body["generationConfig"] = config
        method = "streamGenerateContent" if stream else "generateContent"
        return WireRequest(
            f"models/{quote(model, safe='')}:{method}",
            body,
            query={"alt": "sse"} if stream else {},
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
        """``models/{model}:countTokens`` for these turns (R: ``count_tokens()``).

        The Gemini API takes the request wrapped in ``generateContentRequest``
        with the model named; Vertex AI takes it as it is. Only the schema of
        ``generationConfig`` is sent, as R does.
        """
        chat = self.build_request(
            turns, model=model, params={}, tools=tools, type=type, stream=False
        )
        body = count_body(chat.body, ("contents", "tools", "systemInstruction", "generationConfig"))
        if not self.vertex:
            body = {"generateContentRequest": {**body, "model": f"models/{model}"}}
        return WireRequest(f"models/{quote(model, safe='')}:countTokens", body)

    def parse_token_count(self, doc: Any) -> int:
        """``totalTokens`` of the answer."""
        return count_of(doc, "totalTokens")

    def parse_response(self, doc: Any, duration: float | None = None) -> AssistantTurn:
        """The AssistantTurn for a non-streamed response (R: ``value_turn``)."""
        if isinstance(doc, list) and doc and all(isinstance(d, Mapping) for d in doc):
            decoder = GeminiDecoder()
            for item in doc:
                decoder._take(item, [])
            return decoder.turn(duration)
        if not isinstance(doc, Mapping):
            raise MalformedResponseError(
                f"Expected a JSON object from the server, got {type(doc).__name__}."
            )
        _check_error(doc)
        _check_blocked(doc)
        candidate = _candidate(doc)
        if candidate is None and "usageMetadata" not in doc:
            raise MalformedResponseError("The server's answer has no candidates: " + snippet(doc))
        parts = _Parts()
        content = candidate.get("content") if candidate is not None else None
        raw = content.get("parts") if isinstance(content, Mapping) else None
        for part in raw if isinstance(raw, list) else []:
            parts.add(part)
        reason = candidate.get("finishReason") if candidate is not None else None
        return AssistantTurn(
            parts.contents(),
            tokens=tokens(doc.get("usageMetadata")),
            finish_reason=finish_reason(reason),
            duration=duration,
            json=dict(doc),
        )

    def open_stream(self) -> GeminiDecoder:
        """A decoder for one streamed answer."""
        return GeminiDecoder()
