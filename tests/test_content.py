"""The Content classes: attrs frozen slotted values with a ``kind`` tag each."""

from __future__ import annotations

import attrs
import pytest

import ellmer_py
from ellmer_py import (
    Content,
    ContentImage,
    ContentImageInline,
    ContentImageRemote,
    ContentJson,
    ContentPDF,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolResult,
)

#: One instance of every concrete Content class.
EXAMPLES: list[Content] = [
    ContentText("hello"),
    ContentImageRemote("https://example.org/cat.png"),
    ContentImageInline("image/png", b"\x89PNG\r\n"),
    ContentPDF(b"%PDF-1.7"),
    ContentToolRequest("call_1", "get_weather", {"city": "Paris"}),
    ContentToolResult("call_1", value={"temp": 21}),
    ContentThinking("Let me think."),
    ContentJson({"answer": 42}),
]


def test_every_kind_has_its_own_tag() -> None:
    assert [type(c).kind for c in EXAMPLES] == [
        "text",
        "image_remote",
        "image_inline",
        "pdf",
        "tool_request",
        "tool_result",
        "thinking",
        "json",
    ]


@pytest.mark.parametrize("content", EXAMPLES, ids=lambda c: type(c).__name__)
def test_contents_are_frozen_slotted_attrs_classes(content: Content) -> None:
    cls = type(content)
    assert attrs.has(cls)
    assert "__slots__" in cls.__dict__
    assert not hasattr(content, "__dict__")
    field = attrs.fields(cls)[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(content, field, "changed")
    with pytest.raises((AttributeError, TypeError)):
        content.not_a_field = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("content", EXAMPLES, ids=lambda c: type(c).__name__)
def test_contents_are_exported_and_are_content(content: Content) -> None:
    cls = type(content)
    assert getattr(ellmer_py, cls.__name__) is cls
    assert isinstance(content, Content)


def test_both_image_kinds_are_images() -> None:
    assert issubclass(ContentImageRemote, ContentImage)
    assert issubclass(ContentImageInline, ContentImage)
    assert not issubclass(ContentPDF, ContentImage)


def test_defaults() -> None:
    assert ContentImageRemote("u").detail == "auto"
    assert ContentPDF(b"").filename == "document.pdf"
    assert ContentToolRequest("i", "n").arguments == {}
    result = ContentToolResult("i")
    assert (result.value, result.error) == (None, None)
    assert ContentThinking("t").extra is None
    assert ContentJson().value is None


def test_equality_is_by_value_and_by_class() -> None:
    assert ContentText("a") == ContentText("a")
    assert ContentText("a") != ContentText("b")
    assert ContentJson("a") != ContentText("a")
    assert ContentImageInline("image/png", b"x") != ContentImageInline("image/png", b"y")
    assert ContentToolResult("i", value="x") != ContentToolResult("i", error="x")


def test_text_str_is_the_text() -> None:
    assert str(ContentText("hi there")) == "hi there"


def test_inline_image_repr_does_not_dump_the_bytes() -> None:
    image = ContentImageInline("image/png", b"\x89PNG" + bytes(range(256)) * 40)
    assert repr(image) == "ContentImageInline(type='image/png', data=<10244 bytes>)"


def test_pdf_repr_does_not_dump_the_bytes() -> None:
    pdf = ContentPDF(b"%PDF-1.7\n" + b"\x00" * 5000, "report.pdf")
    assert repr(pdf) == "ContentPDF(data=<5009 bytes>, filename='report.pdf')"


@pytest.mark.parametrize(
    ("result", "text"),
    [
        (ContentToolResult("i", value="sunny"), "sunny"),
        (
            ContentToolResult("i", value={"temp": 21, "sky": ["clear"]}),
            '{"temp": 21, "sky": ["clear"]}',
        ),
        (ContentToolResult("i", value=None), "null"),
        (ContentToolResult("i", value=3), "3"),
        (
            ContentToolResult("i", value="ignored", error="boom"),
            "Tool calling failed with error boom",
        ),
    ],
)
def test_tool_result_model_text(result: ContentToolResult, text: str) -> None:
    assert result.model_text() == text
