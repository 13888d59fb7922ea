"""A chat, a turn or a content as text, markdown or HTML.

(R: ``contents_text()``, ``contents_markdown()``, ``contents_html()``.) Each
is a generic over Content (one function per content kind, registered with
``functools.singledispatch``), Turn, Round and Chat. A content with nothing to show
in that form gives None, and a turn leaves it out: ``contents_text()`` keeps
only text, ``contents_markdown()`` adds images, JSON and thinking, and
``contents_html()`` renders the text's markdown (escaping any HTML in it).
"""

from __future__ import annotations

import json
from functools import singledispatch
from typing import Any, Protocol, overload

from ._content import (
    Content,
    ContentImageInline,
    ContentImageRemote,
    ContentJson,
    ContentText,
    ContentThinking,
    data_url,
)
from ._errors import ConfigurationError
from ._markdown_html import escape_html, markdown_html
from ._rounds import Round
from ._turn import Turn

__all__ = ["contents_html", "contents_markdown", "contents_text", "pretty_json"]


class Conversation(Protocol):
    """What these functions need of a ``Chat`` (named here without importing it)."""

    def get_turns(self, include_system_prompt: bool = False) -> list[Turn]: ...


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON, arrays of scalars on one line (R: ``pretty_json()``).

    This is jsonlite's ``toJSON(pretty = TRUE, auto_unbox = TRUE)`` layout;
    a value JSON can't hold is shown with ``str()``.
    """
    return _pretty(value, "")


def _pretty(value: Any, indent: str) -> str:
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{_scalar(str(k))}: {_pretty(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, (list, tuple)):
        if not any(isinstance(v, (dict, list, tuple)) for v in value):
            return "[" + ", ".join(_scalar(v) for v in value) + "]"
        return "[\n" + ",\n".join(inner + _pretty(v, inner) for v in value) + "\n" + indent + "]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return json.dumps(str(value), ensure_ascii=False)


# -- the generics -------------------------------------------------------------------------


@overload
def contents_text(content: Content) -> str | None: ...
@overload
def contents_text(content: Turn | Round | Conversation) -> str: ...
def contents_text(content: Content | Turn | Round | Conversation) -> str | None:
    """The text of a chat, round, turn or content, and only the text (R: ``contents_text()``).

    A content that is not text gives None; a turn joins its texts as they
    are. A round (and a chat) gives each turn as ``<role>\\n...\\n</role>``,
    separated by a blank line.
    """
    if isinstance(content, Content):
        return _text(content)
    if isinstance(content, Turn):
        return content.text
    turns = _turns_of(content, "contents_text()")
    return "\n\n".join(f"<{t.role}>\n{t.text}\n</{t.role}>" for t in turns)


@overload
def contents_markdown(content: Content) -> str | None: ...
@overload
def contents_markdown(content: Turn | Round | Conversation, heading_level: int = 2) -> str: ...
def contents_markdown(
    content: Content | Turn | Round | Conversation, heading_level: int = 2
) -> str | None:
    """A chat, round, turn or content as markdown (R: ``contents_markdown()``).

    Text is taken to be markdown already; images become ``![](...)`` (inline
    ones as data URLs), JSON a fenced block, thinking a ``<thinking>`` block.
    A turn joins its parts with blank lines; a round or a chat gives each
    turn under a ``## Role`` heading (``heading_level`` sets the ``#``).
    """
    if isinstance(content, Content):
        return _markdown(content)
    if isinstance(content, Turn):
        return _turn_markdown(content)
    if isinstance(heading_level, bool) or not isinstance(heading_level, int) or heading_level < 1:
        raise ConfigurationError(
            f"heading_level must be a whole number >= 1, not {heading_level!r}."
        )
    hashes = "#" * heading_level
    turns = _turns_of(content, "contents_markdown()")
    return "\n\n".join(f"{hashes} {_title(t)}\n\n{_turn_markdown(t)}" for t in turns)


@overload
def contents_html(content: Content) -> str | None: ...
@overload
def contents_html(content: Turn | Round | Conversation) -> str: ...
def contents_html(content: Content | Turn | Round | Conversation) -> str | None:
    """A chat, round, turn or content as HTML (R: ``contents_html()``).

    Text is rendered from markdown (raw HTML in it is escaped), images become
    ``<img>`` (inline ones with a data URI), JSON a ``<pre><code>`` block and
    thinking a ``<details>`` block. A round or a chat gives each turn under
    an ``<h2>``.
    """
    if isinstance(content, Content):
        return _html(content)
    if isinstance(content, Turn):
        return _turn_html(content)
    turns = _turns_of(content, "contents_html()")
    return "\n".join(f"<h2>{_title(t)}</h2>\n{_turn_html(t)}" for t in turns)


def _turns_of(value: object, where: str) -> list[Turn]:
    """The turns of a Round, or of a Chat (without its system prompt, as R)."""
    if isinstance(value, Round):
        return list(value.turns)
    get_turns = getattr(value, "get_turns", None)
    if not callable(get_turns):
        raise ConfigurationError(
            f"{where} takes a Chat, a Round, a Turn or a Content object, "
            f"not {type(value).__name__}."
        )
    return list(get_turns())


def _title(turn: Turn) -> str:
    return turn.role[:1].upper() + turn.role[1:]


def _turn_markdown(turn: Turn) -> str:
    return "\n\n".join(s for s in map(_markdown, turn.contents) if s is not None)


def _turn_html(turn: Turn) -> str:
    return "\n".join(s for s in map(_html, turn.contents) if s is not None)


# -- one method per content kind ------------------------------------------------------------


@singledispatch
def _text(content: Content) -> str | None:
    return None


@_text.register
def _(content: ContentText) -> str | None:
    return content.text


@singledispatch
def _markdown(content: Content) -> str | None:
    return _text(content)


@_markdown.register
def _(content: ContentImageRemote) -> str | None:
    return f"![]({content.url})"


@_markdown.register
def _(content: ContentImageInline) -> str | None:
    return f"![]({data_uri(content)})"


@_markdown.register
def _(content: ContentJson) -> str | None:
    return f"```json\n{pretty_json(content.value)}\n```\n"


@_markdown.register
def _(content: ContentThinking) -> str | None:
    return f"<thinking>\n{content.thinking}\n</thinking>\n"


@singledispatch
def _html(content: Content) -> str | None:
    return None


@_html.register
def _(content: ContentText) -> str | None:
    return markdown_html(content.text)


@_html.register
def _(content: ContentImageRemote) -> str | None:
    return f'<img src="{escape_html(content.url)}">'


@_html.register
def _(content: ContentImageInline) -> str | None:
    return f'<img src="{escape_html(data_uri(content))}">'


@_html.register
def _(content: ContentJson) -> str | None:
    return f"<pre><code>{escape_html(pretty_json(content.value))}</code></pre>\n"


@_html.register
def _(content: ContentThinking) -> str | None:
    return f"<details><summary>Thinking</summary>\n{markdown_html(content.thinking)}</details>\n"


def data_uri(image: ContentImageInline) -> str:
    """An inline image as a ``data:`` URI."""
    return data_url(image.type, image.data)
