"""The plugin hooks a provider package implements (pluggy, project ``ellmer_py``).

A provider plugin is one module with one entry point in the ``ellmer_py``
group (a protocol plugin implements ``ellmer_py_register_protocols`` the same way)::

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
    from ._specs import ProtocolSpec, ProviderSpec

__all__ = [
    "PROJECT_NAME",
    "ellmer_py_register_protocols",
    "ellmer_py_register_providers",
    "hookimpl",
    "hookspec",
]

PROJECT_NAME = "ellmer_py"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Decorator for a plugin's hook implementations.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Call ``register(ProviderSpec(...))`` once for each provider the plugin offers."""


@hookspec
def ellmer_py_register_protocols(register: Callable[[ProtocolSpec], None]) -> None:
    """Call ``register(ProtocolSpec(...))`` once for each wire protocol the plugin offers.

    A protocol names its conformance fake there too, so the conformance
    suite finds it the same way the core finds the protocol.
    """
