"""A tool result that is an image or a PDF, for APIs whose tool results are text.

R's ``turn_contents_expand()``: the result points below, and the content
follows in the same user message between ``<tool-content>`` tags. Checked on
the shared helper and on each protocol that uses it.
"""

from __future__ import annotations

import base64
from typing import Any

from ellmer_py import (
    AssistantTurn,
    ContentImageInline,
    ContentPDF,
    ContentText,
    ContentToolRequest,
    ContentToolResult,
    UserTurn,
)
from ellmer_py._protocols._tool_content import expand_tool_results
from ellmer_py._protocols.anthropic import AnthropicMessages
from ellmer_py._protocols.openai_chat import OpenAIChat
from ellmer_py._protocols.openai_responses import OpenAIResponses

PNG = b"\x89PNG\r\n\x1a\n-fake"
IMAGE = ContentImageInline("image/png", PNG)
OPEN = '<tool-content call-id="c1">'


def turns() -> list[Any]:
    return [
        UserTurn("Show me the chart"),
        AssistantTurn([ContentToolRequest("c1", "chart", {}), ContentToolRequest("c2", "n", {})]),
        UserTurn([ContentToolResult("c1", IMAGE), ContentToolResult("c2", 3)]),
    ]


def test_expand_points_below_and_puts_results_first() -> None:
    pdf = ContentPDF(b"%PDF-1.4", filename="a.pdf")
    out = expand_tool_results(
        [
            ContentText("before"),
            ContentToolResult("c1", IMAGE),
            ContentToolResult("c2", [IMAGE, pdf]),
            ContentToolResult("c3", "plain"),
            ContentToolResult("c4", IMAGE, error="boom"),
        ]
    )
    assert out == [
        ContentToolResult("c1", f"See {OPEN} below."),
        ContentToolResult("c2", 'See <tool-contents call-id="c2"> below.'),
        ContentToolResult("c3", "plain"),
        ContentToolResult("c4", IMAGE, error="boom"),  # an error stays an error
        ContentText("before"),
        ContentText(OPEN),
        IMAGE,
        ContentText("</tool-content>"),
        ContentText('<tool-contents call-id="c2">'),
        ContentText("<tool-content>"),
        IMAGE,
        ContentText("</tool-content>"),
        ContentText("<tool-content>"),
        pdf,
        ContentText("</tool-content>"),
        ContentText("</tool-contents>"),
    ]
    text, result = ContentText("x"), ContentToolResult("c", "y")
    assert expand_tool_results([text, result]) == [result, text]  # results first, as R
    assert expand_tool_results([text]) == [text]


def test_anthropic_sends_the_image_after_the_tool_result() -> None:
    body = (
        AnthropicMessages(cache="none")
        .build_request(turns(), model="claude-sonnet-5", params={}, stream=False)
        .body
    )
    last = body["messages"][-1]
    assert last["role"] == "user"
    kinds = [(b["type"], b.get("tool_use_id"), b.get("text")) for b in last["content"]]
    assert kinds == [
        ("tool_result", "c1", None),
        ("tool_result", "c2", None),
        ("text", None, OPEN),
        ("image", None, None),
        ("text", None, "</tool-content>"),
    ]
    assert last["content"][0]["content"] == f"See {OPEN} below."
    image = last["content"][3]["source"]
    assert image["media_type"] == "image/png"
    assert base64.b64decode(image["data"]) == PNG


def test_openai_chat_sends_tool_messages_then_the_image_as_user_content() -> None:
    body = OpenAIChat().build_request(turns(), model="m", params={}, stream=False).body
    tool1, tool2, user = body["messages"][-3:]
    assert tool1 == {"role": "tool", "content": f"See {OPEN} below.", "tool_call_id": "c1"}
    assert tool2 == {"role": "tool", "content": "3", "tool_call_id": "c2"}
    assert user["role"] == "user"
    assert [p["type"] for p in user["content"]] == ["text", "image_url", "text"]
    assert user["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_openai_responses_sends_the_image_as_an_input_image() -> None:
    body = OpenAIResponses().build_request(turns(), model="gpt-5", params={}, stream=False).body
    outputs = [i for i in body["input"] if i.get("type") == "function_call_output"]
    assert [o["output"] for o in outputs] == [f"See {OPEN} below.", "3"]
    after = body["input"][body["input"].index(outputs[-1]) + 1 :]
    parts = [p for item in after for p in item["content"]]
    assert [p["type"] for p in parts] == ["input_text", "input_image", "input_text"]
    assert parts[1]["image_url"].startswith("data:image/png;base64,")


def test_gemini_sends_the_image_as_inline_data_after_the_function_response() -> None:
    from ellmer_py._protocols.gemini import GeminiProtocol

    body = GeminiProtocol().build_request(turns(), model="m", params={}, stream=False).body
    parts = body["contents"][-1]["parts"]
    assert [next(iter(p)) for p in parts] == [
        "functionResponse",
        "functionResponse",
        "text",
        "inlineData",
        "text",
    ]
    assert parts[0]["functionResponse"]["response"] == {"value": f"See {OPEN} below."}
    assert parts[3]["inlineData"]["mimeType"] == "image/png"
    assert base64.b64decode(parts[3]["inlineData"]["data"]) == PNG
