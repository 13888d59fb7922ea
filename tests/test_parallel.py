"""Tests of parallel_chat / parallel_chat_text / parallel_chat_structured and fork_chat.

Against a loopback server that answers each prompt by its text (arrival
order is not fixed), records how many requests are in flight and when each
arrives: bounded concurrency, the rpm token bucket, prompt order, R's
on_error semantics, the progress bar (on a fake terminal only), and forks
that share nothing mutable with the original chat.
"""

from __future__ import annotations

import io
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ellmer_py import (
    AssistantTurn,
    BadRequestError,
    Chat,
    ConfigurationError,
    ContentToolRequest,
    ContentToolResult,
    ParallelChatError,
    UserTurn,
    parallel_chat,
    parallel_chat_structured,
    parallel_chat_text,
    type_integer,
    type_object,
    type_string,
)
from ellmer_py._parallel import fork_chat
from ellmer_py._scope import RateLimiter, RequestCancelled, RequestScope
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply
from ellmer_py.providers.openai_compatible import chat_openai_compatible


def completion(text: str) -> dict[str, Any]:
    return {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


def prompt_of(request: RecordedRequest) -> str:
    """The text of the last user message of a chat request."""
    body = request.json
    user = [m for m in body["messages"] if m["role"] == "user"][-1]
    content = user["content"]
    if isinstance(content, list):  # several text parts
        return "".join(part["text"] for part in content)
    return str(content)


class Server:
    """Answers "p3" with "answer to p3"; tracks requests in flight and arrival times."""

    def __init__(self, srv: FakeServer) -> None:
        self.srv = srv
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.seen: list[tuple[str, float]] = []
        self.hold: Callable[[str], float] = lambda prompt: 0.0
        self.special: dict[str, Reply] = {}
        srv.default = self.reply

    def reply(self, request: RecordedRequest) -> Reply:
        prompt = prompt_of(request)
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.seen.append((prompt, time.monotonic()))
        try:
            time.sleep(self.hold(prompt))
        finally:
            with self.lock:
                self.active -= 1
        if prompt in self.special:
            return self.special[prompt]
        return Reply.json(completion(f"answer to {prompt}"))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ELLMER_ECHO", "ELLMER_MAX_TRIES", "ELLMER_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture
def server(srv: FakeServer) -> Server:
    return Server(srv)


def make_chat(srv: FakeServer, **kwargs: Any) -> Chat:
    kwargs.setdefault("credentials", lambda: "test-key-0123456789")
    return chat_openai_compatible(
        srv.base_url, model="m", echo="none", max_tries=1, timeout_s=10, **kwargs
    )


PROMPTS = [f"p{i}" for i in range(5)]
#: A rate that never waits (the default, 500 a minute, spaces requests 0.12 s apart).
FAST = 60_000
BAD = Reply.json({"error": {"message": "that prompt is not allowed"}}, status=400)


# -- results ---------------------------------------------------------------------------


def test_parallel_chat_forks_the_chat_and_keeps_prompt_order(
    srv: FakeServer, server: Server
) -> None:
    # Later prompts answer first: the results still come back in prompt order.
    server.hold = lambda prompt: 0.05 * (4 - int(prompt[1:]))
    chat = make_chat(srv, system_prompt="Be brief.")
    history = [UserTurn("earlier"), AssistantTurn("noted")]
    chat.set_turns(history)
    chats = parallel_chat(chat, PROMPTS)
    arrival = [p for p, _ in server.seen]
    assert sorted(arrival) == PROMPTS
    assert len(chats) == 5
    for prompt, result in zip(PROMPTS, chats, strict=True):
        assert isinstance(result, Chat) and result is not chat
        turns = result.get_turns()
        assert turns[:2] == history
        assert turns[2:] == [
            UserTurn(prompt),
            AssistantTurn(f"answer to {prompt}", tokens=turns[3].tokens, finish_reason="success"),
        ]
        assert result.get_system_prompt() == "Be brief."
        assert result.get_provider() is chat.get_provider()
    assert chat.get_turns() == history  # the original is untouched
    for request in srv.requests:
        roles = [m["role"] for m in request.json["messages"]]
        assert roles == ["system", "user", "assistant", "user"]
        assert "stream" not in request.json or request.json["stream"] is False


def test_parallel_chat_text(srv: FakeServer, server: Server) -> None:
    server.hold = lambda prompt: 0.03 * (4 - int(prompt[1:]))
    assert parallel_chat_text(make_chat(srv), PROMPTS) == [f"answer to {p}" for p in PROMPTS]


def test_prompts_may_have_several_parts(srv: FakeServer, server: Server) -> None:
    # Several parts make one user turn (its text parts go as parts, as R sends them).
    prompts = iter([["a", "b"], "c", UserTurn("d")])  # any iterable of prompts
    chats = parallel_chat(make_chat(srv), prompts)
    assert [c.get_turns()[0] for c in chats] == [  # type: ignore[union-attr]
        UserTurn(("a", "b")),
        UserTurn("c"),
        UserTurn("d"),
    ]
    assert sorted(prompt_of(r) for r in srv.requests) == ["ab", "c", "d"]


def test_no_prompts_no_requests(srv: FakeServer) -> None:
    assert parallel_chat(make_chat(srv), []) == []
    assert srv.requests == []


def test_parallel_chat_structured(srv: FakeServer, server: Server) -> None:
    server.special = {
        "Alex, 42": Reply.json(completion('{"name": "Alex", "age": 42}')),
        "Jamal, 27": Reply.json(completion('{"name": "Jamal", "age": 27}')),
    }
    person = type_object(name=type_string(), age=type_integer())
    result = parallel_chat_structured(make_chat(srv), ["Alex, 42", "Jamal, 27"], person)
    assert result == [{"name": "Alex", "age": 42}, {"name": "Jamal", "age": 27}]
    assert all("response_format" in r.json for r in srv.requests)


def test_an_answer_that_does_not_fit_warns_and_does_not_stop_the_run(
    srv: FakeServer, server: Server
) -> None:
    server.special = {
        "a": Reply.json(completion('{"name": "A"}')),
        "b": Reply.json(completion("not json at all")),
        "c": Reply.json(completion('{"name": "C"}')),
    }
    person = type_object(name=type_string())
    with pytest.warns(UserWarning, match=r"could not be extracted from 1 of 3 answers") as rec:
        result = parallel_chat_structured(make_chat(srv), ["a", "b", "c"], person, max_active=1)
    assert result == [{"name": "A"}, None, {"name": "C"}]
    assert "prompts[1]: StructuredOutputError" in str(rec[0].message)
    assert len(srv.requests) == 3


# -- concurrency and rate ------------------------------------------------------------------


def test_max_active_bounds_the_requests_in_flight(srv: FakeServer, server: Server) -> None:
    server.hold = lambda prompt: 0.15
    start = time.monotonic()
    prompts = [f"p{i}" for i in range(9)]
    texts = parallel_chat_text(make_chat(srv), prompts, max_active=3, rpm=FAST)
    elapsed = time.monotonic() - start
    assert texts == [f"answer to p{i}" for i in range(9)]
    assert server.peak == 3
    assert 0.45 <= elapsed < 1.2  # three rounds of three


def test_rpm_spaces_the_requests_after_a_full_bucket(srv: FakeServer, server: Server) -> None:
    # R: req_throttle(capacity = rpm, fill_time_s = 60). 240 a minute: the bucket
    # starts with 240 tokens, then gains one every 0.25 s, so request k (from 0)
    # past the first 240 cannot start before (k - 239) * 0.25 s.
    n = 243
    start = time.monotonic()
    texts = parallel_chat_text(make_chat(srv), [f"p{i}" for i in range(n)], max_active=8, rpm=240)
    assert texts == [f"answer to p{i}" for i in range(n)]
    offsets = sorted(t - start for _, t in server.seen)
    for k in range(240, n):
        assert offsets[k] >= (k - 239) * 0.25, offsets[235:]


def test_rate_limiter_is_a_token_bucket() -> None:
    now = [100.0]
    bucket = RateLimiter(60, capacity=2, clock=lambda: now[0])  # one token a second
    assert bucket.take() == 0.0
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(1.0)
    now[0] += 0.25
    assert bucket.take() == pytest.approx(0.75)
    now[0] += 0.75
    assert bucket.take() == 0.0
    now[0] += 1000  # refills up to capacity, no further
    assert [bucket.take() for _ in range(3)][:2] == [0.0, 0.0]
    assert RateLimiter(0.5).take() == 0.0  # capacity is at least one request
    with pytest.raises(ValueError, match="rpm"):
        RateLimiter(0)


def test_rate_limiter_wait_ends_when_stopped() -> None:
    bucket = RateLimiter(1, capacity=1)  # one a minute
    assert bucket.acquire()
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    start = time.monotonic()
    assert bucket.acquire(stop) is False
    assert time.monotonic() - start < 0.5


# -- failures -------------------------------------------------------------------------------


def test_one_failure_does_not_lose_the_others(srv: FakeServer, server: Server) -> None:
    server.special = {"p2": BAD}
    with pytest.warns(UserWarning, match=r"1 of 5 requests failed") as rec:
        results = parallel_chat(make_chat(srv), PROMPTS, max_active=5)
    assert isinstance(results[2], BadRequestError)
    assert "that prompt is not allowed" in str(results[2])
    assert [r.last_turn().text for i, r in enumerate(results) if i != 2] == [  # type: ignore[union-attr]
        f"answer to {p}" for p in PROMPTS if p != "p2"
    ]
    assert "prompts[2]: BadRequestError" in str(rec[0].message)


def test_on_error_return_sends_nothing_new_after_a_failure(srv: FakeServer, server: Server) -> None:
    server.special = {"p1": BAD}
    expected = r"1 of 4 requests failed; 2 did not complete \(on_error='return'"
    with pytest.warns(UserWarning, match=expected):
        results = parallel_chat(make_chat(srv), PROMPTS[:4], max_active=1)
    assert isinstance(results[0], Chat)
    assert isinstance(results[1], BadRequestError)
    assert results[2:] == [None, None]
    assert [prompt_of(r) for r in srv.requests] == ["p0", "p1"]


def test_on_error_continue_sends_everything(srv: FakeServer, server: Server) -> None:
    server.special = {"p1": BAD}
    with pytest.warns(UserWarning, match=r"1 of 4 requests failed\."):
        texts = parallel_chat_text(
            make_chat(srv), PROMPTS[:4], max_active=1, rpm=FAST, on_error="continue"
        )
    assert texts == ["answer to p0", None, "answer to p2", "answer to p3"]
    assert len(srv.requests) == 4


def test_on_error_stop_raises_with_the_results_so_far(srv: FakeServer, server: Server) -> None:
    server.special = {"p1": BAD}
    with pytest.raises(ParallelChatError, match=r"prompts\[1\] failed") as info:
        parallel_chat(make_chat(srv), PROMPTS[:4], max_active=1, on_error="stop")
    error = info.value
    assert isinstance(error.results[0], Chat)
    assert error.results[1] is error.errors[1]
    assert isinstance(error.__cause__, BadRequestError) and error.__cause__ is error.errors[1]
    assert error.results[2:] == [None, None]
    assert len(srv.requests) == 2


def test_on_error_stop_ends_the_requests_in_flight(srv: FakeServer, server: Server) -> None:
    server.special = {"p0": BAD, "p1": Reply.hang(5.0), "p2": Reply.hang(5.0)}
    server.hold = lambda prompt: 0.1 if prompt == "p0" else 0.0
    start = time.monotonic()
    with pytest.raises(ParallelChatError) as info:
        parallel_chat_text(make_chat(srv), PROMPTS[:3], max_active=3, on_error="stop")
    assert time.monotonic() - start < 1.0
    assert info.value.results == [None, None, None]
    assert list(info.value.errors) == [0]


def test_ctrl_c_ends_the_requests_in_flight(
    srv: FakeServer, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    class InterruptingTTY(io.StringIO):
        writes = 0

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> int:
            self.writes += 1
            if self.writes == 2:  # the first redraw after the start
                raise KeyboardInterrupt
            return super().write(text)

    monkeypatch.setattr("sys.stderr", InterruptingTTY())
    server.special = {p: Reply.hang(5.0) for p in PROMPTS}
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        parallel_chat(make_chat(srv), PROMPTS, max_active=2)
    assert time.monotonic() - start < 1.5
    assert len(srv.requests) == 2  # nothing new was started
    assert not any(t.name.startswith("ellmer-py-parallel") for t in threading.enumerate())


# -- progress -----------------------------------------------------------------------------


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_progress_bar_when_stderr_is_not_a_terminal(
    srv: FakeServer, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    parallel_chat_text(make_chat(srv), PROMPTS[:3])
    assert stream.getvalue() == ""


def test_progress_bar_on_a_terminal(
    srv: FakeServer, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = FakeTTY()
    monkeypatch.setattr("sys.stderr", stream)
    server.special = {"p1": BAD}
    with pytest.warns(UserWarning):
        parallel_chat_text(make_chat(srv), PROMPTS[:3], max_active=1, on_error="continue")
    out = stream.getvalue()
    assert out.startswith("\rparallel_chat_text [" + " " * 30 + "] 0/3 | 0.0s")
    assert "] 3/3, 1 failed | " in out
    assert "[" + "=" * 30 + "]" in out
    assert out.endswith("\r") and out.rsplit("\r", 2)[-2].strip() == ""  # cleared at the end


def test_progress_can_be_switched(
    srv: FakeServer, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    tty = FakeTTY()
    monkeypatch.setattr("sys.stderr", tty)
    parallel_chat_text(make_chat(srv), PROMPTS[:2], progress=False)
    assert tty.getvalue() == ""
    plain = io.StringIO()
    monkeypatch.setattr("sys.stderr", plain)
    parallel_chat_text(make_chat(srv), PROMPTS[:2], progress=True)
    assert "2/2" in plain.getvalue()


# -- forks, tools, arguments -----------------------------------------------------------------


def add(x: int, y: int) -> int:
    """Add two numbers."""
    return x + y


def test_fork_shares_nothing_mutable(srv: FakeServer) -> None:
    chat = make_chat(srv, system_prompt="sys")
    chat.register_tool(add)
    chat.set_turns([UserTurn("a"), AssistantTurn("b")])
    fork = chat.copy()
    assert fork_chat(chat).get_turns() == chat.get_turns()
    fork.set_system_prompt("other")
    fork.set_turns([])
    fork.set_tools([])
    assert chat.get_system_prompt() == "sys"
    assert chat.get_turns() == [UserTurn("a"), AssistantTurn("b")]
    assert [t.name for t in chat.get_tools()] == ["add"]
    assert fork.get_provider() is chat.get_provider()


def test_each_conversation_runs_its_tools(srv: FakeServer) -> None:
    def reply(request: RecordedRequest) -> Reply:
        last = request.json["messages"][-1]
        if last["role"] == "tool":
            return Reply.json(completion(f"sum is {last['content']}"))
        x = int(last["content"])
        call = {
            "id": f"call_{x}",
            "type": "function",
            "function": {"name": "add", "arguments": f'{{"x": {x}, "y": 1}}'},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
        return Reply.json({"choices": [choice]})

    srv.default = reply
    chat = make_chat(srv)
    chat.register_tool(add)
    chats = parallel_chat(chat, ["1", "2", "3"])
    assert [c.last_turn().text for c in chats] == ["sum is 2", "sum is 3", "sum is 4"]  # type: ignore[union-attr]
    turns = chats[1].get_turns()  # type: ignore[union-attr]
    assert isinstance(turns[1].contents[0], ContentToolRequest)
    assert isinstance(turns[2].contents[0], ContentToolResult)
    assert len(srv.requests) == 6
    assert chat.get_turns() == []


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"prompts": "p0"}, "prompts must be a list"),
        ({"prompts": [1]}, r"prompts\[0\] must be a string"),
        ({"prompts": {"a": 1}}, "prompts must be a list"),
        ({"prompts": [AssistantTurn("x")]}, r"prompts\[0\] must be a string"),
        ({"prompts": [[]]}, r"prompts\[0\] must be a string"),
        ({"max_active": 0}, "max_active must be"),
        ({"max_active": 2.5}, "max_active must be"),
        ({"rpm": 0}, "rpm must be"),
        ({"rpm": float("inf")}, "rpm must be"),
        ({"on_error": "ignore"}, "on_error must be"),
    ],
)
def test_bad_arguments(srv: FakeServer, kwargs: dict[str, Any], fragment: str) -> None:
    kwargs.setdefault("prompts", ["p0"])
    with pytest.raises(ConfigurationError, match=fragment):
        parallel_chat(make_chat(srv), **kwargs)
    assert srv.requests == []


def test_chat_must_be_a_chat() -> None:
    with pytest.raises(ConfigurationError, match="needs a Chat"):
        parallel_chat(42, ["p0"])  # type: ignore[arg-type]


# -- request scopes ----------------------------------------------------------------------------


def test_a_refused_scope_sends_nothing(srv: FakeServer) -> None:
    chat = make_chat(srv)
    scope = RequestScope()
    scope.refuse()
    with scope.active(), pytest.raises(RequestCancelled, match="cancelled before it was sent"):
        chat.chat("Hi")
    assert srv.requests == []
    assert chat.get_turns() == []


def test_cancel_from_another_thread_ends_a_blocked_request(srv: FakeServer) -> None:
    from ellmer_py import TransportError

    srv.enqueue(Reply.hang(5.0))
    chat = make_chat(srv)
    scope = RequestScope()
    threading.Timer(0.1, scope.cancel).start()
    start = time.monotonic()
    with scope.active(), pytest.raises(TransportError):
        chat.chat("Hi")
    assert time.monotonic() - start < 0.5


def test_cancel_never_touches_a_connection_back_in_the_pool(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json(completion("one")),
        Reply.json(
            completion(
                "two",
            )
        ),
    )
    chat = make_chat(srv)
    scope = RequestScope()
    with scope.active():
        assert chat.chat("Hi") == "one"
    scope.cancel()  # the connection is back in the pool: someone else may use it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert chat.chat("Again") == "two"
    first, second = srv.requests
    assert second.connection == first.connection  # reused, not cut
