"""The instant loopback server of ``bench/parallel.py``: ``_server.py``, in its own process.

``_server.py`` answers ``POST /v1/chat/completions`` at once with a cached
``chat.completion`` carrying ``_wire.REPLY``, so what is measured is the
clients, not the server; in its own process, it never competes with them
for a GIL.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["serving"]

BENCH_DIR = Path(__file__).resolve().parent


@contextlib.contextmanager
def serving() -> Iterator[str]:
    """Run ``_server.py`` on a free port of 127.0.0.1; yield its base URL (``.../v1``)."""
    proc = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "_server.py"), "--chunks=10"],
        cwd=BENCH_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"bench server did not start (said {line!r})")
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
