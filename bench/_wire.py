"""What the benchmark server streams, shared with the benchmark workers.

Kept free of heavy imports: the workers import it into the process whose
memory and speed are being measured.
"""

from __future__ import annotations

__all__ = ["MODEL", "REPLY", "expected_text", "token"]

#: The model name every client asks for (the server echoes any name).
MODEL = "m"

#: The assistant text of every non-streamed reply.
REPLY = "Hello! How can I help you today?"

_WORDS = (" the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", ".")


def token(i: int) -> str:
    """Return the one-token delta carried by content event number ``i``."""
    return _WORDS[i % len(_WORDS)]


def expected_text(n: int) -> str:
    """Return the text a client must assemble from an ``n``-event stream."""
    return "".join(token(i) for i in range(n))
