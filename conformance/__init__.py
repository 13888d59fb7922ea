"""The ellmer-py conformance suite: every provider, built-in or installed, behaves the same.

``python -m ellmer_py.conformance [NAME]`` runs every check against a fake
server on the loopback interface and prints a provider x check table. From
pytest, subclass :class:`ConformanceTests` with ``provider = "<name>"``.
The checks themselves are plain functions in
:mod:`ellmer_py.conformance.checks` (``check_<name>(ctx)``, with a
:class:`Context`); the fake server is :mod:`ellmer_py.conformance.fake_server`.

Everything but the fake server needs hypothesis
(``pip install 'ellmer-py[conformance]'``); it is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .fake_server import FakeServer, RecordedRequest, Reply, sse_data

if TYPE_CHECKING:
    from ._context import Context
    from ._runner import CheckResult, format_results, run_check, run_provider
    from .checks import CHECKS
    from .testing import ConformanceTests

__all__ = [
    "CHECKS",
    "CheckResult",
    "ConformanceTests",
    "Context",
    "FakeServer",
    "RecordedRequest",
    "Reply",
    "format_results",
    "run_check",
    "run_provider",
    "sse_data",
]

_LAZY = {
    "CHECKS": "checks",
    "CheckResult": "_runner",
    "ConformanceTests": "testing",
    "Context": "_context",
    "format_results": "_runner",
    "run_check": "_runner",
    "run_provider": "_runner",
}


def __getattr__(name: str) -> Any:
    """Import the hypothesis-based parts on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ellmer_py.conformance' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
