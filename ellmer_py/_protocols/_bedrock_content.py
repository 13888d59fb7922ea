"""ellmer -> Bedrock Converse: messages, content blocks, tools, cache points, model fields.

The request half of the Bedrock protocol (ellmer_py._protocols.bedrock), pure:
R's ``as_json`` methods for ``ProviderAWSBedrock``, ``turn_contents_expand()``,
``as_bedrock_cache_point()`` and ``bedrock_cache_point()`` (R/provider-aws.R).
Bytes (images, PDFs) go as base64 strings, as Converse's JSON takes a blob.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

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
from .._errors import ConfigurationError
from .._turn import SystemTurn, Turn, UserTurn
from ._schema import plain_schema
from ._tool_content import expand_tool_results

__all__ = [
    "CACHE_CHOICES",
    "IMAGE_FORMATS",
    "cache_point",
    "cache_ttl",
    "family",
    "messages",
    "model_fields",
    "tool_json",
]

CACHE_CHOICES = ("auto", "5m", "1h", "none")
#: Media type -> Converse's image ``format`` (R: the ContentImageInline method).
IMAGE_FORMATS: Mapping[str, str] = {
    "image/png": "png",
    "image/gif": "gif",
    "image/jpeg": "jpeg",
    "image/webp": "webp",
}

# A model id, an inference profile (``us.anthropic...``) or an ARN ending in one.
# R matches ``(^|\.)anthropic\.``; ``/`` is added so that ARNs match too.
_FAMILIES = (
    ("anthropic", re.compile(r"(?:^|[./])anthropic\.")),
    ("nova", re.compile(r"(?:^|[./])amazon\.nova")),
    ("openai", re.compile(r"(?:^|[./])openai\.")),
)


def family(model: str) -> str:
    """The model's family as far as the request cares: anthropic, nova, openai, or ""."""
    return next((name for name, pattern in _FAMILIES if pattern.search(model)), "")


def cache_ttl(cache: str, model: str) -> str:
    """Resolve "auto" for ``model``: 5m for Claude and Nova (R: ``as_bedrock_cache_point``)."""
    if cache != "auto":
        return cache
    return "5m" if family(model) in ("anthropic", "nova") else "none"


def cache_point(ttl: str) -> list[dict[str, Any]]:
    """The cache checkpoint block for ``ttl``, or none (R: ``bedrock_cache_point``)."""
    if ttl == "none":
        return []
    point: dict[str, Any] = {"type": "default"}
    if ttl != "5m":
        point["ttl"] = ttl
    return [{"cachePoint": point}]


def model_fields(model: str, wire: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Move top_k and reasoning out of ``wire`` into ``additionalModelRequestFields``.

    The fields are the model's own (Converse has no common name for them):
    Claude takes ``top_k`` and ``thinking`` (``reasoning_effort`` as adaptive
    thinking with ``output_config.effort``, as the Anthropic protocol sends
    it), Nova ``inferenceConfig.topK`` and ``reasoningConfig``, gpt-oss
    ``reasoning_effort``. Returns the fields and the params() names the
    model family cannot take (R sends none of these: only the four
    ``inferenceConfig`` fields).
    """
    top_k = wire.pop("top_k", None)
    effort = wire.pop("reasoning_effort", None)
    budget = wire.pop("budget_tokens", None)
    kind = family(model)
    fields: dict[str, Any] = {}
    ignored: list[str] = []
    if top_k is not None:
        if kind == "anthropic":
            fields["top_k"] = top_k
        elif kind == "nova":
            fields["inferenceConfig"] = {"topK": top_k}
        else:
            ignored.append("top_k")
    if effort is not None:
        if kind == "anthropic":
            fields["thinking"] = {"type": "adaptive"}
            fields["output_config"] = {"effort": effort}
        elif kind == "nova":
            fields["reasoningConfig"] = {"type": "enabled", "maxReasoningEffort": effort}
        elif kind == "openai":
            fields["reasoning_effort"] = effort
        else:
            ignored.append("reasoning_effort")
    if budget is not None:
        if kind == "anthropic" and effort is None:
            fields["thinking"] = {"type": "enabled", "budget_tokens": budget}
        else:
            ignored.append("reasoning_tokens")
    return fields, ignored


# -- content blocks ------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _input(arguments: Any) -> dict[str, Any]:
    """A tool call's input: sent as an object."""
    if isinstance(arguments, Mapping):
        return dict(arguments)
    return {} if arguments in (None, "") else {"value": arguments}


def _thinking(content: ContentThinking, role: str) -> dict[str, Any] | None:
    """A reasoning block, as it came: signed text, or redacted bytes (kept in ``extra``)."""
    extra = content.extra if isinstance(content.extra, Mapping) else {}
    if role != "assistant":
        return None
    redacted = extra.get("redactedContent")
    if isinstance(redacted, str) and redacted:
        return {"reasoningContent": {"redactedContent": redacted}}
    if not content.thinking:
        return None  # R: empty thinking is not sent
    text: dict[str, Any] = {"text": content.thinking}
    signature = extra.get("signature")
    if isinstance(signature, str) and signature:
        text["signature"] = signature
    return {"reasoningContent": {"reasoningText": text}}


def _s3_image(url: str) -> dict[str, Any]:
    """An image in S3 (``s3://bucket/key.png``), the one kind of URL Converse takes."""
    extension = url.rsplit(".", 1)[-1].lower() if "." in url.rsplit("/", 1)[-1] else ""
    fmt = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "gif": "gif", "webp": "webp"}.get(extension)
    if not url.startswith("s3://") or fmt is None:
        raise ConfigurationError(
            "Bedrock takes no image URL but an S3 one (s3://bucket/key.png, .jpeg, .gif or "
            ".webp): download the image and send it inline with content_image_file()."
        )
    return {"image": {"format": fmt, "source": {"s3Location": {"uri": url}}}}


