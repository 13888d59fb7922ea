"""The text ``chat()`` returns after echoing it: not shown a second time at a prompt.

R's ``$chat()`` returns the answer invisibly, so the console shows it once,
as it streams. Python's prompts show the value of an expression statement,
so ``chat.chat("hi")`` at a prompt would show the answer twice. When the
answer was echoed in an interactive session, ``chat()`` returns an
:class:`EchoedText`: a ``str``, equal to the text, that the prompt does not
display again *for the input that produced it*. ``answer = chat.chat(...)``
still gives the text, and typing ``answer`` later shows it as usual.

"The input that produced it" is the innermost top-level code object
(``co_name == "<module>"``) on the stack when ``chat()`` returned: each input
of the Python prompt, and each cell (or its last expression) in IPython and
Jupyter, is compiled to its own. The plain prompt calls ``sys.displayhook``
from that code; a Jupyter kernel asks for ``_ipython_display_`` from its
display hook, below that code on the same stack; terminal IPython's hook,
which writes ``Out[n]:`` before it asks, is wrapped to pass the answer over.
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

from ._echo import _interactive

__all__ = ["EchoedText", "echoed"]


def _input_code(frame: FrameType | None) -> CodeType | None:
    """The top-level code (an input or a cell) running at ``frame`` or below it."""
    while frame is not None:
        if frame.f_code.co_name == "<module>":
            return frame.f_code
        frame = frame.f_back
    return None


def _nothing() -> None:
    """Show nothing: the answer is on the screen already."""


class EchoedText(str):
    """An echoed answer's text: a ``str`` the prompt that asked for it does not show again."""

    _input: CodeType | None

    @property
    def _ipython_display_(self) -> Callable[[], None]:
        """IPython's hook: show nothing for the cell that asked, as usual elsewhere."""
        if self._input is not None and _input_code(sys._getframe(1)) is self._input:
            return _nothing
        raise AttributeError("_ipython_display_")  # IPython then formats it as a str

    def __reduce__(self) -> tuple[Any, ...]:
        return (str, (str(self),))  # a plain str elsewhere


def echoed(text: str, frame: FrameType | None = None) -> str:
    """``text`` as ``chat()`` returns it once echoed: an EchoedText at a prompt, else itself.

    ``frame`` is where the caller asked for the answer (by default the
    caller's caller); the async methods pass the frame of their awaiting code.
    """
    if not _interactive():
        return text
    answer = EchoedText(text)
    answer._input = _input_code(frame if frame is not None else sys._getframe(2))
    if answer._input is not None:
        _install_display_hook()
    return answer


def _display_hook(value: object) -> None:
    """The plain prompt's display hook, passing over an answer already echoed."""
    if isinstance(value, EchoedText) and value._input is _input_code(sys._getframe(1)):
        builtins._ = value  # type: ignore[attr-defined]  # as the default hook would
        return
    sys.__displayhook__(value)


class _SkipEchoed:
    """Terminal IPython's display hook, passing over an answer already echoed.

    Its hook writes the ``Out[n]:`` prompt before it formats the value, so an
    answer that shows nothing would still leave an empty ``Out[n]:``; this
    wrapper skips the hook for it, as a trailing ``;`` would. Everything else
    goes to IPython's own hook.
    """

    def __init__(self, hook: Any) -> None:
        self._hook = hook

    def __call__(self, value: object) -> None:
        if isinstance(value, EchoedText) and value._input is _input_code(sys._getframe(1)):
            return
        self._hook(value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hook, name)


def _terminal_ipython() -> Any:
    """The running terminal IPython shell, or None (none, or a Jupyter kernel's)."""
    module = sys.modules.get("IPython")
    shell = getattr(module, "get_ipython", lambda: None)() if module is not None else None
    if shell is None or hasattr(shell, "kernel") or not hasattr(shell, "display_trap"):
        return None
    return shell


def _install_display_hook() -> None:
    """Put :func:`_display_hook` in place of Python's own, or wrap terminal IPython's.

    A Jupyter kernel's hook is left alone: it asks for ``_ipython_display_``.
    """
    if sys.displayhook is sys.__displayhook__:
        sys.displayhook = _display_hook
        return
    shell = _terminal_ipython()
    if shell is None:
        return
    trap = shell.display_trap
    if not isinstance(trap.hook, _SkipEchoed):
        trap.hook = _SkipEchoed(trap.hook)  # for the cells to come
    if sys.displayhook is trap.hook._hook:
        sys.displayhook = trap.hook  # and for the cell running now
