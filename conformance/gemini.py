"""Scripted answers for the Gemini protocol (``"gemini"``).

Written from the Gemini API reference (https://ai.google.dev/api/generate-content),
not from ellmer-py's encoder. ``answer()`` is one ``GenerateContentResponse``;
``stream()`` is ``streamGenerateContent?alt=sse``: server-sent events whose
data is each a whole ``GenerateContentResponse`` carrying the next piece.
Parts come in the order thought, text, functionCall.

Conventions of the suite, in Gemini's terms:

- finish reasons: ``stop`` and ``tool_calls`` -> ``STOP`` (Gemini has no
  tool-call reason), ``length`` -> ``MAX_TOKENS``, ``content_filter`` ->
  ``SAFETY``; Gemini's own names pass through;
- usage: ``promptTokenCount`` includes the cached tokens
  (``cachedContentTokenCount``); ``candidatesTokenCount`` is the output and
  ``totalTokenCount`` their sum. Streamed, every chunk but the last reports
  the prompt only;
- function calls carry Gemini's ``id`` and ``args`` as an object, whole in
  one chunk (the API does not stream arguments). ``raw_arguments`` that are
  not JSON are sent as a JSON *string* in ``args``: the API never does that,
  but it is the only way to carry unusable arguments;
- errors: ``{"error": {"code", "message", "status"}}`` (google.rpc.Status).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._protocol import Answer, Media, ToolCall, Usage
from .fake_server import Reply

__all__ = ["FAKE", "GeminiFake", "chunks", "finish_reason", "response", "sse_bytes", "status_of"]

_MODEL = "conformance-model"
_ID = "conformance-response"
_REASONS = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
}
# https://cloud.google.com/apis/design/errors#handling_errors (google.rpc.Code)
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def finish_reason(answer: Answer) -> str:
    """The ``finishReason`` Gemini sends for ``answer.finish_reason``."""
    reason = answer.finish_reason
    if reason in _REASONS:
        return _REASONS[reason]
    if reason.isupper():
        return reason
    raise ValueError(f"no Gemini finishReason for the finish reason {reason!r}")


def status_of(status: int) -> str:
    """``error.status`` for an HTTP status."""
    return _STATUS.get(status, "FAILED_PRECONDITION" if status < 500 else "UNKNOWN")


def _usage(usage: Usage, output: int) -> dict[str, Any]:
    if not 0 <= usage.cached <= usage.input:
        raise ValueError(f"cached tokens are part of the input tokens: {usage}")
    out = {
        "promptTokenCount": usage.input,
        "candidatesTokenCount": output,
        "totalTokenCount": usage.input + output,
    }
    if usage.cached:
        out["cachedContentTokenCount"] = usage.cached
    return out


def _args(call: ToolCall) -> Any:
    if call.raw_arguments is None:
        return call.arguments
    try:
        return json.loads(call.raw_arguments)
    except (ValueError, RecursionError):
        return call.raw_arguments  # not JSON: a string (see the module docstring)


def _call_part(call: ToolCall) -> dict[str, Any]:
    return {"functionCall": {"id": call.id, "name": call.name, "args": _args(call)}}


def _doc(parts: list[dict[str, Any]], reason: str | None, usage: dict[str, Any]) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if reason is not None:
        candidate["finishReason"] = reason
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": _MODEL,
        "responseId": _ID,
    }


def response(answer: Answer) -> dict[str, Any]:
    """The non-streamed ``GenerateContentResponse`` for ``answer``."""
    parts: list[dict[str, Any]] = []
    if answer.thinking_pieces:
        parts.append({"text": answer.thinking, "thought": True})
    if answer.text_pieces:
        parts.append({"text": answer.text})
    parts += [_call_part(call) for call in answer.tool_calls]
    return _doc(parts, finish_reason(answer), _usage(answer.usage, answer.usage.output))


def chunks(answer: Answer) -> list[dict[str, Any]]:
    """The responses that stream ``answer``: one per piece; the last has the finish reason."""
    pieces: list[list[dict[str, Any]]] = [
        [{"text": p, "thought": True}] for p in answer.thinking_pieces
    ]
    pieces += [[{"text": p}] for p in answer.text_pieces]
    pieces += [[_call_part(call)] for call in answer.tool_calls]
    if not pieces:
        pieces = [[{"text": ""}]]
    prompt_only = {"promptTokenCount": answer.usage.input, "totalTokenCount": answer.usage.input}
    out = [_doc(parts, None, dict(prompt_only)) for parts in pieces[:-1]]
    out.append(_doc(pieces[-1], finish_reason(answer), _usage(answer.usage, answer.usage.output)))
    return out


def _sse(doc: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(doc).encode() + b"\r\n\r\n"


def sse_bytes(answer: Answer) -> bytes:
    """The whole ``alt=sse`` stream for ``answer``."""
    return b"".join(_sse(doc) for doc in chunks(answer))


def _split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def _text_positions(docs: list[dict[str, Any]]) -> list[int]:
    return [
        i
        for i, doc in enumerate(docs)
        for part in doc["candidates"][0]["content"]["parts"]
        if "text" in part and not part.get("thought") and part["text"]
    ]


# -- reading request bodies ---------------------------------------------------------


def _contents(body: Any, role: str) -> list[Mapping[str, Any]]:
    contents = body.get("contents") if isinstance(body, Mapping) else None
    if not isinstance(contents, list):
        return []
    parts: list[Mapping[str, Any]] = []
    for content in contents:
        if not isinstance(content, Mapping):
            raise AssertionError(f"a content that is not an object: {content!r:.200}")
        if content.get("role", "user") != role:
            continue
        found = content.get("parts")
        if not isinstance(found, list):
            raise AssertionError(f"a content without a parts list: {content!r:.200}")
        for part in found:
            if not isinstance(part, Mapping):
                raise AssertionError(f"a part that is not an object: {part!r:.200}")
            parts.append(part)
    return parts


def _field(doc: Mapping[str, Any], camel: str, snake: str) -> Any:
    """A field by its JSON name or its proto name (the API takes both)."""
    return doc.get(camel, doc.get(snake))


def _blob(data: Mapping[str, Any]) -> Media:
    mime = _field(data, "mimeType", "mime_type")
    try:
        raw = base64.b64decode(str(data.get("data")), validate=True)
    except (binascii.Error, ValueError):
        raise AssertionError(f"inlineData with invalid base64: {data!r:.200}") from None
    if mime == "application/pdf":
        return Media("pdf", raw)
    if isinstance(mime, str) and mime.startswith("image/"):
        return Media("image", raw, mime=mime)
    raise AssertionError(f"inlineData of a type the suite does not read: {mime!r}")


def _gemini_to_json_schema(schema: Any) -> Any:
    """A Gemini ``Schema`` as the suite's JSON schema: types lower-case, objects closed."""
    if isinstance(schema, list):
        return [_gemini_to_json_schema(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {k: _gemini_to_json_schema(v) for k, v in schema.items()}
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].lower()
    if out.get("type") == "object":
        out.setdefault("additionalProperties", False)  # Gemini's objects allow no others
    return out


class GeminiFake:
    """The Gemini half of the conformance suite."""

    name = "gemini"
    #: Gemini's ``Blob`` carries no file name (R sends none either).
    pdf_filenames = False

    def answer(self, answer: Answer) -> Reply:
        """The answer as one ``GenerateContentResponse``."""
        return Reply.json(response(answer))

    def stream(self, answer: Answer, cuts: Sequence[int] = ()) -> Reply:
        """The answer as an ``alt=sse`` stream, its bytes split into HTTP chunks at ``cuts``."""
        return Reply.sse(_split(sse_bytes(answer), cuts))

    def cut_stream(self, answer: Answer) -> Reply:
        """Every chunk up to the last text piece, then the connection closes."""
        docs = chunks(answer)
        texts = _text_positions(docs)
        end = texts[-1] + 1 if texts else 1
        return Reply.cut(*(_sse(d) for d in docs[:end]))

    def stalled_stream(self, answer: Answer, seconds: float) -> Reply:
        """Every chunk up to the first text piece, a pause of ``seconds``, then the rest."""
        docs = [_sse(d) for d in chunks(answer)]
        texts = _text_positions(chunks(answer))
        first = texts[0] + 1 if texts else 1
        return Reply.sse([b"".join(docs[:first]), b"".join(docs[first:])], delay=seconds)

    def malformed(self, *, stream: bool) -> Reply:
        """A 200 answer whose JSON ends too soon (streamed: after a good chunk)."""
        if stream:
            good = _sse(chunks(Answer(text_pieces=("Hi", "!")))[0])
            return Reply.sse([good, b'data: {"candidates": [{"content": {"par\r\n\r\n'])
        return Reply.raw(200, b'{"candidates": [{"content": ', "application/json")

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        """``{"error": {"code", "message", "status"}}``."""
        doc = {"error": {"code": status, "message": message, "status": status_of(status)}}
        return Reply.json(doc, status=status, headers=headers or {})

    def expected_tokens(self, usage: Usage) -> tuple[int, int, int]:
        """R ellmer's rule: input = prompt - cached, output = total - prompt, cached."""
        sent = _usage(usage, usage.output)
        cached = sent.get("cachedContentTokenCount", 0)
        prompt = sent["promptTokenCount"]
        return prompt - cached, sent["totalTokenCount"] - prompt, cached

    def system_prompt(self, body: Any) -> str | None:
        """``systemInstruction``: a Content whose text parts are joined ("" is none)."""
        if not isinstance(body, Mapping):
            return None
        system = _field(body, "systemInstruction", "system_instruction")
        if system is None:
            return None
        parts = system.get("parts") if isinstance(system, Mapping) else None
        if isinstance(parts, Mapping):
            parts = [parts]
        if not isinstance(parts, list):
            raise AssertionError(f"systemInstruction must be a Content: {system!r:.200}")
        texts = []
        for part in parts:
            text = part.get("text") if isinstance(part, Mapping) else None
            if not isinstance(text, str):
                raise AssertionError(f"systemInstruction holds a part that is not text: {part!r}")
            texts.append(text)
        return "".join(texts) or None

    def user_text(self, body: Any) -> str:
        """The text parts of every user content, joined."""
        return "".join(
            str(p["text"]) for p in _contents(body, "user") if isinstance(p.get("text"), str)
        )

    def media(self, body: Any) -> list[Media]:
        """``inlineData`` (images, PDFs) and ``fileData`` (URLs) of the user contents."""
        out: list[Media] = []
        for part in _contents(body, "user"):
            inline = _field(part, "inlineData", "inline_data")
            file = _field(part, "fileData", "file_data")
            if isinstance(inline, Mapping):
                out.append(_blob(inline))
            elif isinstance(file, Mapping):
                uri = _field(file, "fileUri", "file_uri")
                mime = _field(file, "mimeType", "mime_type")
                kind = "pdf_url" if mime == "application/pdf" else "image_url"
                out.append(Media(kind, uri))
            elif not ({"text", "functionResponse", "function_response"} & set(part)):
                raise AssertionError(f"a user part the suite does not read: {part!r:.200}")
        return out

    def tools_offered(self, body: Any) -> dict[str, dict[str, Any]]:
        """``tools[].functionDeclarations``; built-in tools (google_search, ...) skipped."""
        tools = body.get("tools") if isinstance(body, Mapping) else None
        out: dict[str, dict[str, Any]] = {}
        for tool in tools if isinstance(tools, list) else []:
            if not isinstance(tool, Mapping):
                raise AssertionError(f"a tool that is not an object: {tool!r:.200}")
            declarations = _field(tool, "functionDeclarations", "function_declarations")
            for item in declarations if isinstance(declarations, list) else []:
                name = item.get("name") if isinstance(item, Mapping) else None
                if not isinstance(name, str):
                    raise AssertionError(f"a function declaration without a name: {item!r:.200}")
                parameters = item.get("parameters")
                if parameters is None:
                    parameters = item.get("parametersJsonSchema", {})
                out[name] = {
                    "description": item.get("description"),
                    "parameters": _gemini_to_json_schema(parameters),
                }
        return out

    def tool_calls_sent(self, body: Any) -> list[ToolCall]:
        """The ``functionCall`` parts of the model contents (id, or the name when none)."""
        out = []
        for part in _contents(body, "model"):
            call = _field(part, "functionCall", "function_call")
            if isinstance(call, Mapping):
                name = str(call.get("name"))
                out.append(
                    ToolCall(
                        id=str(call.get("id") or name), name=name, arguments=call.get("args", {})
                    )
                )
        return out

    def tool_results_sent(self, body: Any) -> list[tuple[str, str]]:
        """The ``functionResponse`` parts of the user contents: (id or name, text)."""
        out = []
        for part in _contents(body, "user"):
            result = _field(part, "functionResponse", "function_response")
            if not isinstance(result, Mapping):
                continue
            key = str(result.get("id") or result.get("name"))
            value = result.get("response")
            if isinstance(value, Mapping) and len(value) == 1:
                (value,) = value.values()
            out.append((key, value if isinstance(value, str) else json.dumps(value)))
        return out

    def structured_schema(self, body: Any) -> Any:
        """``generationConfig.responseSchema`` (or ``responseJsonSchema``) with a JSON MIME type."""
        config = (
            _field(body, "generationConfig", "generation_config")
            if isinstance(body, Mapping)
            else None
        )
        if config is None:
            return None
        if not isinstance(config, Mapping):
            raise AssertionError(f"generationConfig must be an object: {config!r:.200}")
        schema = _field(config, "responseSchema", "response_schema")
        full = _field(config, "responseJsonSchema", "response_json_schema")
        if schema is None and full is None:
            return None
        if schema is not None and full is not None:
            raise AssertionError("responseSchema and responseJsonSchema cannot both be set")
        mime = _field(config, "responseMimeType", "response_mime_type")
        if mime != "application/json":
            raise AssertionError(
                f"a response schema needs responseMimeType application/json, not {mime!r}"
            )
        return full if full is not None else _gemini_to_json_schema(schema)

    def needs_wrapper(self, schema: Any) -> bool:
        """Never: a response schema may be any type."""
        return False


FAKE = GeminiFake()
