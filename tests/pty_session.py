"""A program run in a real pseudo-terminal, driven as a person at the keyboard would.

``PtySession`` starts a command with a pty as its stdin, stdout and stderr
(so ``isatty()`` is true and the terminal driver turns ``\\x03`` into
SIGINT), sends keys, and reads until an expected text appears, failing with
everything read so far when it does not within the timeout.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from collections.abc import Sequence

#: ANSI escape sequences (colours, cursor moves of line editors), left out of ``text``.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r")


class PtySession:
    """One process on a pseudo-terminal: ``send()`` keys, ``expect()`` output."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], cwd: str | None = None) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,  # the pty becomes the controlling terminal
            close_fds=True,
        )
        os.close(slave)
        self.raw = b""
        self._seen = 0  # how much of ``text`` earlier expect() calls consumed

    @property
    def text(self) -> str:
        """Everything read so far, without escape sequences and carriage returns."""
        return _ANSI.sub("", self.raw.decode("utf-8", errors="replace"))

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the child closed the terminal
            return False
        self.raw += chunk
        return bool(chunk)

    def send(self, keys: str) -> None:
        """Type ``keys`` (a line needs its ``"\\n"``)."""
        os.write(self.master, keys.encode("utf-8"))

    def expect(self, needle: str, timeout: float = 30.0) -> str:
        """Read until ``needle`` appears past what was consumed; the text before it."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.text.find(needle, self._seen)
            if found >= 0:
                before = self.text[self._seen : found]
                self._seen = found + len(needle)
                return before
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 0.5)) and self.proc.poll() is not None):
                raise AssertionError(
                    f"{needle!r} did not appear within {timeout}s; read so far:\n{self.text}"
                )

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the program to end, reading what it still writes; its exit code."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        while self._read(0.05):
            pass
        return self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        """End the program if it still runs, and close the terminal."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.master)
