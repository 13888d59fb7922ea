"""What a pickled chat may hold: functions by name, settings, turns; never a key.

A chat pickles (multiprocessing, ``ProcessPoolExecutor``, Dask, Ray) with its
provider's settings, its turns and its tools. Credentials pickle as where the
key comes from (environment variable names, token file paths, a function
imported by its name) and are read again where the chat is unpickled; the
connection pool is rebuilt there on first use. A function pickle would have
to store by value (a lambda, a nested function, which may hold a key in its
variables) is refused with :class:`UnpicklableError`, whatever the pickler:
cloudpickle (Dask, Ray) would carry its variables along.
"""

from __future__ import annotations

import pickle
import sys
import types
from typing import TYPE_CHECKING, Any

from ._errors import ConfigurationError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "CopiedAsItself",
    "UnpicklableError",
    "by_reference",
    "refuse_held_secrets",
    "require_by_reference",
]


class CopiedAsItself:
    """An immutable object whose copies are itself, as a function's are.

    ``copy.copy`` and ``copy.deepcopy`` then never go through its pickling,
    which may refuse what a copy in the same process can hold.
    """

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self


class UnpicklableError(ConfigurationError, pickle.PicklingError):
    """A chat, or a part of one, cannot be pickled; the message says why and what to do."""


def by_reference(func: object) -> bool:
    """Whether pickle stores ``func`` as the name to import it by (true of any non-function).

    A lambda, a nested function or a function replaced in its module is not.
    """
    if not isinstance(func, types.FunctionType):
        return True
    found: Any = sys.modules.get(func.__module__ or "")
    for part in func.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is func


def require_by_reference(func: object, what: str, fix: str) -> None:
    """Raise UnpicklableError unless pickle can store ``func`` by its name."""
    if by_reference(func):
        return
    assert isinstance(func, types.FunctionType)
    name = func.__qualname__
    kind = (
        "a lambda"
        if func.__name__ == "<lambda>"
        else "a nested function"
        if "<locals>" in name
        else "a function its module does not hold under that name"
    )
    raise UnpicklableError(
        f"Cannot pickle this chat: {what} is {kind} ({func.__module__}.{name}), which pickle "
        f"can only store with its code and variables (where a key may hide). {fix}"
    )


def refuse_held_secrets(provider: Any) -> None:
    """Raise UnpicklableError if ``provider`` holds a credential in its settings.

    That is a user:password or key in ``base_url``, or a header of
    ``api_headers`` or a parameter of ``url_params`` named like a credential
    (``Authorization``, ``x-api-key``, ``key``, ...).
    """
    from ._redact import is_secret_name, url_secrets

    where = []
    if url_secrets(provider.base_url):
        where.append("its base_url holds a user name, password or key")
    names = [n for n in provider.api_headers if is_secret_name(n)]
    names += [n for n in provider.url_params if is_secret_name(n)]
    if names:
        where.append(f"its api_headers or url_params hold {', '.join(map(repr, names))}")
    if where:
        raise UnpicklableError(
            f"Cannot pickle this {provider.name} chat: {' and '.join(where)}, and a pickled "
            "chat never carries a key. Leave the key out of base_url= and api_headers=, and "
            "pass credentials=, a module-level function that reads it where the chat runs "
            "(from an environment variable or a file)."
        )
