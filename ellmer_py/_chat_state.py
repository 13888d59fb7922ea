"""Copies of a chat: ``clone()``, ``copy.copy``/``copy.deepcopy``, and pickling.

(R: ``$clone()``.) ``ChatStateMixin`` is a base class of ``Chat``.

- ``chat.clone()`` (also ``copy.copy(chat)`` and ``chat.copy()``) is cheap: the
  copy has its own turns list, tools and callbacks, and shares the provider,
  so both chats send through one connection pool. The turn objects are
  immutable and shared. (R's ``$clone()`` shares the callback managers,
  which are R6 objects; here the callbacks are the copy's own.)
- ``chat.clone(deep=True)`` and ``copy.deepcopy(chat)`` copy everything the
  chat holds, turns and provider included; the copied provider makes its own
  pool on first use. The echo stream (a file, ``sys.stdout``) is shared.
- ``pickle.dumps(chat)`` (multiprocessing, ``ProcessPoolExecutor``, Dask, Ray)
  stores the provider's settings, the turns, the tools and the callbacks,
  never a key: credentials are stored as where the key comes from and read
  again where the chat is unpickled, whose provider makes a new pool on first
  use. The echo stream is not stored: the unpickled chat echoes to
  ``sys.stdout``. Tools and callbacks must be functions defined at module
  level; a lambda or nested function is refused with an error naming it
  (see ellmer_py._pickling).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._pickling import refuse_held_secrets, require_by_reference

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._provider import Provider
    from ._tools import ToolDef

__all__ = ["ChatStateMixin"]

#: Attributes a deep copy shares rather than copies: a stream belongs to the process.
_SHARED = ("_echo_stream",)
_MODULE_LEVEL = "Define it at module level (a def in a module the worker can import)."


class ChatStateMixin:
    """The copying and pickling of ``Chat``; ``Chat`` sets the attributes."""

    _provider: Provider
    _tools: dict[str, ToolDef]
    _on_tool_request: dict[int, Callable[[Any], Any]]
    _on_tool_result: dict[int, Callable[[Any], Any]]

    def clone(self, deep: bool = False) -> Self:
        """A copy of the chat that changes independently of it (R: ``$clone()``).

        The copy has its own turns, tools and callbacks and shares the
        provider and its connection pool; ``deep=True`` copies the provider
        too (as ``copy.deepcopy``), which then makes its own pool.
        """
        if deep:
            return copy.deepcopy(self)
        new = object.__new__(type(self))
        for name, value in vars(self).items():
            # every list, dict and set: turns, tools, callbacks, whatever Chat adds later
            fresh = copy.copy(value) if isinstance(value, (list, dict, set)) else value
            object.__setattr__(new, name, fresh)
        return new

    def copy(self) -> Self:
        """The same as ``clone()`` (R: ``$clone()``)."""
        return self.clone()

    def __copy__(self) -> Self:
        return self.clone()

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        new = object.__new__(type(self))
        memo[id(self)] = new
        for name, value in vars(self).items():
            fresh = value if name in _SHARED else copy.deepcopy(value, memo)
            object.__setattr__(new, name, fresh)
        return new

    def __getstate__(self) -> dict[str, Any]:
        """What a pickle stores: no key, no echo stream; tools and callbacks by name."""
        refuse_held_secrets(self._provider)
        for name, tool in self._tools.items():
            require_by_reference(tool.func, f"the function of the tool {name!r}", _MODULE_LEVEL)
        for kind in ("on_tool_request", "on_tool_result"):
            for callback in getattr(self, f"_{kind}").values():
                require_by_reference(callback, f"the {kind}() callback", _MODULE_LEVEL)
        state = dict(vars(self))
        for name in _SHARED:
            state[name] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
