"""The Content classes: the pieces a Turn is made of (R: ``Content*``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, ClassVar

from attrs import field, frozen

__all__ = [
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
    "data_url",
]


@frozen
class Content:
    """Base class of every content kind; ``kind`` tags it in records."""

    kind: ClassVar[str] = "content"


@frozen(repr=False)
class ContentText(Content):
    """Plain text (R: ``ContentText``)."""

    kind: ClassVar[str] = "text"
    text: str
    #: Provider data kept with the text (Anthropic citations), or None.
    extra: Any = None

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        extra = f", extra={self.extra!r}" if self.extra is not None else ""
        return f"ContentText(text={self.text!r}{extra})"


@frozen
class ContentImage(Content):
    """Base class of the two image kinds (R: ``ContentImage``)."""

    kind: ClassVar[str] = "image"


@frozen
class ContentImageRemote(ContentImage):
    """An image the provider fetches from a URL (R: ``ContentImageRemote``)."""

    kind: ClassVar[str] = "image_remote"
    url: str
    detail: str = "auto"


@frozen
class ContentImageInline(ContentImage):
    """An image sent as bytes, with its MIME type (R: ``ContentImageInline``)."""

    kind: ClassVar[str] = "image_inline"
    type: str
    data: bytes = field(repr=lambda b: f"<{len(b)} bytes>")


@frozen
class ContentPDF(Content):
    """A PDF document sent as bytes (R: ``ContentPDF``)."""

    kind: ClassVar[str] = "pdf"
    data: bytes = field(repr=lambda b: f"<{len(b)} bytes>")
    filename: str = "document.pdf"


@frozen
class ContentToolRequest(Content):
    """The model asks for a tool to be called (R: ``ContentToolRequest``)."""

    kind: ClassVar[str] = "tool_request"
    id: str
    name: str
    arguments: Any = field(factory=dict)
    #: Provider data that must go back with the call (Gemini thought signatures), or None.
    extra: Any = None


@frozen
class ContentToolResult(Content):
    """The result (or error) of a tool call (R: ``ContentToolResult``)."""

    kind: ClassVar[str] = "tool_result"
    id: str
    value: Any = None
    error: str | None = None

    def model_text(self) -> str:
        """What the model is shown: the error, or the value as text (R: ``tool_string()``)."""
        if self.error is not None:
            return f"Tool calling failed with error {self.error}"
        if isinstance(self.value, str):
            return self.value
        contents = _contents_of(self.value)
        if contents is not None:
            # an image (or other content) returned by a tool: protocols that can send it
            # as content do; the others show the model where it stands
            return "\n".join(
                c.text if isinstance(c, ContentText) else f"[{type(c).__name__}]" for c in contents
            )
        try:
            return json.dumps(self.value)
        except (TypeError, ValueError, RecursionError):
            return str(self.value)


def data_url(type: str, data: bytes) -> str:
    """``data:<type>;base64,<data>``: how an inline image or PDF travels as a URL."""
    import base64

    return f"data:{type};base64,{base64.b64encode(data).decode('ascii')}"


def _contents_of(value: Any) -> list[Content] | None:
    """``value`` as a list of Content when it is a Content or a non-empty list of them."""
    if isinstance(value, Content):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Content) for v in value):
        return list(value)
    return None


@frozen
class ContentThinking(Content):
    """The model's reasoning, when it shows it (R: ``ContentThinking``)."""

    kind: ClassVar[str] = "thinking"
    thinking: str
    #: Provider data that must go back with it (Anthropic ``signature``), or None.
    extra: Any = None


@frozen
class ContentJson(Content):
    """Structured data the model returned (R: ``ContentJson``)."""

    kind: ClassVar[str] = "json"
    value: Any = None


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


# -- server-side (built-in) tools: run by the provider, kept in the turn --------


@frozen
class ContentToolRequestSearch(Content):
    """The model searched the web with a provider's built-in tool (R: ``ContentToolRequestSearch``).

    ``json`` is the provider's block, sent back as it came.
    """

    kind: ClassVar[str] = "tool_request_search"
    query: str
    json: Any = None

    def __str__(self) -> str:
        return f"[web search request]: {self.query!r}"


@frozen
class ContentToolResponseSearch(Content):
    """Results of a built-in web search (R: ``ContentToolResponseSearch``)."""

    kind: ClassVar[str] = "tool_response_search"
    urls: tuple[str, ...] = field(factory=tuple, converter=_str_tuple)
    json: Any = None

    def __str__(self) -> str:
        return "[web search results]:\n" + "".join(f"* {u}\n" for u in self.urls)


@frozen
class ContentToolRequestFetch(Content):
    """The model fetched a URL with a provider's built-in tool (R: ``ContentToolRequestFetch``)."""

    kind: ClassVar[str] = "tool_request_fetch"
    url: str
    json: Any = None

    def __str__(self) -> str:
        return f"[web fetch request]: {self.url}"


@frozen
class ContentToolResponseFetch(Content):
    """What a built-in web fetch returned (R: ``ContentToolResponseFetch``)."""

    kind: ClassVar[str] = "tool_response_fetch"
    url: str
    json: Any = None

    def __str__(self) -> str:
        return f"[web fetch result]: {self.url}"
