"""How a conversation looks: ``print(chat)`` as R's ``print.Chat``, and in a notebook.

``str(chat)`` (what ``print(chat)`` shows) is R's layout: a header with the
provider, model, number of turns, tokens and cost, then each turn under a
rule naming its role, with its contents as R's ``format()`` methods write
them. ``chat._repr_markdown_()`` is what Jupyter shows. ``repr(chat)`` stays
the one-line ``<Chat ...>`` of ``Chat.__repr__``.
"""

from __future__ import annotations

import shutil
import sys
from functools import singledispatch
from typing import TYPE_CHECKING

from ._content import (
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
from ._display_contents import data_uri, pretty_json
from ._echo import _result_text, format_call
from ._tokens import total_tokens
from ._turn import AssistantPartialTurn, AssistantTurn, Tokens, Turn

if TYPE_CHECKING:
    from ._provider import Provider

__all__ = ["ChatDisplayMixin", "format_content", "format_turn"]

#: An inline image up to this many bytes is shown in a notebook; a larger one is named.
MAX_NOTEBOOK_IMAGE = 512 * 1024


class ChatDisplayMixin:
    """``print(chat)`` and the notebook display of ``Chat`` (R: ``print.Chat``)."""

    _provider: Provider

    if TYPE_CHECKING:

        def get_turns(self, include_system_prompt: bool = False) -> list[Turn]: ...

    def __str__(self) -> str:
        """The conversation as R's ``print(chat)`` shows it; rules fit the terminal's width."""
        turns = self.get_turns(include_system_prompt=True)
        width = shutil.get_terminal_size((80, 24)).columns
        out = [_header(self._provider, turns) + "\n"]
        for turn in turns:
            out.append(_rule(turn.role + _label(turn), width) + "\n")
            out.append(format_turn(turn))
        return "".join(out)

    def _repr_markdown_(self) -> str:
        """The conversation as markdown, for Jupyter: role labels, tool calls as code."""
        turns = self.get_turns(include_system_prompt=True)
        out = [f"`{_header(self._provider, turns)}`"]
        for turn in turns:
            label = _label(turn).strip()
            out.append(f"**{turn.role.capitalize()}**" + (f" `{label}`" if label else ""))
            out.extend(p for p in map(_notebook, turn.contents) if p)
        return "\n\n".join(out) + "\n"


# -- the header and the rules -------------------------------------------------------------


def _header(provider: Provider, turns: list[Turn]) -> str:
    """``<Chat name/model turns=n input=.. output=.. cost=$..>`` over the complete answers."""
    answers = [
        t for t in turns if isinstance(t, AssistantTurn) and not isinstance(t, AssistantPartialTurn)
    ]
    # tokens a provider did not report count as 0 (as R's value_tokens() and get_tokens());
    # R sums the cost with NA: one answer of unknown cost makes the total unknown
    tokens = total_tokens(answers)
    costs = [t.cost for t in answers]
    cost = None if None in costs else sum(c for c in costs if c is not None)
    usage = _usage(tokens, cost)
    return f"<Chat {provider.name}/{provider.model} turns={len(turns)} {usage}>"


def _label(turn: Turn) -> str:
    """What the rule above a turn says after its role (R: ``turn_cost()``)."""
    if isinstance(turn, AssistantPartialTurn):
        return f" [{turn.reason or 'interrupted'}]"
    if isinstance(turn, AssistantTurn):
        return f" [{_usage(turn.tokens, turn.cost)}]"
    return ""


def _usage(tokens: Tokens | None, cost: float | None) -> str:
    """``input=10+5 output=3 cost=$0.01``: cached input after the ``+``; cost when known."""
    if tokens is None:
        out = "input=NA output=NA"
    else:
        cached = f"+{tokens.cached_input}" if tokens.cached_input > 0 else ""
        out = f"input={tokens.input}{cached} output={tokens.output}"
    return out if cost is None else f"{out} cost={dollars(cost)}"


def dollars(cost: float) -> str:
    """A cost as R's ``format(dollars(x))`` writes it: ``$0.20``."""
    return f"${cost:.2f}"


def _rule(label: str, width: int) -> str:
    """``── label ───...`` filling ``width`` (R: ``cli::cat_rule()``); ``-`` where no UTF-8."""
    line = "\u2500" if _can_write("\u2500") else "-"
    left = f"{line * 2} {label} "
    return left + line * max(0, width - len(left))


def _can_write(char: str) -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        char.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


# -- a turn and its contents as text (R: the format() methods) ----------------------------


def format_turn(turn: Turn) -> str:
    """Each content of ``turn`` on its own line(s) (R: ``format(<Turn>)``)."""
    return "".join(format_content(c) + "\n" for c in turn.contents)


@singledispatch
def format_content(content: Content) -> str:
    """One content as ``print(chat)`` shows it (R: ``format(<Content>)``)."""
    if type(content).__str__ is not object.__str__:
        return str(content)
    return f"<{type(content).__name__}>"


@format_content.register
def _(content: ContentText) -> str:
    return content.text


@format_content.register
def _(content: ContentImageRemote) -> str:
    return f"[remote image]: <{content.url}>"


@format_content.register
def _(content: ContentImageInline) -> str:
    return "[inline image]"


@format_content.register
def _(content: ContentPDF) -> str:
    return "<PDF document>"


@format_content.register
def _(content: ContentToolRequest) -> str:
    return f"[tool request ({content.id})]: {format_call(content)}"


@format_content.register
def _(content: ContentToolResult) -> str:
    header = f"[tool result ({content.id})]:"
    value = _tool_value(content)
    return f"{header}\n{value}" if "\n" in value else f"{header} {value}"


@format_content.register
def _(content: ContentJson) -> str:
    return f"[data] {pretty_json(content.value)}"


@format_content.register
def _(content: ContentThinking) -> str:
    return f"<thinking>\n{content.thinking}\n</thinking>\n"


def _tool_value(result: ContentToolResult) -> str:
    return f"Error: {result.error}" if result.error is not None else _result_text(result)


# -- a content in a notebook --------------------------------------------------------------


def _notebook(content: Content) -> str:
    """One content as markdown for Jupyter: text as is, the rest labelled or in code blocks."""
    if isinstance(content, ContentText):
        return content.text
    if isinstance(content, ContentThinking):
        quoted = "\n".join(f"> {line}".rstrip() for line in content.thinking.splitlines())
        return "> *Thinking*\n>\n" + quoted
    if isinstance(content, ContentToolRequest):
        return f"**Tool request** `{content.id}`\n\n" + _code(format_call(content), "python")
    if isinstance(content, ContentToolResult):
        failed = " (error)" if content.error is not None else ""
        return f"**Tool result** `{content.id}`{failed}\n\n" + _code(_tool_value(content))
    if isinstance(content, ContentJson):
        return _code(pretty_json(content.value), "json")
    if isinstance(content, ContentImageInline):
        if len(content.data) <= MAX_NOTEBOOK_IMAGE:
            return f"![image]({data_uri(content)})"
        return f"*[inline image: {content.type}, {len(content.data):,} bytes]*"
    if isinstance(content, ContentImageRemote):
        return f"![image](<{_angle_safe(content.url)}>)"
    if isinstance(content, ContentPDF):
        return f"*[PDF document: {content.filename}]*"
    return _code(format_content(content))


def _code(text: str, info: str = "") -> str:
    """``text`` in a fenced code block whose fence no backtick run inside can close."""
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _angle_safe(url: str) -> str:
    """A URL that fits in markdown's ``<...>`` link destination."""
    return url.replace("<", "%3C").replace(">", "%3E").replace("\n", "%0A")
