"""Put values into a prompt template (R: ``interpolate()`` and friends).

R's ellmer wraps glue with ``{{`` and ``}}`` as delimiters, so that a prompt
can hold code and JSON with single braces untouched::

    interpolate("Tell me a joke about {{ topic }}.", topic="bananas")

The template is read exactly as glue reads it (the parser is a port of
glue's, ``.open = "{{"``, ``.close = "}}"``): ``{{{{`` gives ``{{``, ``}}}}``
gives ``}}``, a single ``{`` or ``}`` is left as it is, quotes inside
``{{ }}`` may hold ``}}``, and ``#`` starts a comment that runs to the end of
its line. Each ``{{ }}`` holds a variable, looked up in the keyword
arguments first, then in the caller's local and global variables (or in
``_envir``). A value that is a list or a tuple makes the result a list of
strings, one per element, for ``parallel_chat()``; lists of one element are
recycled, as glue recycles vectors of length 1.

Deliberate differences from R:

- Only a name, with attribute and index access (``{{ user.name }}``,
  ``{{ items[0] }}``, ``{{ row["key"] }}``, ``{{ items[-1] }}``), can go
  between the braces, never other Python code: glue evaluates any R code,
  which is why R warns never to give a template from an end user to
  ``interpolate()``. Attributes that start with ``_`` are refused (they lead
  to ``__globals__`` and the like). Builtins (``len``, ``id``, ``input``)
  are not variables here, so a name missing by mistake is an error, not a
  function's description in the prompt.
- The template is not trimmed: glue (``.trim = TRUE``) drops a blank first
  line, the last line's whitespace and the common indentation, and joins
  lines ending with ``\\``; here the text outside ``{{ }}`` is kept as it
  is. Use :func:`textwrap.dedent` or :func:`inspect.cleandoc` for an
  indented triple-quoted template.
- The result is a plain ``str``, or a ``list[str]`` when a value was a list
  or a tuple, not R's ``ellmer_prompt`` class with its print method.
- Values are written with ``str()`` as an f-string does: ``None`` gives
  ``"None"`` (R's ``NULL`` makes the whole result empty), ``True`` gives
  ``"True"``, ``1.0`` gives ``"1.0"``.
- R's ``.envir`` is ``_envir``: a mapping (or a frame) to look variables up
  in instead of the caller's; the variables of an enclosing function are
  seen only where the calling function uses them, as with :func:`eval`.
"""

from __future__ import annotations

import ast
import importlib.resources
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from types import FrameType
from typing import Any, NamedTuple, NoReturn

from ellmer_py._errors import ConfigurationError

__all__ = ["interpolate", "interpolate_file", "interpolate_package"]

Envir = Mapping[str, Any] | FrameType | None

_OPEN = "{{"
_CLOSE = "}}"
_TEXT_SPECIAL = re.compile(r"[{}]")
_QUOTES = ("'", '"', "`")
_SHOWN = 60  # characters of a {{ }} field shown in an error


class _Field(NamedTuple):
    """One ``{{ }}`` of a template: the text between the braces, and where it starts."""

    expr: str
    offset: int


def _where(template: str, offset: int, origin: str) -> str:
    line = template.count("\n", 0, offset) + 1
    column = offset - (template.rfind("\n", 0, offset) + 1) + 1
    return f"at line {line}, column {column} of {origin}"


def _show(field: _Field) -> str:
    expr = field.expr if len(field.expr) <= _SHOWN else field.expr[:_SHOWN] + "..."
    return f"{_OPEN}{expr}{_CLOSE}"


def _parse(template: str, function: str, origin: str) -> list[str | _Field]:
    """Split a template into text and fields, exactly as glue's C parser does."""
    out: list[str | _Field] = []
    buf: list[str] = []
    n = len(template)
    state = "text"  # or "delim", "comment", "escape", or a quote character
    before_escape = state
    level = start = opened = i = 0
    while i < n:
        if state == "text":
            found = _TEXT_SPECIAL.search(template, i)
            if found is None:
                buf.append(template[i:])
                break
            if found.start() > i:
                buf.append(template[i : found.start()])
                i = found.start()
            if template.startswith(_OPEN, i):
                if template.startswith(_OPEN, i + 2):
                    i += 2  # "{{{{": skip the first two and keep the third
                else:
                    state, level, start, opened = "delim", 1, i + 2, i
                    i += 1
                    continue
            if template.startswith(_CLOSE, i) and template.startswith(_CLOSE, i + 2):
                i += 2
            buf.append(template[i])
        elif state == "escape":
            state = before_escape
        elif state in _QUOTES:
            if template[i] == "\\":
                before_escape, state = state, "escape"
            elif template[i] == state:
                state = "delim"
        elif state == "comment":
            if template[i] == "\n":
                state = "delim"
        else:
            if template.startswith(_OPEN, i):
                level += 1
                i += 1
            elif template.startswith(_CLOSE, i):
                level -= 1
                i += 1
            elif template[i] in _QUOTES:
                state = template[i]
            elif template[i] == "#":
                state = "comment"
            if level == 0:
                if buf:
                    out.append("".join(buf))
                    buf = []
                out.append(_Field(template[start : i - 1], opened))
                state = "text"
        i += 1
    if buf:
        out.append("".join(buf))
    if state != "text":
        if state in _QUOTES or state == "escape":
            problem = "has a quote that is never closed"
        elif state == "comment":
            problem = "has a '#' comment that does not end with a new line before the }}"
        else:
            problem = "is never closed by }}"
        raise ConfigurationError(
            f"{function}: the {_OPEN} {_where(template, opened, origin)} {problem}."
        )
    return out


