"""Tests of how a conversation looks: ``_display``, ``_display_contents``, ``_markdown_html``.

``print(chat)`` is compared with R's own snapshots of ``print.Chat``
(tests/testthat/_snaps/chat.md in ellmer, written where the terminal is not
UTF-8, so its rules are ``-``), and the ``contents_*()`` outputs with R's
snapshots in _snaps/content.md. Chats are built with ``set_turns()``, and
through real exchanges with the loopback fake server for the header's tokens
and cost.
"""

from __future__ import annotations

import base64
import io
import sys
from typing import Any

import pytest
from test_tokens import LLAMA, answer, clean_env, expected_cost, fresh_usage, route, srv
from test_tokens import hf as priced_hf
from test_tools import call, calls_answer, text_answer

from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    Chat,
    ConfigurationError,
    ContentImageInline,
    ContentImageRemote,
    ContentJson,
    ContentPDF,
    ContentText,
    ContentThinking,
    ContentToolRequest,
    ContentToolRequestSearch,
    ContentToolResult,
    Provider,
    Round,
    SystemTurn,
    Tokens,
    UserTurn,
    contents_html,
    contents_markdown,
    contents_text,
    tool,
)
from ellmer_py._markdown_html import markdown_html

__all__ = ["clean_env", "fresh_usage", "srv"]  # fixtures used here, from test_tokens

PNG = base64.b64decode("abcd")  # three bytes whose base64 is R's snapshot's "abcd"


def make_chat(name: str = "OpenAI", model: str = "gpt-4o", system: str | None = None) -> Chat:
    """A chat whose provider is never called: the turns are set by hand."""
    return Chat(Provider(name=name, model=model, base_url="http://127.0.0.1:9"), system)


def rule(label: str, width: int = 80, line: str = "-") -> str:
    head = f"{line * 2} {label} "
    return head + line * (width - len(head))


def terminal(monkeypatch: pytest.MonkeyPatch, encoding: str = "ascii", columns: int = 80) -> None:
    """A terminal of ``columns`` whose encoding is ``encoding`` (R's snapshots: 80, not UTF-8).

    Called in the test itself: pytest puts its capturing stream back as
    ``sys.stdout`` after the fixtures have run.
    """
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding=encoding))


# -- print(chat): R's snapshots -------------------------------------------------------------


