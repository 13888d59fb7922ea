"""The Content classes: the pieces a Turn is made of (R: ``Content*``)."""

from __future__ import annotations

import json
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
    "ContentToolResult",
]


@frozen
class Content:
    """Base class of every content kind; ``kind`` tags it in records."""

    kind: ClassVar[str] = "content"


@frozen
class ContentText(Content):
    """Plain text (R: ``ContentText``)."""

    kind: ClassVar[str] = "text"
    text: str

    def __str__(self) -> str:
        return self.text


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
        return json.dumps(self.value)


@frozen
class ContentThinking(Content):
    """The model's reasoning, when it shows it (R: ``ContentThinking``)."""

    kind: ClassVar[str] = "thinking"
    thinking: str
    extra: Any = None


@frozen
class ContentJson(Content):
    """Structured data the model returned (R: ``ContentJson``)."""

    kind: ClassVar[str] = "json"
    value: Any = None
