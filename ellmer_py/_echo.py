"""Echo modes: what ``chat()`` prints as it goes (R: ``echo``)."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Literal, TextIO

from ._errors import ConfigurationError

if TYPE_CHECKING:
    from ._content import ContentToolRequest, ContentToolResult

__all__ = ["Echo", "EchoWriter", "format_call", "resolve_echo", "show_notice", "showing_notices"]

Echo = Literal["none", "output", "all"]
_MODES = ("none", "output", "all")


def _interactive() -> bool:
    return hasattr(sys, "ps1") or bool(sys.flags.interactive)


def resolve_echo(echo: object) -> Echo:
    """Normalise an echo setting (R: ``check_echo()``).

    ``"none"``, ``"output"`` or ``"all"``; ``True`` means ``"output"`` and
    ``False`` ``"none"``; R's deprecated ``"text"`` is ``"output"``, with a
    DeprecationWarning; ``None`` reads ``ELLMER_ECHO``, else ``"output"`` in
    an interactive interpreter and ``"none"`` in code.
    """
    if echo is None:
        env = os.environ.get("ELLMER_ECHO", "").strip().lower()
        if not env:
            return "output" if _interactive() else "none"
        if env not in _MODES:
            raise ConfigurationError(
                f"The environment variable ELLMER_ECHO is {env!r}; set it to one of 'none', "
                "'output', 'all', or unset it (or pass echo= to the chat)."
            )
        return env  # type: ignore[return-value]
    if echo is True:
        return "output"
    if isinstance(echo, str) and echo.lower() == "text":
        # R: lifecycle::deprecate_soft('echo = "text"', 'echo = "output"')
        warnings.warn(
            'echo="text" is deprecated (as in R): use echo="output".',
            DeprecationWarning,
            stacklevel=3,
        )
        return "output"
    if echo is False:
        return "none"
    if isinstance(echo, str) and echo.lower() in _MODES:
        return echo.lower()  # type: ignore[return-value]
    raise ConfigurationError(
        f"echo must be one of 'none', 'output', 'all' (or True/False), not {echo!r}."
    )


class EchoWriter:
    """Writes what an echo mode shows to a text stream, flushing as it goes.

    "output" shows the answer and the tool calls with their results; "all"
    also shows the prompt and the model's thinking.
    """

    def __init__(self, mode: Echo, stream: TextIO | None = None) -> None:
        self.mode = mode
        self.stream = stream
        self._started = False
        self._line_open = False  # the last thing written did not end a line
        self._thinking = False  # inside a <thinking> block

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stdout

    def _write(self, text: str) -> None:
        out = self._out()
        # set first: a Ctrl-C just after the text is shown must still let end() close the line
        self._started = True
        self._line_open = not text.endswith("\n")
        try:
            out.write(text)
        except UnicodeEncodeError:
            encoding = getattr(out, "encoding", None) or "ascii"
            out.write(text.encode(encoding, "replace").decode(encoding, "replace"))
        out.flush()

    def _newline(self) -> None:
        if self._line_open:
            self._write("\n")

    def _close_thinking(self) -> None:
        if self._thinking:
            self._thinking = False
            self._newline()
            self._write("</thinking>\n")

    def user(self, text: str) -> None:
        """Show the user's prompt (mode "all" only)."""
        if self.mode == "all":
            out = self._out()
            out.write("".join(f"> {line}\n" for line in text.splitlines() or [""]))
            out.flush()

    def output(self, text: str) -> None:
        """Show a piece of the model's answer as it arrives."""
        if self.mode != "none" and text:
            self._close_thinking()
            self._write(text)

    def thinking(self, text: str) -> None:
        """Show a piece of the model's thinking as it arrives (mode "all" only)."""
        if self.mode == "all" and text:
            if not self._thinking:
                self._newline()
                self._write("<thinking>\n")
                self._thinking = True
            self._write(text)

    def tool_request(self, request: ContentToolRequest) -> None:
        """Show a tool call the model asked for (R: ``maybe_echo_tool()``)."""
        if self.mode != "none":
            self._close_thinking()
            self._newline()
            self._write(f"\u25ef [tool call] {format_call(request)}\n")

    def tool_result(self, result: ContentToolResult) -> None:
        """Show a tool's result, or its error, a few lines at most (R: ``maybe_echo_tool()``)."""
        if self.mode == "none":
            return
        self._newline()
        if result.error is not None:
            icon, value = "\u25a0", f"Error: {result.error}"
        else:
            icon, value = "\u25cf", _result_text(result)
        lines = value.splitlines() or [""]
        if len(lines) > 1:
            shown = lines[:5] + (["\u2026"] if len(lines) > 5 else [])
            self._write(f"{icon} #> {shown[0]}\n")
            for line in shown[1:]:
                self._write(f"  #> {line}\n")
        else:
            import shutil

            width = max(20, shutil.get_terminal_size((80, 24)).columns - 7)
            line = lines[0] if len(lines[0]) <= width else lines[0][:width] + "\u2026"
            self._write(f"{icon} #> {line}\n")

    def notice(self, text: str) -> None:
        """Show a line about the request itself (a retry wait) on its own line."""
        if self.mode != "none":
            self._newline()
            self._write(f"[{text}]\n")

    def end(self) -> None:
        """Finish the answer with a newline, if any of it was shown."""
        self._close_thinking()
        if self._started and self._line_open:
            self._write("\n")


def _result_text(result: ContentToolResult) -> str:
    try:
        return result.model_text()
    except (TypeError, ValueError):
        return "<tool result preview not available>"


def format_call(request: ContentToolRequest) -> str:
    """A tool request as a Python call: ``name(x=1, y='a')``."""
    args = request.arguments
    if isinstance(args, dict):
        inner = ", ".join(f"{k}={v!r}" for k, v in args.items())
    elif isinstance(args, str):
        inner = args
    else:
        inner = repr(args)
    call = f"{request.name}({inner})"
    return call if len(call) <= 200 else call[:197] + "...)"


_notices: ContextVar[EchoWriter | None] = ContextVar("ellmer_py_echo_notices", default=None)


@contextlib.contextmanager
def showing_notices(writer: EchoWriter) -> Iterator[None]:
    """Show the transport's notices (retry waits) of this context on ``writer``."""
    token = _notices.set(writer)
    try:
        yield
    finally:
        _notices.reset(token)


def show_notice(text: str) -> None:
    """Show ``text`` on the echo stream of the chat sending the request, if it echoes."""
    writer = _notices.get()
    if writer is not None:
        writer.notice(text)


def stream_content(content: object, stream: object = None) -> Literal["text", "all", "content"]:
    """What a stream yields, from ``content=`` or R's ``stream=`` ("text" or "content")."""
    if stream is not None:
        if stream not in ("text", "content"):
            raise ConfigurationError(f"stream must be 'text' or 'content', not {stream!r}.")
        if content != "text" and (content == "text") != (stream == "text"):
            raise ConfigurationError(
                f"stream={stream!r} and content={content!r} disagree; give only one of them."
            )
        return "text" if stream == "text" else "content"
    if content not in ("text", "all", "content"):
        raise ConfigurationError(f"content must be 'text' or 'all', not {content!r}.")
    return content
