"""parallel_chat*(..., executor=): chunks of prompts on a thread pool or spawned processes.

Against a loopback server that answers each prompt by its text: the same
results, warnings and errors as a local run (with each prompt's index in the
whole list), R's on_error modes at chunk granularity, chunk_size and
executor checks, and the per-worker limits proved by a server that holds
requests until as many are in flight as the limits allow (no timing). Also:
every EllmerError pickles whole, since errors come back from workers.
"""

from __future__ import annotations

import concurrent.futures
import io
import multiprocessing
import os
import pickle
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from test_parallel import BAD, completion, prompt_of

from ellmer_py import (
    BadRequestError,
    Chat,
    ConfigurationError,
    ParallelChatError,
    parallel_chat,
    parallel_chat_structured,
    parallel_chat_text,
    tool,
    type_object,
    type_string,
)
from ellmer_py import _parallel_executor as pe
from ellmer_py import _parallel_outcomes as outcomes
from ellmer_py._pickling import UnpicklableError
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply
from ellmer_py.providers.openai_compatible import chat_openai_compatible

KEY = "sk-executor-test-0123456789"
FAST = 60_000  # requests a minute: never waits
PROMPTS = [f"p{i}" for i in range(40)]


@pytest.fixture(scope="module", autouse=True)
def key_in_env() -> Iterator[None]:
    """The key the chats read, set before any worker process is spawned (they inherit it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAI_API_KEY", KEY)
        for name in ("ELLMER_ECHO", "ELLMER_MAX_TRIES", "ELLMER_TIMEOUT_S"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def processes(key_in_env: None) -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    """Two spawned worker processes (fresh interpreters: nothing inherited but the env)."""
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn) as pool:
        yield pool


@pytest.fixture
def threads() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        yield pool


class Answers:
    """Answers "p3" with "answer to p3", ``special`` replies by prompt; counts what it saw."""

    def __init__(self) -> None:
        self.special: dict[str, Callable[[], Reply]] = {}
        self.lock = threading.Lock()
        self.seen: list[str] = []

    def __call__(self, request: RecordedRequest) -> Reply:
        prompt = prompt_of(request)
        with self.lock:
            self.seen.append(prompt)
        if prompt in self.special:
            return self.special[prompt]()
        if prompt.startswith("{"):  # structured: echo the JSON back
            return Reply.json(completion(prompt))
        return Reply.json(completion(f"answer to {prompt}"))


@pytest.fixture
def answers() -> Iterator[Answers]:
    answers = Answers()
    with FakeServer(default=answers) as srv:
        answers.srv = srv  # type: ignore[attr-defined]
        yield answers
    assert not srv.errors, srv.errors


def make_chat(answers: Answers, **kwargs: Any) -> Chat:
    """A chat that reads its key from OPENAI_API_KEY, so it pickles to worker processes."""
    srv: FakeServer = answers.srv  # type: ignore[attr-defined]
    return chat_openai_compatible(
        srv.base_url, model="m", echo="none", max_tries=1, timeout_s=30, **kwargs
    )


def run_and_warn(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(*args, **kwargs)
    return result, [str(w.message) for w in caught]


def describe(results: list[Any]) -> list[Any]:
    """Results comparable across processes: a chat by its turns, an error by its text."""
    out: list[Any] = []
    for r in results:
        if isinstance(r, Chat):
            out.append([(type(t).__name__, t.text) for t in r.get_turns()])
        elif isinstance(r, Exception):
            out.append((type(r).__name__, str(r), getattr(r, "status", None)))
        else:
            out.append(r)
    return out


# -- the same results as a local run ---------------------------------------------------


@pytest.mark.parametrize("where", ["threads", "processes"])
@pytest.mark.parametrize("chunk_size", [None, 1, 7, 100])
def test_text_is_that_of_a_local_run(
    answers: Answers, where: str, chunk_size: int | None, request: pytest.FixtureRequest
) -> None:
    executor = request.getfixturevalue(where)
    chat = make_chat(answers)
    local = parallel_chat_text(chat, PROMPTS, rpm=FAST)
    assert local == [f"answer to {p}" for p in PROMPTS]
    answers.seen.clear()
    remote = parallel_chat_text(chat, PROMPTS, rpm=FAST, executor=executor, chunk_size=chunk_size)
    assert remote == local
    assert sorted(answers.seen) == sorted(PROMPTS)  # each prompt sent once


@pytest.mark.parametrize("where", ["threads", "processes"])
def test_chats_come_back_with_their_turns(
    answers: Answers, where: str, request: pytest.FixtureRequest
) -> None:
    executor = request.getfixturevalue(where)
    chat = make_chat(answers, system_prompt="Be brief.")
    prompts = ["a", ["b", "c"], "d"]  # a prompt of several parts stays one prompt
    local = parallel_chat(chat, prompts)
    remote = parallel_chat(chat, prompts, executor=executor, chunk_size=2)
    assert describe(remote) == describe(local)
    assert describe(remote)[1] == [("UserTurn", "bc"), ("AssistantTurn", "answer to bc")]
    assert all(r.get_system_prompt() == "Be brief." for r in remote)  # type: ignore[union-attr]
    assert chat.get_turns() == []
    same_provider = [r.get_provider() is chat.get_provider() for r in remote]  # type: ignore[union-attr]
    assert same_provider == [where == "threads"] * 3  # a process sends back its own copy


@pytest.mark.parametrize("where", ["threads", "processes"])
def test_structured_rows_are_those_of_a_local_run(
    answers: Answers, where: str, request: pytest.FixtureRequest
) -> None:
    executor = request.getfixturevalue(where)
    answers.special["bad"] = lambda: Reply.json(completion("not json"))
    prompts = ['{"name": "A"}', "bad", '{"name": "C"}']
    person = type_object(name=type_string())
    args = (make_chat(answers), prompts, person)
    local, local_warnings = run_and_warn(parallel_chat_structured, *args, include_tokens=True)
    remote, remote_warnings = run_and_warn(
        parallel_chat_structured, *args, include_tokens=True, executor=executor, chunk_size=1
    )
    assert remote == local
    assert [row["data"] for row in remote] == [{"name": "A"}, None, {"name": "C"}]
    assert remote[1]["output_tokens"] == 2  # the unfitting answer's tokens came back too
    assert remote_warnings == local_warnings
    assert "prompts[1]: StructuredOutputError" in remote_warnings[0]


def test_results_are_in_prompt_order_whatever_chunk_finishes_first(answers: Answers) -> None:
    # p0 is answered only once p1 has arrived, p1 once p2 has: the last chunk ends first.
    arrived = {p: threading.Event() for p in ("p0", "p1", "p2")}

    def after(prompt: str, other: str) -> Callable[[], Reply]:
        def reply() -> Reply:
            arrived[prompt].set()
            assert arrived[other].wait(30), f"{other} never arrived"
            return Reply.json(completion(f"answer to {prompt}"))

        return reply

    answers.special = {"p0": after("p0", "p1"), "p1": after("p1", "p2")}
    answers.special["p2"] = lambda: arrived["p2"].set() or Reply.json(completion("answer to p2"))
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        texts = parallel_chat_text(make_chat(answers), ["p0", "p1", "p2"], executor=pool)
    assert texts == ["answer to p0", "answer to p1", "answer to p2"]


# -- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["threads", "processes"])
def test_failures_are_reported_per_prompt_as_locally(
    answers: Answers, where: str, request: pytest.FixtureRequest
) -> None:
    executor = request.getfixturevalue(where)
    answers.special = {"p3": lambda: BAD, "p22": lambda: BAD}
    chat = make_chat(answers)
    kwargs: dict[str, Any] = {"rpm": FAST, "on_error": "continue"}
    local, local_warnings = run_and_warn(parallel_chat, chat, PROMPTS, **kwargs)
    remote, remote_warnings = run_and_warn(
        parallel_chat, chat, PROMPTS, executor=executor, chunk_size=5, **kwargs
    )
    assert describe(remote) == describe(local)
    assert isinstance(remote[3], BadRequestError) and isinstance(remote[22], BadRequestError)
    assert remote[3].server_message == "that prompt is not allowed"
    assert remote[3].status == 400 and remote[3].provider == local[3].provider  # type: ignore[union-attr]
    assert remote_warnings == local_warnings
    assert remote_warnings[0].startswith("parallel_chat(): 2 of 40 requests failed.")
    assert "prompts[3]: BadRequestError" in remote_warnings[0]
    assert "prompts[22]: BadRequestError" in remote_warnings[0]


def test_on_error_return_hands_out_no_new_chunk(answers: Answers) -> None:
    answers.special = {"p3": lambda: BAD}
    expected = r"1 of 8 requests failed; 4 did not complete \(on_error='return'"
    with (
        concurrent.futures.ThreadPoolExecutor(1) as one,
        pytest.warns(UserWarning, match=expected),
    ):
        results = parallel_chat(make_chat(answers), PROMPTS[:8], executor=one, chunk_size=2)
    assert [r.last_turn().text for r in results[:3]] == [
        "answer to p0",
        "answer to p1",
        "answer to p2",
    ]  # type: ignore[union-attr]
    assert isinstance(results[3], BadRequestError)
    assert results[4:] == [None] * 4
    assert sorted(answers.seen) == ["p0", "p1", "p2", "p3"]


def test_on_error_return_in_worker_processes(answers: Answers, processes: Any) -> None:
    # Both chunks start at once; in the first, p1 fails and the worker sends nothing after it.
    answers.special = {"p1": lambda: BAD}
    expected = r"1 of 8 requests failed; 2 did not complete \(on_error='return'"
    with pytest.warns(UserWarning, match=expected):
        texts = parallel_chat_text(
            make_chat(answers), PROMPTS[:8], max_active=1, executor=processes, chunk_size=4
        )
    assert texts == ["answer to p0", None, None, None] + [f"answer to p{i}" for i in range(4, 8)]
    assert sorted(answers.seen) == ["p0", "p1", "p4", "p5", "p6", "p7"]


def test_the_default_chunks_are_about_four_per_worker(answers: Answers) -> None:
    # One worker, 8 prompts: chunks of 2. p0 fails: its chunk ran, nothing after it.
    answers.special = {"p0": lambda: BAD}
    with concurrent.futures.ThreadPoolExecutor(1) as one, pytest.warns(UserWarning):
        texts = parallel_chat_text(make_chat(answers), PROMPTS[:8], executor=one)
    assert texts == [None, "answer to p1"] + [None] * 6
    assert sorted(answers.seen) == ["p0", "p1"]


def test_on_error_stop_raises_with_the_results_so_far(answers: Answers) -> None:
    # One request at a time, so p2 is answered before p3 fails (and ends what is in flight).
    answers.special = {"p3": lambda: BAD}
    chat = make_chat(answers)
    with (
        concurrent.futures.ThreadPoolExecutor(1) as one,
        pytest.raises(ParallelChatError, match=r"prompts\[3\] failed") as info,
    ):
        parallel_chat(chat, PROMPTS[:8], 1, on_error="stop", executor=one, chunk_size=2)
    error = info.value
    kinds = [type(r).__name__ for r in error.results]
    assert kinds == ["Chat"] * 3 + ["BadRequestError"] + ["NoneType"] * 4
    assert list(error.errors) == [3] and error.__cause__ is error.errors[3] is error.results[3]
    assert sorted(answers.seen) == ["p0", "p1", "p2", "p3"]


def test_on_error_stop_does_not_wait_for_the_chunks_still_running(answers: Answers) -> None:
    release = threading.Event()
    answered: list[str] = []

    def held() -> Reply:
        assert release.wait(30), "never released"
        answered.append("held")
        return Reply.json(completion("late"))

    answers.special = {"bad": lambda: BAD, "held": held}
    with concurrent.futures.ThreadPoolExecutor(2) as two:
        try:
            with pytest.raises(ParallelChatError) as info:
                parallel_chat_text(
                    make_chat(answers), ["held", "bad"], on_error="stop", executor=two, chunk_size=1
                )
            assert answered == []  # raised while "held" was still held
        finally:
            release.set()
    assert info.value.results == [None, None]
    assert list(info.value.errors) == [1]


def die(code: int) -> int:
    """Ends the worker process at once."""
    os._exit(code)


def test_a_chunk_whose_worker_died_fails_each_of_its_prompts(
    answers: Answers, key_in_env: None
) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "die", "arguments": '{"code": 3}'}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    answers.special = {"crash": lambda: Reply.json({"choices": [{"index": 0, "message": message}]})}
    chat = make_chat(answers)
    chat.register_tool(tool(die))
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as doomed:
        texts, caught = run_and_warn(
            parallel_chat_text,
            chat,
            ["p0", "crash", "p2"],
            on_error="continue",
            executor=doomed,
            chunk_size=1,
        )
    assert texts == ["answer to p0", None, None]
    assert caught[0].startswith("parallel_chat_text(): 2 of 3 requests failed.")
    assert "prompts[1]: BrokenProcessPool" in caught[0]
    assert "prompts[2]: BrokenProcessPool" in caught[0]
    assert "p2" not in answers.seen


def test_progress_moves_as_chunks_finish(
    answers: Answers, monkeypatch: pytest.MonkeyPatch, threads: Any
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    answers.special = {"p1": lambda: BAD}
    with pytest.warns(UserWarning):
        parallel_chat_text(
            make_chat(answers),
            PROMPTS[:6],
            on_error="continue",
            progress=True,
            executor=threads,
            chunk_size=2,
        )
    out = stream.getvalue()
    assert out.startswith("\rparallel_chat_text [" + " " * 30 + "] 0/6 | ")
    assert "] 6/6, 1 failed | " in out
    assert out.endswith("\r")  # cleared at the end


# -- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [0, -1, 2.5, True, "3"])
def test_chunk_size_must_be_a_whole_number(answers: Answers, chunk_size: Any, threads: Any) -> None:
    with pytest.raises(ConfigurationError, match="chunk_size must be a whole number of prompts"):
        parallel_chat_text(make_chat(answers), ["p0"], executor=threads, chunk_size=chunk_size)
    assert answers.seen == []


def test_chunk_size_needs_an_executor(answers: Answers) -> None:
    with pytest.raises(ConfigurationError, match="pass an executor too"):
        parallel_chat(make_chat(answers), ["p0"], chunk_size=2)
    assert answers.seen == []


@pytest.mark.parametrize("executor", [object(), "dask", 4, concurrent.futures.Future()])
def test_executor_must_be_an_executor(answers: Answers, executor: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"executor must be a concurrent\.futures\.Exec"):
        parallel_chat_structured(make_chat(answers), ["p0"], type_string(), executor=executor)
    assert answers.seen == []


def test_a_shut_down_executor_is_refused(answers: Answers) -> None:
    pool = concurrent.futures.ThreadPoolExecutor(2)
    pool.shutdown()
    with pytest.raises(ConfigurationError, match="executor= cannot take work"):
        parallel_chat_text(make_chat(answers), ["p0"], executor=pool)
    assert answers.seen == []


def test_a_chat_that_cannot_go_to_a_process_says_why_before_any_request(
    answers: Answers, processes: Any
) -> None:
    chat = make_chat(answers, credentials=lambda: KEY)
    with pytest.raises(UnpicklableError, match=r"credentials=\.\.\.\) is a lambda"):
        parallel_chat_text(chat, ["p0"], executor=processes)
    assert answers.seen == []
    with concurrent.futures.ThreadPoolExecutor(1) as one:  # threads share the chat: fine
        assert parallel_chat_text(chat, ["p0"], executor=one) == ["answer to p0"]


def test_no_prompts_no_work(answers: Answers, threads: Any) -> None:
    assert parallel_chat(make_chat(answers), [], executor=threads) == []
    assert answers.seen == []


# -- the limits hold per worker ----------------------------------------------------------------


class Gate:
    """Holds the requests until ``target`` of them wait (or all have arrived), then lets them go.

    So the requests in flight reach the target if the client allows that many,
    whatever the timing. A wave that is full waits ``window`` seconds more for
    a request beyond the target (``over``: the client allowed more); a correct
    client never sends one, so that wait cannot make a correct run fail. A
    request held ``timeout`` seconds (the client allowed fewer) is let go and
    remembered in ``stuck``.
    """

    def __init__(self, target: int, total: int, window: float = 0.3, timeout: float = 30) -> None:
        self.target, self.total, self.window, self.timeout = target, total, window, timeout
        self.cond = threading.Condition()
        self.active = self.peak = self.arrived = self.held = self.wave = 0
        self.over = self.stuck = False

    def __call__(self, request: RecordedRequest) -> Reply:
        prompt = prompt_of(request)
        with self.cond:
            self.arrived += 1
            self.active += 1
            self.held += 1
            self.peak = max(self.peak, self.active)
            self.over = self.over or self.held > self.target
            mine = self.wave
            if self.held >= self.target or self.arrived >= self.total:
                if self.held == self.target and self.arrived < self.total:
                    self.cond.wait_for(
                        lambda: self.wave > mine or self.held > self.target, timeout=self.window
                    )
                if self.wave == mine:  # let this wave go
                    self.wave += 1
                    self.held = 0
                    self.cond.notify_all()
            elif not self.cond.wait_for(lambda: self.wave > mine, timeout=self.timeout):
                self.stuck = True
                self.held -= 1
            self.active -= 1  # before the client can see the answer and send another
        return Reply.json(completion(f"answer to {prompt}"))


@pytest.mark.parametrize("where", ["threads", "processes"])
def test_max_active_holds_per_worker(
    where: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two workers, max_active=3, chunks of 6: six requests in flight, never more.
    import ellmer_py._scope

    buckets: list[Any] = []

    class Bucket(ellmer_py._scope.RateLimiter):
        taken = 0

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            buckets.append(self)

        def acquire(self, stop: Any = None) -> bool:
            self.taken += 1
            return super().acquire(stop)

    monkeypatch.setattr(ellmer_py._scope, "RateLimiter", Bucket)  # seen in this process
    n = 24
    gate = Gate(target=6, total=n)
    executor = (
        concurrent.futures.ThreadPoolExecutor(2)
        if where == "threads"
        else request.getfixturevalue("processes")
    )
    with FakeServer(default=gate) as srv:
        chat = chat_openai_compatible(srv.base_url, model="m", echo="none", max_tries=1)
        prompts = [f"p{i}" for i in range(n)]
        texts = parallel_chat_text(
            chat, prompts, max_active=3, rpm=FAST, executor=executor, chunk_size=6
        )
    if where == "threads":
        executor.shutdown()
    assert texts == [f"answer to {p}" for p in prompts]
    assert not gate.stuck, "fewer than 6 requests were ever in flight at once"
    assert not gate.over, "more than 6 requests were in flight at once"
    assert gate.peak == 6
    if where == "threads":  # one rpm bucket per worker, kept across its two chunks
        assert len(buckets) == 2
        assert sorted(b.taken for b in buckets) == [12, 12]
        assert {b.capacity for b in buckets} == {FAST}


def test_a_worker_keeps_its_chat_and_bucket_for_the_run(answers: Answers) -> None:
    chat, other = make_chat(answers), make_chat(answers)
    mine = pe._worker_state("run-a", chat, 60)
    assert pe._worker_state("run-a", other, 60) == mine  # a later chunk of the same run
    assert mine[0] is chat and mine[1].capacity == 60
    theirs: list[Any] = []
    thread = threading.Thread(target=lambda: theirs.append(pe._worker_state("run-a", other, 60)))
    thread.start()
    thread.join()
    assert theirs[0][0] is other and theirs[0][1] is not mine[1]  # another worker
    assert pe._worker_state("run-b", other, 60)[1] is not mine[1]  # another run
    for i in range(pe._KEPT_RUNS):
        pe._worker_state(f"later-{i}", chat, 60)
    assert "run-a" not in pe._STATE and "run-b" not in pe._STATE  # old runs forgotten
    pe._STATE.clear()


# -- what comes back from a worker pickles ------------------------------------------------------


def error_cases() -> list[Exception]:
    from ellmer_py import _errors
    from ellmer_py._scope import RequestCancelled
    from ellmer_py._structured import StructuredOutputError
    from ellmer_py._tools import ToolReject

    where = {"provider": "openai", "status": 400, "server_message": "no", "request_id": "r1"}
    plain = [
        cls("it failed", **where)
        for cls in vars(_errors).values()
        if isinstance(cls, type)
        and issubclass(cls, _errors.EllmerError)
        and cls not in (_errors.ModelLimitationError, _errors.RateLimitError)
    ]
    return [
        *plain,
        _errors.ModelLimitationError("no system prompt", model="m", feature="system", **where),
        _errors.RateLimitError("slow down", retry_after=2.5, **where),
        StructuredOutputError("no fit", data={"a": 1}, problems=["a: bad"], finish_reason="stop"),
        ToolReject("not now"),
        RequestCancelled("cancelled"),
        UnpicklableError("cannot pickle"),
        ParallelChatError("stopped", results=[1, None], errors={1: BadRequestError("bad")}),
    ]


@pytest.mark.parametrize("error", error_cases(), ids=lambda e: type(e).__name__)
def test_every_error_pickles_with_its_attributes(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert copy.args == error.args and str(copy) == str(error)
    if isinstance(error, ParallelChatError):
        assert copy.results == error.results and str(copy.errors[1]) == "bad"
    else:
        assert vars(copy) == vars(error)


def test_an_error_that_cannot_pickle_comes_back_as_text() -> None:
    class Odd(Exception):
        pass

    error = Odd("it broke")
    error.lock = threading.Lock()  # type: ignore[attr-defined]
    sent = pe._sendable(outcomes.Failed(error))
    back = pickle.loads(pickle.dumps(sent))
    assert str(back.error).startswith("Odd: it broke (this error could not be sent back")
    assert pickle.loads(pickle.dumps(outcomes.SKIPPED)) is outcomes.SKIPPED
