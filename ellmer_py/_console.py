"""The chat console: ask, watch the answer stream, ask again (R: ``live_console()``).

Keys, at the ``>>>`` prompt: Enter sends the line; up and down arrows walk
the lines typed in this session's consoles (readline, when Python has it;
kept in memory only, never written to a file, and kept apart from the
Python prompt's own history); Ctrl-C clears the line and gives a fresh
prompt, as the Python prompt does; Ctrl-D (end of input) or a line ``Q``
leaves. While an answer streams, Ctrl-C stops that answer: what arrived
stays in the chat's turns as an ``AssistantPartialTurn`` (a request stopped
before any of its answer arrived leaves no turn), ``(interrupted)`` is
shown and the console goes on. A line starting with ``\"\"\"`` opens a
multi-line message, closed by a line ending with ``\"\"\"`` (as in R).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator

from ._chat import Chat
from ._errors import ConfigurationError, EllmerError

__all__ = ["describe_error", "live_console"]

BANNER = ("Entering chat console.", 'Use """ for multi-line input.', "Type 'Q' to quit.")
PROMPT = ">>> "
CONTINUATION = "... "
INTERRUPTED = "(interrupted)"

_OPEN = re.compile(r'^\s*"""\s*')
_CLOSE = re.compile(r'\s*"""\s*$')
#: The lines typed in the consoles of this process, oldest first (R keeps them in its session).
_history: list[str] = []


def live_console(chat: Chat, quiet: bool = False) -> Chat:
    """Chat with ``chat`` at the terminal until ``Q`` or Ctrl-D (R: ``live_console()``).

    Every message goes through ``chat.chat()`` with the answer streamed as
    it arrives (tool calls shown as the chat's echo shows them), so the
    turns are added to ``chat``, which is returned. ``quiet`` leaves out
    the banner. Ctrl-C stops the answer being streamed and keeps what
    arrived; an error is shown and the console goes on. The keys are
    described in the module docstring. Standard input must be a terminal.
    """
    if not isinstance(chat, Chat):
        raise ConfigurationError(
            f"live_console() needs a Chat, not {type(chat).__name__}; make one with "
            'chat_huggingface(...) or chat("provider/model").'
        )
    if not isinstance(quiet, bool):
        raise ConfigurationError(f"quiet must be True or False, not {quiet!r}.")
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        raise ConfigurationError(
            "The chat console is only available in interactive mode: standard input is not "
            "a terminal. Run it at a terminal, or send messages with chat.chat() in code."
        )
    if not quiet:
        _say(_box(BANNER))
    with _session_history():
        while True:
            try:
                text = _read_message()
                if text is None:
                    continue
                if text == "Q":
                    break
                _answer(chat, text)
            except KeyboardInterrupt:  # at the prompt: drop the line, as the Python prompt does
                _say("")
            except EOFError:  # Ctrl-D: end the prompt's line and leave
                _say("")
                break
    return chat


def _read_message() -> str | None:
    """The next message typed, ``"Q"`` to quit, or None for a blank line."""
    line = input(PROMPT)
    if line.strip() == "Q":
        return "Q"
    if not line.strip():
        return None
    if _OPEN.match(line):
        lines = [line]
        if not _CLOSE.search(_OPEN.sub("", line, count=1)):  # '"""text"""' is whole already
            while True:
                lines.append(input(CONTINUATION))
                if _CLOSE.search(lines[-1]):
                    break
        line = _CLOSE.sub("", _OPEN.sub("", "\n".join(lines), count=1))
        if not line.strip():
            return None
    return line


def _answer(chat: Chat, text: str) -> None:
    """Send ``text`` and stream the answer; Ctrl-C stops it, an error is shown."""
    try:
        chat.chat(text, echo="output")
    except KeyboardInterrupt:  # the chat kept what arrived as a partial turn
        _say(INTERRUPTED)
    except Exception as exc:  # the session goes on, and keeps its turns
        sys.stdout.flush()
        print(f"Error: {describe_error(exc, chat)}", file=sys.stderr, flush=True)
    _say("")  # R: cat("\n") after each answer


def describe_error(exc: BaseException, chat: Chat | None) -> str:
    """One line about ``exc`` for the terminal, with no credential of ``chat`` in it."""
    text = str(exc) if isinstance(exc, EllmerError) else f"{type(exc).__name__}: {exc}"
    if chat is not None:
        text = chat.get_provider().transport.secrets.redact(text)
    if not isinstance(exc, EllmerError):
        text = f"unexpected error (please report it): {text}"
    return text


def _say(text: str) -> None:
    print(text, flush=True)


def _box(lines: tuple[str, ...]) -> str:
    """``lines`` in a double-lined box, as R's ``cli::cat_boxx(border_style = "double")``."""
    width = max(len(line) for line in lines) + 2
    box = "\n".join(
        ["\u2554" + "\u2550" * width + "\u2557"]
        + [f"\u2551 {line.ljust(width - 2)} \u2551" for line in lines]
        + ["\u255a" + "\u2550" * width + "\u255d"]
    )
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        box.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        box = box.translate(str.maketrans("\u2554\u2557\u255a\u255d\u2550\u2551", "++++=|"))
    return box


@contextlib.contextmanager
def _session_history() -> Iterator[None]:
    """Give readline the console's history while the console runs, then the caller's back."""
    try:
        import readline  # input() edits lines and keeps history once this is imported
    except ImportError:  # a Python built without it: input() still works, without history
        yield
        return
    outer = _lines()
    readline.clear_history()
    for line in _history:
        readline.add_history(line)
    try:
        yield
    finally:
        _history[:] = _lines()
        readline.clear_history()
        for line in outer:
            readline.add_history(line)


def _lines() -> list[str]:
    """The lines in readline's history, oldest first."""
    import readline

    count = readline.get_current_history_length()
    items = (readline.get_history_item(i) for i in range(1, count + 1))
    return [item for item in items if item is not None]
