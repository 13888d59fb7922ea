"""The plugin hooks a provider package implements (pluggy, project ``ellmer_py``).

A provider plugin is one module with one entry point in the ``ellmer_py``
group::

    from ellmer_py import ProviderSpec, hookimpl

    @hookimpl
    def ellmer_py_register_providers(register):
        register(ProviderSpec(name="example", chat_function=chat_example))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ._registry import ProviderSpec

__all__ = ["PROJECT_NAME", "ellmer_py_register_providers", "hookimpl", "hookspec"]

PROJECT_NAME = "ellmer_py"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Decorator for a plugin's hook implementations.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Call ``register(ProviderSpec(...))`` once for each provider the plugin offers."""