# A compiled field: the variable's name, then ("attr", name) and ("index", key) steps.
_Step = tuple[str, str | int]


def _refuse(field: _Field, template: str, function: str, origin: str, why: str) -> NoReturn:
    raise ConfigurationError(
        f"{function}: {_show(field)} {_where(template, field.offset, origin)} {why}"
    )


def _compile(field: _Field, template: str, function: str, origin: str) -> tuple[str, list[_Step]]:
    """A name followed by attribute and index steps, or ConfigurationError."""
    only = (
        "cannot be used: only a variable's name, with .attribute and [index] access "
        '(an integer or a quoted string: {{ user.name }}, {{ items[0] }}, {{ row["key"] }}), '
        "can go between the braces."
    )
    if not field.expr.strip():
        _refuse(field, template, function, origin, "is empty: put a variable's name in it.")
    try:
        node: ast.expr = ast.parse("(\n" + field.expr + "\n)", mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        _refuse(field, template, function, origin, only)
    steps: list[_Step] = []
    while not isinstance(node, ast.Name):
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                _refuse(
                    field,
                    template,
                    function,
                    origin,
                    f"cannot be used: attributes starting with '_' ({node.attr!r}) are refused.",
                )
            steps.append(("attr", node.attr))
        elif isinstance(node, ast.Subscript):
            key = _index_key(node.slice)
            if key is None:
                _refuse(field, template, function, origin, only)
            steps.append(("index", key))
        else:
            _refuse(field, template, function, origin, only)
        node = node.value
    steps.reverse()
    return node.id, steps


def _index_key(node: ast.expr) -> str | int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)):
        return node.value if type(node.value) is not bool else None
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    return None


def _evaluate(
    field: _Field,
    scopes: list[Mapping[str, Any]],
    template: str,
    function: str,
    origin: str,
) -> Any:
    name, steps = _compile(field, template, function, origin)
    for scope in scopes:
        if name in scope:
            value = scope[name]
            break
    else:
        _refuse(
            field,
            template,
            function,
            origin,
            f"names {name!r}, which is not a variable here: pass {name}=... "
            "or define it before the call.",
        )
    for kind, key in steps:
        try:
            value = getattr(value, key) if kind == "attr" else value[key]  # type: ignore[arg-type]
        except AttributeError:
            _refuse(field, template, function, origin, _missing(value, "attribute", key))
        except (KeyError, IndexError, TypeError):
            _refuse(field, template, function, origin, _missing(value, "item", key))
    return value


def _missing(value: Any, what: str, key: str | int) -> str:
    kind = type(value).__name__
    return f"cannot be looked up: the value (of type {kind}) has no {what} {key!r}."


