"""Shared test configuration: hypothesis profiles.

``HYPOTHESIS_PROFILE=dev`` runs more examples; the default ``ci`` profile is
quick. Neither has a deadline: timing belongs in ``bench/``, not in tests.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", deadline=None, max_examples=50)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
