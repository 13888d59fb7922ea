"""An echoed answer is shown once at a prompt (issue 12, item 1; R returns it invisibly).

Each test types at a real prompt: Python's own in a pseudo-terminal, and
IPython's in a real Jupyter kernel (ipykernel, driven by jupyter_client),
against a loopback server in this process. ``answer = chat.chat(...)`` still
holds the text, and typing ``answer`` later shows it.
"""

from __future__ import annotations

import os
import pickle
import queue
from collections.abc import Iterator
from typing import Any

import pytest
from pty_session import Terminal

from ellmer_py._answer import EchoedText, echoed
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data


def streamed(*pieces: str) -> Reply:
    """An SSE answer sending ``pieces`` as content deltas."""
    events = [
        sse_data({"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]})
        for p in pieces
    ]
    events.append(sse_data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    events.append(sse_data("[DONE]"))
    return Reply.sse(events)


def answered(text: str) -> Reply:
    """A whole (not streamed) answer."""
    message = {"role": "assistant", "content": text}
    return Reply.json({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def child_env() -> dict[str, str]:
    """The environment of the prompt: no ambient settings, one try per request."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELLMER", "PYTHONSTARTUP"))}
    env.update(ELLMER_MAX_TRIES="1", ELLMER_TIMEOUT_S="20", PYTHONIOENCODING="utf-8", TERM="xterm")
    return env


def make_chat(url: str, echo: str = "output") -> str:
    """The line that makes the chat at the prompt (no echo= argument: the default)."""
    arg = "" if echo == "default" else f", echo={echo!r}"
    return (
        "from ellmer_py import chat_openai_compatible; "
        f"chat = chat_openai_compatible(base_url={url!r}, model='m', "
        f"credentials=lambda: 'k'{arg})"
    )


# -- the plain Python prompt --------------------------------------------------------------


def test_the_python_prompt_shows_an_echoed_answer_once(srv: FakeServer) -> None:
    srv.enqueue(streamed("ZEBRA-", "one"), streamed("OKAPI-", "two"), answered("IBEX-three"))
    session = Terminal(["-q"], child_env())
    marks = iter(range(1, 100))

    def run(line: str) -> str:
        """Type ``line`` at the prompt; what the prompt showed until it was done.

        A printed mark (typed as "MARK" + "n", so only the output holds it
        whole) ends each step: Python 3.13's prompt redraws the line as it is
        typed, so the prompt itself is no landmark.
        """
        mark = next(marks)
        session.type(f'{line}\nprint("MARK" + "{mark}")\n')
        return session.expect(f"MARK{mark}")

    try:
        session.expect(">>> ")
        run(make_chat(srv.base_url, "default"))  # echo defaults to on at a prompt
        assert run('chat.chat("hi")').count("ZEBRA-one") == 1
        assert run('answer = chat.chat("again")').count("OKAPI-two") == 1
        assert "'OKAPI-two'" in run("answer")  # asked for later: shown, as any str
        assert "('str', True)" in run("type(answer).__mro__[-2].__name__, answer == 'OKAPI-two'")
        quiet = run('chat.chat("quiet", echo="none")')  # not echoed: the prompt shows it
        assert quiet.count("IBEX-three") == 1, quiet
        session.type("exit()\n")
        assert session.exit_code() == 0
    finally:
        session.close()
    assert len(srv.requests) == 3


# -- terminal IPython ----------------------------------------------------------------------


def test_terminal_ipython_shows_an_echoed_answer_once_with_no_empty_out(srv: FakeServer) -> None:
    srv.enqueue(streamed("ZEBRA-", "one"), streamed("OKAPI-", "two"))
    # --simple-prompt: the same shell and display hook, without the cursor-position
    # queries prompt_toolkit sends to a real terminal
    start = "import IPython; IPython.start_ipython(argv=['--no-banner', '--simple-prompt'])"
    session = Terminal(["-c", start], child_env())
    cells = iter(range(2, 100))

    def run(line: str) -> str:
        """Type ``line`` as the next cell; what it showed before the next prompt."""
        session.type(f"{line}\n")
        return session.expect(f"In [{next(cells)}]: ")

    try:
        session.expect("In [1]: ")
        run(make_chat(srv.base_url, "default"))
        shown = run('chat.chat("hi")')
        assert shown.count("ZEBRA-one") == 1 and "Out[" not in shown, shown
        shown = run('answer = chat.chat("again")')
        assert shown.count("OKAPI-two") == 1 and "Out[" not in shown, shown
        assert "Out[4]: 'OKAPI-two'" in run("answer")  # asked for later: shown, as any str
        assert "Out[5]: 'OKAPI-TWO'" in run("answer.upper()")
        assert "Out[6]: 3" in run("1 + 2")  # other values as usual
        session.type("exit()\n")
        assert session.exit_code() == 0
    finally:
        session.close()
    assert len(srv.requests) == 2


# -- a Jupyter kernel ----------------------------------------------------------------------


class Kernel:
    """A real IPython kernel; ``run(code)`` gives the outputs of one cell."""

    def __init__(self) -> None:
        from jupyter_client.manager import start_new_kernel

        self.manager, self.client = start_new_kernel(
            kernel_name="python3", env=child_env(), startup_timeout=120
        )

    def run(self, code: str) -> dict[str, Any]:
        """Run one cell; its stdout text, results (mime bundles) and errors."""
        msg_id = self.client.execute(code)
        out: dict[str, Any] = {"stdout": "", "results": [], "displays": [], "errors": []}
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=60)
            except queue.Empty:
                alive = "alive" if self.manager.is_alive() else "dead"
                raise AssertionError(
                    f"the kernel ({alive}) did not finish {code!r}; so far {out}"
                ) from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                out["stdout"] += content["text"]
            elif kind == "execute_result":
                out["results"].append(content["data"])
            elif kind == "display_data":
                out["displays"].append(content["data"])
            elif kind == "error":
                out["errors"].append("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return out

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    try:
        yield k
    finally:
        k.close()


def test_a_notebook_cell_shows_an_echoed_answer_once(srv: FakeServer, kernel: Kernel) -> None:
    srv.enqueue(streamed("ZEBRA-", "one"), streamed("OKAPI-", "two"))
    made = kernel.run(make_chat(srv.base_url, "default"))
    assert made["errors"] == []
    cell = kernel.run('chat.chat("hi")')
    assert cell["errors"] == []
    assert cell["stdout"].count("ZEBRA-one") == 1  # streamed as it arrived
    assert cell["results"] == [] and cell["displays"] == []  # and not shown again
    cell = kernel.run('answer = chat.chat("again")')
    assert cell["stdout"].count("OKAPI-two") == 1 and cell["results"] == []
    cell = kernel.run("answer")  # another cell asks for it: shown as a str
    assert cell["results"] == [{"text/plain": "'OKAPI-two'"}]
    assert kernel.run("answer.upper()")["results"] == [{"text/plain": "'OKAPI-TWO'"}]


# -- the value itself ----------------------------------------------------------------------


def test_an_echoed_answer_is_the_text_in_code() -> None:
    text = EchoedText("hello")
    text._input = None
    assert text == "hello" and isinstance(text, str) and repr(text) == "'hello'"
    assert type(pickle.loads(pickle.dumps(text))) is str  # a plain str elsewhere
    assert echoed("hello") == "hello" and type(echoed("hello")) is str  # not at a prompt