def _is_vector(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and not hasattr(value, "_fields")


def _scopes(
    kwargs: Mapping[str, Any], envir: Envir, frame: FrameType, function: str
) -> list[Mapping[str, Any]]:
    if envir is None:
        envir = frame
    if isinstance(envir, FrameType):
        return [kwargs, envir.f_locals, envir.f_globals]
    if not isinstance(envir, Mapping):
        raise ConfigurationError(
            f"{function}: _envir must be a mapping of names to values, a frame or None."
        )
    return [kwargs, envir]


def _interpolate(
    template: object,
    kwargs: Mapping[str, Any],
    envir: Envir,
    frame: FrameType,
    function: str,
    origin: str = "the prompt",
) -> str | list[str]:
    if not isinstance(template, str):
        raise ConfigurationError(f"{function}: the prompt must be a string.")
    scopes = _scopes(kwargs, envir, frame, function)
    parts = _parse(template, function, origin)
    values: list[Any] = []
    vectors: list[tuple[_Field, int]] = []
    for part in parts:
        if isinstance(part, str):
            values.append(part)
            continue
        value = _evaluate(part, scopes, template, function, origin)
        if _is_vector(value):
            vectors.append((part, len(value)))
            value = [str(item) for item in value]
        else:
            value = str(value)
        values.append(value)
    if not vectors:
        return "".join(values)
    if any(length == 0 for _, length in vectors):
        return []
    size = max(length for _, length in vectors)
    for field, length in vectors:
        if length not in (1, size):
            longest = next(f for f, n in vectors if n == size)
            raise ConfigurationError(
                f"{function}: {_show(field)} {_where(template, field.offset, origin)} has "
                f"{length} values and {_show(longest)} "
                f"{_where(template, longest.offset, origin)} has {size}: lists must have "
                "the same length, or one value."
            )
    return [
        "".join(v if isinstance(v, str) else v[k if len(v) > 1 else 0] for v in values)
        for k in range(size)
    ]


def interpolate(prompt: str, /, *, _envir: Envir = None, **kwargs: Any) -> str | list[str]:
    """Put values into a prompt template (R: ``interpolate()``).

    ``{{ name }}`` is replaced with the value of ``name``: a keyword argument
    first, then a local or global variable of the caller (or, given
    ``_envir``, a key of that mapping or a variable of that frame, instead
    of the caller's). A field may use attribute and index access
    (``{{ user.name }}``, ``{{ items[0] }}``, ``{{ row["key"] }}``) but
    nothing else. ``{{{{`` and ``}}}}`` give ``{{`` and ``}}``; single braces
    are left as they are.

    Returns a string, or a list of strings when a value is a list or a tuple
    (one per element; one-element lists are recycled, an empty one gives
    ``[]``, lists of other, different lengths are an error). Raises
    ConfigurationError for an unknown variable, a field that is not a name
    with attribute and index access, or a ``{{`` never closed.
    """
    frame = sys._getframe(1)
    try:
        return _interpolate(prompt, kwargs, _envir, frame, "interpolate()")
    finally:
        del frame


def _read_utf8(data: bytes, function: str, origin: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"{function}: {origin} is not UTF-8 text (byte {exc.start})."
        ) from None


def interpolate_file(
    path: str | os.PathLike[str], /, *, _envir: Envir = None, **kwargs: Any
) -> str | list[str]:
    """Put values into a prompt template read from a file (R: ``interpolate_file()``).

    The file is read as UTF-8, its text (line ends included) as it is; the
    rest is as for :func:`interpolate`, the variables being the caller's.
    """
    function = "interpolate_file()"
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ConfigurationError(f"{function}: path must be a non-empty string or path.")
    file = Path(path)
    if not file.is_file():
        raise ConfigurationError(f"{function}: {os.fspath(path)!r} must be an existing file.")
    origin = repr(file.name)
    template = _read_utf8(file.read_bytes(), function, origin)
    frame = sys._getframe(1)
    try:
        return _interpolate(template, kwargs, _envir, frame, function, origin)
    finally:
        del frame


def interpolate_package(
    package: str, path: str, /, *, _envir: Envir = None, **kwargs: Any
) -> str | list[str]:
    """Put values into a prompt template shipped with a package (R: ``interpolate_package()``).

    R reads ``inst/prompts/<path>`` of an R package; here ``path`` (with
    ``/`` between folders) is under the ``prompts/`` folder of the Python
    package ``package`` (a folder next to its ``__init__.py``, installed as
    package data), read with :mod:`importlib.resources`, which imports the
    package. The rest is as for :func:`interpolate_file`.
    """
    function = "interpolate_package()"
    if not isinstance(package, str) or not package:
        raise ConfigurationError(f"{function}: package must be a package's name.")
    if not isinstance(path, str) or not path:
        raise ConfigurationError(f"{function}: path must be a non-empty string.")
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts:
        raise ConfigurationError(f"{function}: path {path!r} must be inside prompts/.")
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        raise ConfigurationError(f"{function}: there is no package {package!r}.") from None
    except TypeError:
        raise ConfigurationError(f"{function}: {package!r} is a module, not a package.") from None
    prompts = root / "prompts"
    if not prompts.is_dir():
        raise ConfigurationError(f"{function}: package {package!r} has no prompts/ directory.")
    target = prompts
    for part in relative.parts:
        target = target / part
    if not target.is_file():
        available = sorted(entry.name for entry in prompts.iterdir())
        raise ConfigurationError(
            f"{function}: package {package!r} has no {path!r} in its prompts/ directory; "
            f"it has: {', '.join(available) or '(nothing)'}."
        )
    origin = f"prompts/{relative} in package {package!r}"
    template = _read_utf8(target.read_bytes(), function, origin)
    frame = sys._getframe(1)
    try:
        return _interpolate(template, kwargs, _envir, frame, function, origin)
    finally:
        del frame
