"""A program run in a real pseudo-terminal, driven as a person at the keyboard would.

``Terminal`` starts ``python -m ellmer_py`` (or a script, or Python's own
prompt) with a pty as its controlling terminal, so ``isatty()`` is true and
the terminal driver turns Ctrl-C into SIGINT; ``type()`` sends keys and
``expect()`` reads until a text appears, failing with everything shown so far.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

#: Runs ``python -m ellmer_py ARGS`` (``python ARGS`` when they start with ``-c`` or
#: ``-q``: a script, or Python's own prompt) with the terminal on standard input as its
#: controlling terminal, so Ctrl-C becomes SIGINT.
LAUNCHER = (
    "import fcntl, os, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "plain = sys.argv[1:2] in (['-c'], ['-q'])\n"
    "args = sys.argv[1:] if plain else ['-m', 'ellmer_py', *sys.argv[1:]]\n"
    "os.execv(sys.executable, [sys.executable, *args])\n"
)
TIMEOUT = 30.0  # generous: a slow, shared machine
UP = "\x1b[A"
CTRL_C = "\x03"
CTRL_D = "\x04"


class Terminal:
    """A child process on a pseudo-terminal: type into it, read what it shows."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
        # NOFLSH: Ctrl-C does not flush what the child wrote and the test has not read yet
        # (the child may answer the signal before the driver flushes)
        attrs = termios.tcgetattr(slave)
        attrs[3] |= termios.NOFLSH
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.master = master
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.shown = ""  # everything read so far, carriage returns removed
        self._pos = 0  # where the next expect() starts looking

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False once the child closed the terminal."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: no process has the terminal open any more
            return False
        if not data:
            return False
        self.shown += data.decode("utf-8", "replace").replace("\r", "")
        return True

    def expect(self, text: str, timeout: float = TIMEOUT) -> str:
        """Wait until ``text`` is shown after the last match; return what came before it."""
        deadline = time.monotonic() + timeout
        while True:
            at = self.shown.find(text, self._pos)
            if at >= 0:
                before = self.shown[self._pos : at]
                self._pos = at + len(text)
                return before
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 0.5)) and self.proc.poll() is not None):
                pytest.fail(f"{text!r} was not shown; the terminal showed:\n{self.shown}")

    def wait_for_input(self, timeout: float = TIMEOUT) -> None:
        """Wait until the child waits for a key (readline's select()).

        CPython's readline notices a Ctrl-C only while it waits in select(): one
        that comes while it is still handling the previous key waits for the next
        key. A person never types that fast; the test must wait for it.
        """
        wchan = Path(f"/proc/{self.proc.pid}/wchan")
        if not wchan.exists():  # no /proc: give it a moment
            time.sleep(0.5)
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            where = wchan.read_text()
            if "poll" in where or "select" in where:
                return
            time.sleep(0.01)
        pytest.fail(f"the console did not wait for a key; the terminal showed:\n{self.shown}")

    def interrupt_at_prompt(self) -> None:
        """Press Ctrl-C at a prompt and read up to the fresh prompt.

        Should CPython's readline still miss it (the race described in
        :meth:`wait_for_input`, seen on a loaded machine), a second Ctrl-C
        delivers both: at worst an extra empty prompt, never a lost line.
        """
        self.wait_for_input()
        self.type(CTRL_C)
        try:
            self.expect(">>> ", timeout=5)
        except pytest.fail.Exception:
            self.type(CTRL_C)
            self.expect(">>> ")

    def type(self, keys: str) -> None:
        """Type ``keys`` (one write, as a fast typist)."""
        os.write(self.master, keys.encode())

    def exit_code(self, timeout: float = TIMEOUT) -> int:
        """Wait for the child to end, reading what it shows meanwhile."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        if self.proc.poll() is None:
            pytest.fail(f"the console did not end; the terminal showed:\n{self.shown}")
        while self._read(0.05):  # the last of it
            pass
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.master)
