"""Shared test configuration: hypothesis profiles.

``HYPOTHESIS_PROFILE=dev`` runs more examples; the default ``ci`` profile is
quick. Neither has a deadline: timing belongs in ``bench/``, not in tests.
"""

from __future__ import annotations

import gc
import importlib.util
import os

import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, max_examples=50)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: The live tests (``tox -e live``: a real llama-server) need the ``gguf`` package to
#: write their models; where it is not installed they are not collected at all
#: (they are deselected by ``-m "not live"`` anyway).
collect_ignore = [] if importlib.util.find_spec("gguf") else ["live"]


_DEEP = ("deep", "nest", "fuzz", "hostile", "recursion")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Collect garbage before a test that drives code near the recursion limit.

    Hostile, deeply nested JSON makes the code under test recurse until it
    stops itself with our error; a finalizer of an earlier test's garbage
    (a stream left unread) that the collector happened to run at that depth
    would fail with RecursionError and be reported against this test.
    """
    if any(word in item.nodeid.lower() for word in _DEEP):
        gc.collect()
