"""Tool results that are content (an image, a PDF), for APIs whose tool results are text.

Port of R's ``turn_contents_expand()``: a result whose value is a Content
(or a list of them) becomes a text result pointing below, and the content
follows in the same user message between ``<tool-content>`` tags. The
results come first, as the APIs want them before any other user content.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._content import Content, ContentText, ContentToolResult, _contents_of

__all__ = ["expand_tool_results"]


def expand_tool_results(contents: Sequence[Content]) -> list[Content]:
    """``contents`` with content-valued tool results unrolled; results first (R's rule)."""
    if not any(isinstance(c, ContentToolResult) for c in contents):
        return list(contents)
    results: list[Content] = []
    rest: list[Content] = []
    for content in contents:
        if not isinstance(content, ContentToolResult):
            rest.append(content)
            continue
        values = _contents_of(content.value) if content.error is None else None
        if values is None:
            results.append(content)
            continue
        if isinstance(content.value, Content):
            tag = f'<tool-content call-id="{content.id}">'
            results.append(ContentToolResult(content.id, f"See {tag} below."))
            rest += [ContentText(tag), *values, ContentText("</tool-content>")]
            continue
        tag = f'<tool-contents call-id="{content.id}">'
        results.append(ContentToolResult(content.id, f"See {tag} below."))
        rest.append(ContentText(tag))
        for value in values:
            rest += [ContentText("<tool-content>"), value, ContentText("</tool-content>")]
        rest.append(ContentText("</tool-contents>"))
    return results + rest
