"""Markdown to HTML, the CommonMark subset chat answers use (R: ``commonmark::markdown_html()``).

R's ``contents_html()`` converts text with the commonmark package; ellmer-py
has no runtime dependency for it, so this module renders what models write:
ATX and setext headings, paragraphs with hard breaks, fenced and indented
code, block quotes, bullet and ordered lists (tight or loose), thematic
breaks, code spans, strong and emphasis, links, images and autolinks. The
output matches CommonMark's for those. Raw HTML in the text is escaped (shown
as text), and links with a ``javascript:``-like scheme are left as text, as
a safe CommonMark renderer does.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = ["escape_html", "markdown_html"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}> ?")
_ITEM = re.compile(r"^( {0,3})(?:([-*+])|(\d{1,9})([.)]))([ \t]+|$)")
_INDENTED = re.compile(r"^(?: {4}|\t)")
#: Block quotes and lists nested deeper than this are shown as text.
_MAX_DEPTH = 32


def escape_html(text: str) -> str:
    """Escape ``& < > "`` as CommonMark renderers do (an apostrophe stays)."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def markdown_html(text: str) -> str:
    """``text`` (markdown) as HTML, one block a line (R: ``commonmark::markdown_html()``)."""
    lines = (
        text.replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\x00", "\ufffd")
        .replace("\x01", "\ufffd")
        .split("\n")
    )
    return _join(_blocks(lines))