def block(content: Content, role: str, documents: Iterator[int]) -> dict[str, Any] | None:
    """One content block (R: the ``as_json`` methods for ProviderAWSBedrock).

    PDFs are named ``document-1``, ``document-2``... in request order: AWS
    warns that the name is open to prompt injection, so it says nothing.
    """
    if isinstance(content, ContentText):
        return {"text": content.text if content.text.strip() else "[empty string]"}
    if isinstance(content, ContentJson):
        return {"text": json.dumps(content.value, separators=(",", ":"), ensure_ascii=False)}
    if isinstance(content, ContentImageInline):
        fmt = IMAGE_FORMATS.get(content.type)
        if fmt is None:
            raise ConfigurationError(
                f"Image type {content.type!r} is not supported by Bedrock "
                f"(it takes {', '.join(IMAGE_FORMATS)})."
            )
        return {"image": {"format": fmt, "source": {"bytes": _b64(content.data)}}}
    if isinstance(content, ContentImageRemote):
        return _s3_image(content.url)
    if isinstance(content, ContentPDF):
        name = f"document-{next(documents)}"
        return {
            "document": {"name": name, "format": "pdf", "source": {"bytes": _b64(content.data)}}
        }
    if isinstance(content, ContentToolRequest):
        return {
            "toolUse": {
                "toolUseId": content.id,
                "name": content.name,
                "input": _input(content.arguments),
            }
        }
    if isinstance(content, ContentToolResult):
        return {
            "toolResult": {
                "toolUseId": content.id,
                "content": [{"text": content.model_text()}],
                "status": "error" if content.error is not None else "success",
            }
        }
    if isinstance(content, ContentThinking):
        return _thinking(content, role)
    raise ConfigurationError(f"{type(content).__name__} cannot be sent to Bedrock's Converse API.")


def messages(turns: Sequence[Turn], ttl: str) -> list[dict[str, Any]]:
    """The ``messages`` list: one per turn, consecutive same-role turns merged.

    The last message ends with a cache point (R: ``is_last``) unless ``ttl`` is none.
    """
    documents = itertools.count(1)
    out: list[dict[str, Any]] = []
    for turn in turns:
        if isinstance(turn, SystemTurn):
            continue
        role = "user" if isinstance(turn, UserTurn) else "assistant"
        blocks = [block(c, role, documents) for c in expand_tool_results(turn.contents)]
        content = [b for b in blocks if b is not None]
        if not content:
            continue  # Converse rejects a message with no content
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(content)
        else:
            out.append({"role": role, "content": content})
    if out:
        out[-1]["content"].extend(cache_point(ttl))
    return out


def tool_json(tool: Any) -> dict[str, Any]:
    """One tool (R: ``as_json`` of a ToolDef): a ``toolSpec``; built-in tools send their JSON."""
    json_def = getattr(tool, "json", None)
    if isinstance(json_def, Mapping):
        return dict(json_def)
    spec: dict[str, Any] = {"name": tool.name}
    if tool.description:
        spec["description"] = tool.description  # Converse refuses an empty one
    spec["inputSchema"] = {"json": plain_schema(tool.arguments)}
    return {"toolSpec": spec}