def test_print_is_rs_basic_print_method(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal(monkeypatch)
    chat = make_chat(model="gpt-5.4-nano", system="Be terse. Respond with only the answer.")
    chat.set_turns(
        [
            UserTurn(["What's 1 + 1?", "What's 1 + 2?"]),
            AssistantTurn("2\n\n3", tokens=Tokens(10, 5, 5)),
        ]
    )
    assert str(chat) == (
        "<Chat OpenAI/gpt-5.4-nano turns=3 input=10+5 output=5>\n"
        "-- system ----------------------------------------------------------------------\n"
        "Be terse. Respond with only the answer.\n"
        "-- user ------------------------------------------------------------------------\n"
        "What's 1 + 1?\n"
        "What's 1 + 2?\n"
        "-- assistant [input=10+5 output=5] ---------------------------------------------\n"
        "2\n"
        "\n"
        "3\n"
    )


def test_print_shows_interrupted_for_partial_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal(monkeypatch)
    chat = make_chat()
    chat.set_turns(
        [
            UserTurn("Input 1"),
            AssistantTurn("Output 1", tokens=Tokens(15000, 500), cost=0.2),
            UserTurn("Input 2"),
            AssistantPartialTurn("Partial output...", tokens=Tokens(1, 2)),
        ]
    )
    expected = (
        "<Chat OpenAI/gpt-4o turns=4 input=15000 output=500 cost=$0.20>\n"
        "-- user ------------------------------------------------------------------------\n"
        "Input 1\n"
        "-- assistant [input=15000 output=500 cost=$0.20] -------------------------------\n"
        "Output 1\n"
        "-- user ------------------------------------------------------------------------\n"
        "Input 2\n"
        "-- assistant [interrupted] -----------------------------------------------------\n"
        "Partial output...\n"
    )
    assert str(chat) == expected
    out = io.StringIO()
    print(chat, file=out)
    assert out.getvalue() == expected + "\n"


def test_print_shows_a_custom_reason_and_zero_totals(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal(monkeypatch)
    chat = make_chat()
    chat.set_turns(
        [UserTurn("Input 1"), AssistantPartialTurn("Partial output...", reason="cancelled")]
    )
    assert str(chat) == (
        "<Chat OpenAI/gpt-4o turns=2 input=0 output=0 cost=$0.00>\n"
        "-- user ------------------------------------------------------------------------\n"
        "Input 1\n"
        "-- assistant [cancelled] -------------------------------------------------------\n"
        "Partial output...\n"
    )


def test_print_shows_cumulative_tokens_and_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal(monkeypatch)
    chat = make_chat()
    chat.set_turns(
        [
            UserTurn("Input 1"),
            AssistantTurn("Output 1", tokens=Tokens(15000, 500), cost=0.2),
            UserTurn("Input 2"),
            AssistantTurn("Output 1", tokens=Tokens(30000, 1000), cost=0.1),
        ]
    )
    assert str(chat).splitlines()[0] == (
        "<Chat OpenAI/gpt-4o turns=4 input=45000 output=1500 cost=$0.30>"
    )
    assert str(chat).splitlines()[3] == rule("assistant [input=15000 output=500 cost=$0.20]")
    assert str(chat).splitlines()[7] == rule("assistant [input=30000 output=1000 cost=$0.10]")


def test_an_unpriced_answer_hides_the_total_cost_and_unknown_tokens_show_na(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal(monkeypatch)
    chat = make_chat()
    chat.set_turns(
        [UserTurn("a"), AssistantTurn("b", tokens=Tokens(1, 2), cost=0.5), UserTurn("c")]
    )
    assert str(chat).startswith("<Chat OpenAI/gpt-4o turns=3 input=1 output=2 cost=$0.50>\n")
    chat.set_turns([*chat.get_turns(), AssistantTurn("d", tokens=Tokens(3, 4))])
    assert str(chat).startswith("<Chat OpenAI/gpt-4o turns=4 input=4 output=6>\n")
    chat.set_turns([UserTurn("a"), AssistantTurn("b")])  # tokens unknown: NA, counted as 0
    assert str(chat).splitlines()[0] == "<Chat OpenAI/gpt-4o turns=2 input=0 output=0>"
    assert str(chat).splitlines()[3] == rule("assistant [input=NA output=NA]")


def test_every_content_kind_prints_as_r_formats_it(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal(monkeypatch)
    chat = make_chat()
    chat.set_turns(
        [
            UserTurn(
                [
                    ContentText("Look:"),
                    ContentImageRemote("https://example.com/a.png"),
                    ContentImageInline("image/png", PNG),
                    ContentPDF(b"%PDF-1.4", "report.pdf"),
                ]
            ),
            AssistantTurn(
                [
                    ContentThinking("Hmm."),
                    ContentToolRequest("call_1", "weather", {"city": "Paris", "days": 2}),
                    ContentToolRequestSearch("ellmer"),
                ],
                tokens=Tokens(10, 5),
            ),
            UserTurn(
                [
                    ContentToolResult("call_1", value={"temp": 20}),
                    ContentToolResult("call_2", value="line 1\nline 2"),
                    ContentToolResult("call_3", error="boom"),
                ]
            ),
            AssistantTurn([ContentJson({"a": [1, 2], "b": "apple", "c": {}})], tokens=Tokens(1, 1)),
        ]
    )
    assert str(chat) == (
        "<Chat OpenAI/gpt-4o turns=4 input=11 output=6>\n" + rule("user") + "\nLook:\n"
        "[remote image]: <https://example.com/a.png>\n"
        "[inline image]\n"
        "<PDF document>\n"
        + rule("assistant [input=10 output=5]")
        + "\n<thinking>\nHmm.\n</thinking>\n\n"
        "[tool request (call_1)]: weather(city='Paris', days=2)\n"
        "[web search request]: 'ellmer'\n"
        + rule("user")
        + '\n[tool result (call_1)]: {"temp": 20}\n'
        "[tool result (call_2)]:\nline 1\nline 2\n"
        "[tool result (call_3)]: Error: boom\n"
        + rule("assistant [input=1 output=1]")
        + '\n[data] {\n  "a": [1, 2],\n  "b": "apple",\n  "c": {}\n}\n'
    )


def test_rules_use_box_drawing_where_utf8_and_fit_the_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal(monkeypatch, "utf-8")
    chat = make_chat()
    chat.set_turns([UserTurn("hi")])
    assert str(chat).splitlines()[1] == "\u2500\u2500 user " + "\u2500" * 72
    terminal(monkeypatch, "utf-8", columns=30)
    assert str(chat).splitlines()[1] == "\u2500\u2500 user " + "\u2500" * 22
    terminal(monkeypatch, "utf-8", columns=5)  # narrower than the label: no fill, nothing cut
    assert str(chat).splitlines()[1] == "\u2500\u2500 user "


def test_repr_stays_one_short_line() -> None:
    chat = make_chat(system="Be terse.")
    chat.set_turns([UserTurn("x" * 500), AssistantTurn("y" * 500, tokens=Tokens(3, 4))])
    assert repr(chat) == "<Chat OpenAI/gpt-4o turns=2 tokens=3/4>"
    assert str(chat) != repr(chat)


# -- print(chat) after real exchanges -------------------------------------------------------


def test_header_has_the_tokens_and_cost_of_real_answers(
    srv: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal(monkeypatch)
    route(srv, answer("one", 1_000_000, 200_000), answer("two", 3000, 50, upstream="nebius"))
    chat = priced_hf(srv)
    chat.chat("hi")
    chat.chat("again")
    cost = expected_cost(LLAMA, "novita", 1_000_000, 200_000) + expected_cost(
        LLAMA, "nebius", 3000, 50
    )
    first = expected_cost(LLAMA, "novita", 1_000_000, 200_000)
    assert cost >= 0.01  # so that the header's $ amount is not $0.00
    lines = str(chat).splitlines()
    assert lines[0] == (
        f"<Chat HuggingFace/{LLAMA} turns=4 input=1003000 output=200050 cost=${cost:.2f}>"
    )
    assert lines[1:5] == [
        rule("user"),
        "hi",
        rule(f"assistant [input=1000000 output=200000 cost=${first:.2f}]"),
        "one",
    ]


def test_a_real_tool_loop_prints_requests_and_results(
    srv: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal(monkeypatch)

    def square_root(number: float) -> float:
        """The square root."""
        return float(number) ** 0.5

    chat = priced_hf(srv, model="org/model", pricing=False)
    chat.register_tool(tool(square_root))
    srv.enqueue(calls_answer(call("call_1", "square_root", '{"number": 16}')), text_answer("4."))
    chat.chat("Square root of 16?")
    assert str(chat).splitlines() == [
        "<Chat HuggingFace/org/model turns=4 input=10 output=5>",
        rule("user"),
        "Square root of 16?",
        rule("assistant [input=10 output=5]"),
        "[tool request (call_1)]: square_root(number=16)",
        rule("user"),
        "[tool result (call_1)]: 4.0",
        rule("assistant [input=NA output=NA]"),  # the answer gave no usage
        "4.",
    ]


# -- the notebook display -------------------------------------------------------------------


def test_repr_markdown_labels_roles_and_fences_tool_calls() -> None:
    chat = make_chat(system="Be terse.")
    chat.set_turns(
        [
            UserTurn(["Sum?", ContentImageInline("image/png", PNG), ContentPDF(b"%PDF", "a.pdf")]),
            AssistantTurn(
                [ContentThinking("Add.\n\nDone."), ContentToolRequest("c1", "add", {"x": 1})],
                tokens=Tokens(5, 2),
                cost=0.01,
            ),
            UserTurn(
                [
                    ContentToolResult("c1", value="has ``` inside"),
                    ContentToolResult("c2", error="no"),
                ]
            ),
            AssistantTurn([ContentText("**3**"), ContentJson({"n": 3})], tokens=Tokens(8, 1)),
        ]
    )
    assert chat._repr_markdown_() == (
        "`<Chat OpenAI/gpt-4o turns=5 input=13 output=3>`\n\n"
        "**System**\n\nBe terse.\n\n"
        "**User**\n\nSum?\n\n![image](data:image/png;base64,abcd)\n\n*[PDF document: a.pdf]*\n\n"
        "**Assistant** `[input=5 output=2 cost=$0.01]`\n\n"
        "> *Thinking*\n>\n> Add.\n>\n> Done.\n\n"
        "**Tool request** `c1`\n\n```python\nadd(x=1)\n```\n\n"
        "**User**\n\n"
        "**Tool result** `c1`\n\n````\nhas ``` inside\n````\n\n"
        "**Tool result** `c2` (error)\n\n```\nError: no\n```\n\n"
        "**Assistant** `[input=8 output=1]`\n\n"
        '**3**\n\n```json\n{\n  "n": 3\n}\n```\n'
    )


def test_notebook_names_a_large_inline_image_instead_of_embedding_it() -> None:
    chat = make_chat()
    big = b"\0" * (600 * 1024)
    chat.set_turns(
        [
            UserTurn(
                [ContentImageInline("image/jpeg", big), ContentImageRemote("https://x.y/a b.png")]
            )
        ]
    )
    md = chat._repr_markdown_()
    assert "*[inline image: image/jpeg, 614,400 bytes]*" in md
    assert "base64" not in md
    assert "![image](<https://x.y/a b.png>)" in md


def test_ipython_displays_the_chat_as_markdown() -> None:
    from IPython.core.formatters import DisplayFormatter

    chat = make_chat()
    chat.set_turns([UserTurn("hi <there>"), AssistantTurn("hello", tokens=Tokens(1, 1))])
    data, _ = DisplayFormatter().format(chat)
    assert data["text/markdown"] == chat._repr_markdown_()
    assert data["text/plain"] == repr(chat)


# -- contents_text(), contents_markdown(), contents_html(): R's snapshots -------------------


def r_turn() -> UserTurn:
    return UserTurn(
        [
            ContentText("User input."),
            ContentImageInline("image/png", PNG),
            ContentImageRemote("https://example.com/image.jpg"),
            ContentJson({"a": [1, 2], "b": "apple"}),
        ]
    )


R_TURN_MARKDOWN = (
    "User input.\n\n"
    "![](data:image/png;base64,abcd)\n\n"
    "![](https://example.com/image.jpg)\n\n"
    '```json\n{\n  "a": [1, 2],\n  "b": "apple"\n}\n```\n'
)


def test_turn_contents_as_text_markdown_and_html() -> None:
    turn = r_turn()
    assert contents_text(turn) == "User input."
    assert contents_markdown(turn) == R_TURN_MARKDOWN
    assert contents_html(turn) == (
        "<p>User input.</p>\n\n"
        '<img src="data:image/png;base64,abcd">\n'
        '<img src="https://example.com/image.jpg">\n'
        "<pre><code>{\n  &quot;a&quot;: [1, 2],\n"
        "  &quot;b&quot;: &quot;apple&quot;\n}</code></pre>\n"
    )


def test_chat_contents_as_markdown_leaves_out_the_system_prompt() -> None:
    chat = make_chat(system="Secret.")
    assert contents_markdown(chat) == ""
    chat.set_turns([r_turn(), AssistantTurn("Here's your answer.")])
    assert contents_markdown(chat) == (
        f"## User\n\n{R_TURN_MARKDOWN}\n\n## Assistant\n\nHere's your answer."
    )
    assert contents_markdown(chat, heading_level=3).startswith("### User\n\n")
    with pytest.raises(ConfigurationError, match="heading_level"):
        contents_markdown(chat, heading_level=0)


def test_chat_and_round_contents_as_text_and_html() -> None:
    turns = [UserTurn("Q & A?"), AssistantTurn(["Yes ", ContentThinking("t"), "*really*"])]
    chat = make_chat(system="Secret.")
    chat.set_turns(turns)
    text = "<user>\nQ & A?\n</user>\n\n<assistant>\nYes *really*\n</assistant>"
    html = (
        "<h2>User</h2>\n<p>Q &amp; A?</p>\n\n"
        "<h2>Assistant</h2>\n<p>Yes</p>\n\n"
        "<details><summary>Thinking</summary>\n<p>t</p>\n</details>\n\n"
        "<p><em>really</em></p>\n"
    )
    assert contents_text(chat) == text
    assert contents_html(chat) == html
    rnd = Round([SystemTurn("Secret."), turns[0]], [turns[1]])
    assert contents_text(rnd) == "<system>\nSecret.\n</system>\n\n" + text
    assert contents_markdown(rnd).startswith("## System\n\nSecret.\n\n## User\n\nQ & A?")


def test_thinking_has_rs_representations() -> None:
    ct = ContentThinking("A **thought**.")
    assert (
        contents_html(ct)
        == "<details><summary>Thinking</summary>\n<p>A <strong>thought</strong>.</p>\n</details>\n"
    )
    assert contents_markdown(ct) == "<thinking>\nA **thought**.\n</thinking>\n"
    assert contents_text(ct) is None


def test_contents_without_a_representation_give_none_and_are_left_out() -> None:
    request = ContentToolRequest("c1", "f", {})
    result = ContentToolResult("c1", value=1)
    pdf = ContentPDF(b"%PDF")
    for content in (request, result, pdf):
        assert contents_text(content) is None
        assert contents_markdown(content) is None
        assert contents_html(content) is None
    turn = AssistantTurn(["a", request, "b"])
    assert contents_text(turn) == "ab"
    assert contents_markdown(turn) == "a\n\nb"
    assert contents_html(turn) == "<p>a</p>\n\n<p>b</p>\n"
    assert contents_text(ContentImageRemote("https://x")) is None


def test_contents_functions_refuse_other_things() -> None:
    for function in (contents_text, contents_markdown, contents_html):
        with pytest.raises(
            ConfigurationError, match=r"takes a Chat, a Round, a Turn or a Content object, not str"
        ):
            function("hello")  # type: ignore[arg-type]


def test_html_escapes_what_the_text_and_attributes_hold() -> None:
    text = ContentText('a < b & c "q" <script>alert(1)</script>')
    assert contents_html(text) == (
        "<p>a &lt; b &amp; c &quot;q&quot; &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    )
    image = ContentImageRemote('https://x.y/a.png"><script>')
    assert contents_html(image) == '<img src="https://x.y/a.png&quot;&gt;&lt;script&gt;">'
    data = ContentJson({"html": "</code><b>"})
    assert contents_html(data) == (
        "<pre><code>{\n  &quot;html&quot;: &quot;&lt;/code&gt;&lt;b&gt;&quot;\n}</code></pre>\n"
    )
    link = ContentText("[x](javascript:alert(1)) and [ok](https://a.b?c=1&d=2)")
    assert contents_html(link) == (
        '<p>[x](javascript:alert(1)) and <a href="https://a.b?c=1&amp;d=2">ok</a></p>\n'
    )


# -- markdown_html(): CommonMark's output for the subset models write -------------------------

MARKDOWN = [
    ("line1\nline2\n\npara2", "<p>line1\nline2</p>\n<p>para2</p>\n"),
    (
        "# H\n\n- a\n- b\n\n1. x\n2. y",
        "<h1>H</h1>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n<ol>\n<li>x</li>\n<li>y</li>\n</ol>\n",
    ),
    ("```py\nx < 1\n```", '<pre><code class="language-py">x &lt; 1\n</code></pre>\n'),
    ("`a<b` and ``a ` b``", "<p><code>a&lt;b</code> and <code>a ` b</code></p>\n"),
    ("<https://a.b>", '<p><a href="https://a.b">https://a.b</a></p>\n'),
    ("> quote\n> more", "<blockquote>\n<p>quote\nmore</p>\n</blockquote>\n"),
    ("3. a\n4. b", '<ol start="3">\n<li>a</li>\n<li>b</li>\n</ol>\n'),
    ("a  \nb\\\nc", "<p>a<br />\nb<br />\nc</p>\n"),
    ("\\*not\\* ***", "<p>*not* ***</p>\n"),
    ("x\n\n***\ny", "<p>x</p>\n<hr />\n<p>y</p>\n"),
    (
        "_em_ and __st__, snake_case_name, 2*3*4",
        "<p><em>em</em> and <strong>st</strong>, snake_case_name, 2<em>3</em>4</p>\n",
    ),
    ("***a*** *a **b** c*", "<p><em><strong>a</strong></em> <em>a <strong>b</strong> c</em></p>\n"),
    ("- a\n\n- b", "<ul>\n<li>\n<p>a</p>\n</li>\n<li>\n<p>b</p>\n</li>\n</ul>\n"),
    ("    code < 1", "<pre><code>code &lt; 1\n</code></pre>\n"),
    ("Title\n=====\n\nSub\n---", "<h1>Title</h1>\n<h2>Sub</h2>\n"),
    ("- a\n  - b\n- c", "<ul>\n<li>a\n<ul>\n<li>b</li>\n</ul>\n</li>\n<li>c</li>\n</ul>\n"),
    ("text\n- item", "<p>text</p>\n<ul>\n<li>item</li>\n</ul>\n"),
    ("text\n2. no", "<p>text\n2. no</p>\n"),
    (
        '![alt *x*](data:image/png;base64,AAA) [l **b**](https://x.y "T")',
        '<p><img src="data:image/png;base64,AAA" alt="alt x" /> '
        '<a href="https://x.y" title="T">l <strong>b</strong></a></p>\n',
    ),
    ("| a | b |\n|---|---|", "<p>| a | b |\n|---|---|</p>\n"),
    ("## Heading ##\n#nohead", "<h2>Heading</h2>\n<p>#nohead</p>\n"),
    ("", ""),
]


@pytest.mark.parametrize(("source", "html"), MARKDOWN)
def test_markdown_html_matches_commonmark(source: str, html: str) -> None:
    assert markdown_html(source) == html


@pytest.mark.parametrize(
    "source",
    [
        "*a " * 20000,
        "_a " * 20000,
        "[" * 50000,
        "> " * 5000 + "x",
        "- " * 5000 + "x",
        "a" + " " * 50000 + "b",
    ],
)
def test_markdown_html_copes_with_hostile_input(source: str) -> None:
    """Deep nesting and long runs neither recurse without end nor take quadratic time."""
    html = markdown_html(source)
    assert html.startswith("<") and html.endswith("\n")
