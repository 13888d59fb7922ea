"""The conformance checks as a pytest test class, for a provider package's own tests.

::

    # tests/test_conformance.py of a provider package
    from ellmer_py.conformance import ConformanceTests

    class TestExampleConformance(ConformanceTests):
        provider = "example"

Each check becomes one test method (``test_api_args``, ``test_errors``,
...). The class needs no pytest import and no pytest plugin: pytest
collects the subclass because its name starts with ``Test``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from ellmer_py import get_provider_spec

from ._context import Context
from .checks import CHECKS

__all__ = ["ConformanceTests"]


class ConformanceTests:
    """Subclass with ``provider = "<registered name>"`` to run every check as a test."""

    #: The registered name of the provider under test.
    provider: ClassVar[str] = ""

    def run_conformance_check(self, check: str) -> Context:
        """Run one check for ``self.provider``; returns the context (with its notes)."""
        if not self.provider:
            raise AssertionError(
                f"{type(self).__name__} needs provider = '<name>', the registered provider name"
            )
        ctx = Context(get_provider_spec(self.provider))
        CHECKS[check](ctx)
        return ctx


def _test_method(check: str) -> Callable[[ConformanceTests], None]:
    def test(self: ConformanceTests) -> None:
        self.run_conformance_check(check)

    test.__name__ = test.__qualname__ = f"test_{check}"
    test.__doc__ = CHECKS[check].__doc__
    return test


for _name in CHECKS:
    setattr(ConformanceTests, f"test_{_name}", _test_method(_name))
del _name
