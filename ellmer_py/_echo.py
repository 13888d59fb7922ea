"""Echo modes: what ``chat()`` prints as it goes (R: ``echo``)."""

from __future__ import annotations

import os
import sys
from typing import Literal, TextIO

from ._errors import ConfigurationError

__all__ = ["Echo", "EchoWriter", "resolve_echo"]

Echo = Literal["none", "output", "all"]
_MODES = ("none", "output", "all")


def _interactive() -> bool:
    return hasattr(sys, "ps1") or bool(sys.flags.interactive)


def resolve_echo(echo: object) -> Echo:
    """Normalise an echo setting (R: ``check_echo()``).

    ``"none"``, ``"output"`` or ``"all"``; ``True`` means ``"output"`` and
    ``False`` ``"none"``; ``None`` reads ``ELLMER_ECHO``, else ``"output"`` in
    an interactive interpreter and ``"none"`` in code.
    """
    if echo is None:
        env = os.environ.get("ELLMER_ECHO", "").strip().lower()
        if env:
            echo = env
        else:
            return "output" if _interactive() else "none"
    if echo is True:
        return "output"
    if echo is False:
        return "none"
    if isinstance(echo, str) and echo.lower() in _MODES:
        return echo.lower()  # type: ignore[return-value]
    raise ConfigurationError(
        f"echo must be one of 'none', 'output', 'all' (or True/False), not {echo!r}."
    )


class EchoWriter:
    """Writes what an echo mode shows to a text stream, flushing as it goes."""

    def __init__(self, mode: Echo, stream: TextIO | None = None) -> None:
        self.mode = mode
        self.stream = stream
        self._started = False

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stdout

    def user(self, text: str) -> None:
        """Show the user's prompt (mode "all" only)."""
        if self.mode == "all":
            out = self._out()
            out.write("".join(f"> {line}\n" for line in text.splitlines() or [""]))
            out.flush()

    def output(self, text: str) -> None:
        """Show a piece of the model's answer as it arrives."""
        if self.mode != "none" and text:
            out = self._out()
            out.write(text)
            out.flush()
            self._started = True

    def end(self) -> None:
        """Finish the answer with a newline, if any of it was shown."""
        if self._started:
            out = self._out()
            out.write("\n")
            out.flush()
