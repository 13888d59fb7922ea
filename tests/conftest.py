"""Shared test configuration: hypothesis profiles.

``HYPOTHESIS_PROFILE=dev`` runs more examples; the default ``ci`` profile is
quick. Neither has a deadline: timing belongs in ``bench/``, not in tests.
"""

from __future__ import annotations

import importlib.util
import os

from hypothesis import settings

settings.register_profile("ci", deadline=None, max_examples=50)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: The live tests (``tox -e live``: a real llama-server) need the ``gguf`` package to
#: write their models; where it is not installed they are not collected at all
#: (they are deselected by ``-m "not live"`` anyway).
collect_ignore = [] if importlib.util.find_spec("gguf") else ["live"]
