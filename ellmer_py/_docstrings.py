"""Descriptions from docstrings: the summary, and the text of each parameter.

Used for tools (``tool()`` describes a function from its docstring) and for
structured types (a dataclass's docstring describes the object and its fields).
Google, NumPy and Sphinx styles are read.
"""

from __future__ import annotations

import re

__all__ = ["docstring_params", "docstring_summary"]

_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Attributes|"
    r"Returns|Return|Yields|Raises|Examples?|Notes?|See Also|Warnings?|References)\s*:?\s*$"
)
_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_PARAM_SECTIONS = {
    "args",
    "arguments",
    "parameters",
    "params",
    "keyword args",
    "keyword arguments",
    "attributes",
}


def _clean(doc: str | None) -> list[str]:
    import inspect

    return inspect.cleandoc(doc or "").splitlines()


def docstring_summary(doc: str | None) -> str:
    """The text of a docstring before its first section (Args:, Parameters, :param ...)."""
    lines = _clean(doc)
    out: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _SECTION.match(line) and (
            stripped.endswith(":") or (i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]))
        ):
            break
        if stripped.startswith((":param", ":type", ":return", ":raises", ":rtype")):
            break
        out.append(line)
    return "\n".join(out).strip()


def docstring_params(doc: str | None) -> dict[str, str]:
    """Parameter descriptions from a Google, NumPy or Sphinx style docstring.

    Google: an ``Args:`` (or ``Attributes:``) section of ``name (type): text``
    lines; NumPy: a ``Parameters`` section underlined with dashes, of
    ``name : type`` lines followed by indented text; Sphinx: ``:param name: text``.
    """
    lines = _clean(doc)
    out: dict[str, str] = {}
    # Sphinx
    sphinx = re.compile(r"^\s*:param\s+(?:[^:]*\s)?(\*{0,2}\w+)\s*:\s*(.*)$")
    for i, line in enumerate(lines):
        m = sphinx.match(line)
        if m:
            text = [m.group(2).strip()]
            for more in lines[i + 1 :]:
                if not more.strip() or more.strip().startswith(":"):
                    break
                text.append(more.strip())
            out[m.group(1).lstrip("*")] = " ".join(t for t in text if t)
    i = 0
    while i < len(lines):
        line = lines[i]
        header = _SECTION.match(line)
        numpy = header is not None and i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1])
        google = header is not None and line.strip().endswith(":")
        if not header or not (numpy or google):
            i += 1
            continue
        section = header.group(1).lower()
        i += 2 if numpy else 1
        body: list[str] = []
        while i < len(lines):
            nxt = lines[i]
            if _SECTION.match(nxt) and (
                nxt.strip().endswith(":") or (i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]))
            ):
                break
            if google and nxt.strip() and not nxt[:1].isspace():
                break  # a Google section ends at the next unindented line
            body.append(nxt)
            i += 1
        if section in _PARAM_SECTIONS:
            out.update(_numpy_params(body) if numpy else _google_params(body))
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _google_params(body: list[str]) -> dict[str, str]:
    entries = [ln for ln in body if ln.strip()]
    if not entries:
        return {}
    base = min(_indent(ln) for ln in entries)
    item = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
    out: dict[str, str] = {}
    current: str | None = None
    for line in body:
        if not line.strip():
            continue
        if _indent(line) == base:
            m = item.match(line.strip())
            current = m.group(1).lstrip("*") if m else None
            if m and current:
                out[current] = m.group(2).strip()
        elif current is not None:
            out[current] = (out[current] + " " + line.strip()).strip()
    return out


def _numpy_params(body: list[str]) -> dict[str, str]:
    entries = [ln for ln in body if ln.strip()]
    if not entries:
        return {}
    base = min(_indent(ln) for ln in entries)
    out: dict[str, str] = {}
    current: list[str] = []
    for line in body:
        if not line.strip():
            continue
        if _indent(line) == base:
            names = line.split(":", 1)[0]
            current = [n.strip().lstrip("*") for n in names.split(",") if n.strip()]
            for name in current:
                out[name] = ""
        else:
            for name in current:
                out[name] = (out[name] + " " + line.strip()).strip()
    return out
