"""A one-line progress bar on stderr, for runs of many requests (R: cli's progress bars).

Drawn only when asked to, or by default when stderr is a terminal; redrawn in
place at most ten times a second and cleared when the run ends.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "progress_stream"]


class Progress:
    """A one-line progress bar, redrawn in place; cleared when the run ends."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO | None, label: str) -> None:
        self.total = total
        self.stream = stream
        self.label = label
        self.start = time.monotonic()
        self._drawn = 0.0
        self._width = 0

    def update(self, done: int, failed: int, *, force: bool = False) -> None:
        """Redraw with ``done`` of ``total`` finished (``failed`` of them failed)."""
        stream = self.stream
        if stream is None:
            return
        now = time.monotonic()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        filled = self.WIDTH * done // self.total if self.total else self.WIDTH
        bar = "=" * filled + " " * (self.WIDTH - filled)
        failures = f", {failed} failed" if failed else ""
        line = f"{self.label} [{bar}] {done}/{self.total}{failures} | {now - self.start:.1f}s"
        pad = " " * max(0, self._width - len(line))
        self._width = len(line)
        stream.write(f"\r{line}{pad}")
        stream.flush()

    def close(self) -> None:
        """Clear the bar's line."""
        if self.stream is not None and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()


def progress_stream(progress: bool | None) -> TextIO | None:
    """Where to draw: stderr if ``progress`` (None: if stderr is a terminal), else nowhere."""
    stream = sys.stderr
    if progress is None:
        isatty = getattr(stream, "isatty", None)
        try:
            progress = bool(isatty()) if callable(isatty) else False
        except (OSError, ValueError):  # a closed or detached stream
            progress = False
    return stream if progress else None