def _blocks(lines: list[str], depth: int = 0) -> list[tuple[str, str]]:
    """The blocks of ``lines`` as (kind, html); kind "p" for a paragraph's inline html."""
    if depth > _MAX_DEPTH:
        return [("p", _inline("\n".join(x.lstrip() for x in lines if x.strip())))]
    out: list[tuple[str, str]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append(("p", _inline("\n".join(para))))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
            i += 1
        elif para and (m := _SETEXT.match(line)):
            level = 1 if m.group(1)[0] == "=" else 2
            out.append(("h", f"<h{level}>{_inline(chr(10).join(para))}</h{level}>\n"))
            para.clear()
            i += 1
        elif not para and _INDENTED.match(line):
            i = _indented_code(lines, i, out)
        elif m := _FENCE.match(line):
            flush()
            i = _fenced_code(lines, i, m, out)
        elif m := _ATX.match(line):
            flush()
            level = len(m.group(1))
            out.append(("h", f"<h{level}>{_inline(m.group(2) or '')}</h{level}>\n"))
            i += 1
        elif _HR.match(line):
            flush()
            out.append(("hr", "<hr />\n"))
            i += 1
        elif _QUOTE.match(line):
            flush()
            inner: list[str] = []
            while i < len(lines):
                if q := _QUOTE.match(lines[i]):
                    inner.append(lines[i][q.end() :])
                elif _lazy(inner[-1], lines[i]):
                    inner.append(lines[i])  # a lazy continuation line
                else:
                    break
                i += 1
            body = _join(_blocks(inner, depth + 1))
            out.append(("blockquote", f"<blockquote>\n{body}</blockquote>\n"))
        elif (m := _ITEM.match(line)) and (not para or _interrupts(m, line)):
            flush()
            i = _list(lines, i, out, depth)
        else:
            para.append(line.lstrip())
            i += 1
    flush()
    return out


def _indented_code(lines: list[str], i: int, out: list[tuple[str, str]]) -> int:
    body: list[str] = []
    while i < len(lines) and (_INDENTED.match(lines[i]) or not lines[i].strip()):
        body.append(lines[i][1:] if lines[i].startswith("\t") else lines[i][4:])
        i += 1
    while body and not body[-1].strip():
        body.pop()
    out.append(("pre", f"<pre><code>{escape_html(chr(10).join(body) + chr(10))}</code></pre>\n"))
    return i


def _fenced_code(lines: list[str], i: int, m: re.Match[str], out: list[tuple[str, str]]) -> int:
    fence, info = m.group(1), m.group(2)
    indent = len(lines[i]) - len(lines[i].lstrip(" "))
    body: list[str] = []
    i += 1
    while i < len(lines):
        close = lines[i].strip()
        if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
            i += 1
            break
        body.append(re.sub(f"^ {{0,{indent}}}", "", lines[i]))
        i += 1
    code = escape_html("".join(b + "\n" for b in body))
    attr = f' class="language-{escape_html(info)}"' if info else ""
    out.append(("pre", f"<pre><code{attr}>{code}</code></pre>\n"))
    return i


def _list(lines: list[str], i: int, out: list[tuple[str, str]], depth: int) -> int:
    """One list starting at ``lines[i]``; returns the index after it."""
    first = _ITEM.match(lines[i])
    assert first is not None
    marker = first.group(2) or first.group(4)
    items: list[list[str]] = []
    loose = blank = False
    width = 0
    while i < len(lines):
        line = lines[i]
        m = _ITEM.match(line)
        if m and (m.group(2) or m.group(4)) == marker and (not items or len(m.group(1)) < width):
            loose = loose or (blank and bool(items))
            gap = len(m.group(5))
            width = m.end() if 0 < gap <= 4 else m.end() - gap + 1
            items.append([line[width:]])
        elif not line.strip():
            nxt = next((x for x in lines[i + 1 :] if x.strip()), None)
            if nxt is None or not (nxt.startswith(" " * width) or _ITEM.match(nxt)):
                break
            items[-1].append("")
        elif line.startswith(" " * width):
            loose = loose or (blank and _text_after_blank(items[-1]))
            items[-1].append(line[width:])
        elif not blank and _lazy(items[-1][-1], line):
            items[-1].append(line.strip())  # a lazy continuation line
        else:
            break
        blank = not line.strip()
        i += 1
    tag = "ul" if first.group(2) else "ol"
    start = "" if tag == "ul" or int(first.group(3)) == 1 else f' start="{int(first.group(3))}"'
    html = [f"<{tag}{start}>\n"]
    for item in items:
        blocks = _blocks(item, depth + 1)
        html.append("<li>" + (_tight(blocks) if not loose else "\n" + _join(blocks)) + "</li>\n")
    html.append(f"</{tag}>\n")
    out.append((tag, "".join(html)))
    return i


def _interrupts(m: re.Match[str], line: str) -> bool:
    """Whether a list item may interrupt a paragraph: not empty, bullet or numbered 1."""
    return bool(line[m.end() :].strip()) and (bool(m.group(2)) or m.group(3) == "1")


def _lazy(last: str, line: str) -> bool:
    """Whether ``line`` continues the paragraph ending with ``last`` (a lazy line)."""
    return bool(last.strip() and line.strip()) and not (_starts_block(last) or _starts_block(line))


def _text_after_blank(item: list[str]) -> bool:
    return any(x.strip() for x in item)


def _starts_block(line: str) -> bool:
    return any(p.match(line) for p in (_FENCE, _ATX, _HR, _QUOTE, _ITEM))


def _join(blocks: list[tuple[str, str]]) -> str:
    return "".join(f"<p>{html}</p>\n" if kind == "p" else html for kind, html in blocks)


def _tight(blocks: list[tuple[str, str]]) -> str:
    """A tight item: paragraphs without ``<p>``, other blocks on their own lines."""
    out = ""
    for kind, html in blocks:
        if kind != "p" and not out.endswith("\n"):
            out += "\n"
        out += html
    return out


# -- inline -------------------------------------------------------------------------------

_PUNCT_CHARS = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_PUNCT = re.escape(_PUNCT_CHARS)
_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_ESCAPED = re.compile(f"\\\\([{_PUNCT}])")
_BREAK = re.compile(r"(?:(?<! ) {2,}|\\)\n")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
_LINK = re.compile(r"(!?)\[([^\[\]]*)\]\(\s*([^\s()]*)(?:\s+&quot;(.*?)&quot;)?\s*\)")
_UNSAFE = re.compile(r"^\s*(javascript|vbscript|file|data):", re.I)
_SAFE_DATA = re.compile(r"^\s*data:image/(gif|png|jpeg|webp);", re.I)
_RUN = re.compile(r"\*+|_+")


def _inline(text: str) -> str:
    """One paragraph's text as inline HTML."""
    stash: list[str] = []

    def keep(html: str) -> str:
        stash.append(html)
        return f"\x00{len(stash) - 1}\x00"

    def sub(pattern: re.Pattern[str], make: Callable[[re.Match[str]], str], s: str) -> str:
        return pattern.sub(lambda m: keep(make(m)), s)

    text = sub(_CODE, lambda m: f"<code>{escape_html(_code_text(m.group(2)))}</code>", text)
    text = sub(_ESCAPED, lambda m: escape_html(m.group(1)), text)
    # a hard break is "\x01" until emphasis is done, which takes it for a space
    text = re.sub(r"(?<![ \t])[ \t]*\n[ \t]*", "\n", _BREAK.sub("\x01", text.strip()))
    text = sub(_AUTOLINK, lambda m: _a(escape_html(m.group(1)), escape_html(m.group(1))), text)
    text = sub(_LINK, lambda m: _link(m, _emphasis), escape_html(text))
    text = _emphasis(text)
    text = text.replace("\x01", "<br />\n")
    while "\x00" in text:
        text = re.sub("\x00(\\d+)\x00", lambda m: stash[int(m.group(1))], text)
    return text


def _code_text(code: str) -> str:
    code = code.replace("\n", " ")
    if code.startswith(" ") and code.endswith(" ") and code.strip():
        code = code[1:-1]
    return code


class _Run:
    """A run of ``*`` or ``_``: what it may do, and the tags it became."""

    def __init__(self, text: str, m: re.Match[str]) -> None:
        self.char, self.count, self.length = m.group()[0], len(m.group()), len(m.group())
        before = text[m.start() - 1] if m.start() and text[m.start() - 1] != "\x01" else " "
        after = text[m.end()] if m.end() < len(text) and text[m.end()] != "\x01" else " "
        left = not after.isspace() and (not _punct(after) or before.isspace() or _punct(before))
        right = not before.isspace() and (not _punct(before) or after.isspace() or _punct(after))
        if self.char == "*":
            self.can_open, self.can_close = left, right
        else:
            self.can_open = left and (not right or _punct(before))
            self.can_close = right and (not left or _punct(after))
        self.opens: list[str] = []
        self.closes: list[str] = []

    def html(self) -> str:
        opened = "".join(f"<{t}>" for t in reversed(self.opens))
        return "".join(f"</{t}>" for t in self.closes) + self.char * self.count + opened


def _punct(ch: str) -> bool:
    # "\x00" marks a code span, link or escape put aside: each begins and ends with punctuation
    return ch in _PUNCT_CHARS or ch == "\x00" or unicodedata.category(ch).startswith("P")


def _emphasis(text: str) -> str:
    """Strong and emphasis, by CommonMark's delimiter-run rules (linear time)."""
    parts: list[str | _Run] = []
    pos = 0
    for m in _RUN.finditer(text):
        parts += [text[pos : m.start()], _Run(text, m)]
        pos = m.end()
    parts.append(text[pos:])
    openers: list[_Run] = []
    bottom: dict[tuple[str, bool, int], int] = {}  # where a search for such a closer stops
    for run in parts:
        if not isinstance(run, _Run):
            continue
        key = (run.char, run.can_open, run.length % 3)
        while run.can_close and run.count:
            floor = min(bottom.get(key, 0), len(openers))
            at = next(
                (k for k in range(len(openers) - 1, floor - 1, -1) if _pairs(openers[k], run)), None
            )
            if at is None:
                bottom[key] = len(openers)
                break
            opener = openers[at]
            n = 2 if opener.count >= 2 and run.count >= 2 else 1
            tag = "strong" if n == 2 else "em"
            opener.count, run.count = opener.count - n, run.count - n
            opener.opens.append(tag)
            run.closes.append(tag)
            del openers[at + (opener.count > 0) :]
        if run.can_open and run.count:
            openers.append(run)
    return "".join(p if isinstance(p, str) else p.html() for p in parts)


def _pairs(opener: _Run, closer: _Run) -> bool:
    """Whether ``opener`` can be closed by ``closer`` (CommonMark's rule of three too)."""
    if opener.char != closer.char:
        return False
    both = opener.can_close or closer.can_open
    total = opener.length + closer.length
    return not (both and total % 3 == 0 and (opener.length % 3 or closer.length % 3))


def _a(href: str, label: str) -> str:
    return f'<a href="{href}">{label}</a>'


def _link(m: re.Match[str], emphasis: Callable[[str], str]) -> str:
    image, label, url, title = m.groups()
    raw = url.replace("&amp;", "&")
    if _UNSAFE.match(raw) and not (image and _SAFE_DATA.match(raw)):
        return m.group(0)
    title_attr = f' title="{title}"' if title is not None else ""
    if image:
        alt = re.sub(r"</?\w+>", "", emphasis(label))
        return f'<img src="{url}" alt="{alt}"{title_attr} />'
    return f'<a href="{url}"{title_attr}>{emphasis(label)}</a>'
