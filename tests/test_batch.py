"""batch_chat() and friends against the loopback fakes of the batch APIs, in process.

The conformance check ``batch`` covers the whole job for every provider;
this covers the rest: structured output on each API (the schema reaches the
batch lines), the batch price, bad arguments, expiry and batch failure,
the progress line, and a results URL on another host.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ellmer_py._batch_job as batch_job
from ellmer_py import (
    BadRequestError,
    BatchError,
    BatchItemError,
    Chat,
    ConfigurationError,
    RequestTimeoutError,
    batch_chat,
    batch_chat_completed,
    batch_chat_structured,
    batch_chat_text,
    chat_anthropic,
    chat_google_gemini,
    chat_groq,
    chat_huggingface,
    chat_openai,
    type_integer,
    type_object,
    type_string,
)
from ellmer_py.conformance._batch_fake import BatchFake, ItemError, echo_answer
from ellmer_py.conformance._protocol import Answer, Usage, protocol_fake
from ellmer_py.conformance.batch_anthropic import AnthropicBatchFake
from ellmer_py.conformance.batch_gemini import GeminiBatchFake
from ellmer_py.conformance.batch_openai import OpenAIBatchFake
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply

KEY = "batch-test-key-0123456789"

#: name -> (constructor, fake, protocol, path below the server's root)
APIS: dict[str, tuple[Callable[..., Chat], type[BatchFake], str, str]] = {
    "openai": (chat_openai, OpenAIBatchFake, "openai-responses", "v1"),
    "groq": (chat_groq, OpenAIBatchFake, "openai-chat", "openai/v1"),
    "anthropic": (chat_anthropic, AnthropicBatchFake, "anthropic-messages", "v1"),
    "gemini": (chat_google_gemini, GeminiBatchFake, "gemini", "v1beta/"),
}


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_job, "FIRST_WAIT_S", 0.01)


@pytest.fixture(params=sorted(APIS))
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_chat(api: str, srv: FakeServer, **kwargs: Any) -> Chat:
    function, _, _, below = APIS[api]
    root = srv.base_url.rstrip("/").removesuffix("/v1")
    return function(base_url=f"{root}/{below}", credentials=lambda: KEY, **kwargs)


def serve(api: str, **options: Any) -> Iterator[tuple[BatchFake, FakeServer]]:
    fake = APIS[api][1](key=KEY, **options)
    with FakeServer(default=fake) as srv:
        yield fake, srv
    assert not srv.errors, srv.errors


def test_structured_output_on_every_api(api: str, tmp_path: Path) -> None:
    protocol = APIS[api][2]
    fake_protocol = protocol_fake(protocol)
    schemas: list[Any] = []

    def respond(key: str, body: Any) -> Any:
        schemas.append(fake_protocol.structured_schema(_unbatched(api, body)))
        name = fake_protocol.user_text(_unbatched(api, body)).split()[-1]
        data = {"name": name, "age": len(name)}
        wrapped = fake_protocol.needs_wrapper(schemas[-1]) if schemas[-1] else False
        return Answer(
            text_pieces=(json.dumps({"wrapper": data} if wrapped else data),), usage=Usage(8, 4)
        )

    person = type_object(name=type_string(), age=type_integer())
    for fake, srv in serve(api, polls=0, respond=respond):
        chat = make_chat(api, srv)
        rows = batch_chat_structured(
            chat,
            ["I am Ann", "I am Robert"],
            tmp_path / "p.json",
            person,
            include_tokens=True,
            include_cost=True,
        )
        assert fake.created == 1
    assert rows is not None
    assert [r["data"] for r in rows] == [{"name": "Ann", "age": 3}, {"name": "Robert", "age": 6}]
    assert [r["output_tokens"] for r in rows] == [4, 4]
    assert all(s is not None and "name" in json.dumps(s) for s in schemas), schemas


def _unbatched(api: str, body: Any) -> Any:
    """A batch line's request as the protocol fake reads a request body (Gemini: camelCase)."""
    if api != "gemini":
        return body

    def camel(value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                head, *rest = k.split("_")
                name = head + "".join(p.title() for p in rest)
                if name == "responseJsonSchema":
                    name = "responseSchema"
                out[name] = v if name in ("responseSchema", "args", "response") else camel(v)
            return out
        if isinstance(value, list):
            return [camel(v) for v in value]
        return value

    return camel(body)


def test_answers_cost_half_the_list_price(tmp_path: Path) -> None:
    for _, srv in serve("openai", polls=0):
        chat = make_chat("openai", srv, model="gpt-4.1")
        chats = batch_chat(chat, ["Hi"], tmp_path / "cost.json")
        assert chats is not None and isinstance(chats[0], Chat)
        # 10 input and 5 output tokens at gpt-4.1's $2 / $8 per million, halved
        assert chats[0].get_cost() == pytest.approx((10 * 2 + 5 * 8) / 1e6 / 2)


def test_a_provider_without_a_batch_api_is_refused_by_name(tmp_path: Path) -> None:
    chat = chat_huggingface(credentials=lambda: KEY)
    with pytest.raises(ConfigurationError) as info:
        batch_chat(chat, ["Hi"], tmp_path / "x.json")
    message = str(info.value)
    for name in ("chat_openai()", "chat_anthropic()", "chat_google_gemini()", "chat_groq()"):
        assert name in message
    assert "parallel_chat()" in message
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    ("arguments", "needle"),
    [
        ({"path": ""}, "path must be the path of a .json file"),
        ({"path": 3}, "path must be the path of a .json file"),
        ({"wait": "yes"}, "wait must be True or False"),
        ({"ignore_hash": 1}, "ignore_hash must be True or False"),
        ({"prompts": "one prompt"}, "prompts must be a list"),
        ({"prompts": []}, "prompts is empty"),
        ({"prompts": [3]}, "prompts[0] must be a string"),
    ],
)
def test_bad_arguments_are_clear(tmp_path: Path, arguments: dict[str, Any], needle: str) -> None:
    for fake, srv in serve("anthropic"):
        given = {
            "chat": make_chat("anthropic", srv),
            "prompts": ["Hi"],
            "path": tmp_path / "a.json",
        }
        given.update(arguments)
        with pytest.raises(ConfigurationError) as info:
            batch_chat_text(**given)
        assert needle in str(info.value)
        assert fake.created == 0


def test_ignore_hash_warns_and_uses_the_stored_job(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    for _, srv in serve("openai", polls=0):
        assert batch_chat_text(make_chat("openai", srv), ["a", "b"], path) == ["echo: a", "echo: b"]
        other = make_chat("openai", srv, system_prompt="Different.")
        with pytest.raises(ConfigurationError, match="the turns doesn't match"):
            batch_chat_text(other, ["a", "b"], path)
        with pytest.warns(UserWarning, match="the turns doesn't match"):
            assert batch_chat_text(other, ["a", "b"], path, ignore_hash=True) == [
                "echo: a",
                "echo: b",
            ]
        with (
            pytest.warns(UserWarning, match="the prompts and turns don't match"),
            pytest.raises(ConfigurationError, match="holds a job of 2 prompts, not 1"),
        ):
            batch_chat_text(other, ["a"], path, ignore_hash=True)


def test_an_expired_batch_keeps_what_was_answered(api: str, tmp_path: Path) -> None:
    for _, srv in serve(api, polls=0, expire=True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            texts = batch_chat_text(make_chat(api, srv), ["a", "b", "c", "d"], tmp_path / "e.json")
    assert texts == ["echo: a", "echo: b", None, None]
    (warning,) = [str(w.message) for w in caught]
    assert "2 of 4 requests failed" in warning and "prompts[2]" in warning


@pytest.mark.parametrize("api", ["openai", "groq", "gemini"])  # Anthropic's: the next test
def test_a_failed_batch_fails_every_item_with_its_reason(api: str, tmp_path: Path) -> None:
    for _, srv in serve(api, polls=0, fail="the input file is invalid"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chats = batch_chat(make_chat(api, srv), ["a", "b"], tmp_path / "f.json")
    assert chats is not None
    assert all(isinstance(c, BatchItemError) for c in chats)
    assert all("invalid" in str(c) for c in chats), chats
    assert [c.index for c in chats if isinstance(c, BatchItemError)] == [0, 1]


def test_anthropic_refusing_a_batch_raises_and_can_be_retried(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    for fake, srv in serve("anthropic", fail="requests: too many"):
        with pytest.raises(BadRequestError, match="too many"):
            batch_chat_text(make_chat("anthropic", srv), ["a"], path)
        state = json.loads(path.read_text())
        assert state["chunks"][0]["creating_since"] is None  # refused: nothing to look for
        assert fake.created == 0


def test_item_errors_keep_their_status(tmp_path: Path) -> None:
    def respond(key: str, body: Any) -> Any:
        if key == "chat-1":
            return ItemError(status=429, message="slow down")
        return echo_answer("openai-chat", body)

    for _, srv in serve("groq", polls=0, respond=respond):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chats = batch_chat(make_chat("groq", srv), ["a", "b"], tmp_path / "s.json")
    assert chats is not None
    error = chats[0]
    assert isinstance(error, BatchItemError) and error.status == 429 and "slow down" in str(error)
    assert KEY not in str(error)


def test_progress_line_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    for _, srv in serve("anthropic", polls=2):
        batch_chat_text(make_chat("anthropic", srv), ["a", "b"], tmp_path / "p.json", progress=True)
    shown = stream.getvalue()
    assert "batch_chat_text [" in shown and "/2" in shown
    assert shown.endswith("\r")  # cleared at the end


def test_completed_polls_once_and_never_submits(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    for fake, srv in serve("gemini", polls=1):
        chat = make_chat("gemini", srv)
        assert batch_chat_completed(chat, ["a"], path) is False
        assert fake.created == 0 and not path.exists()
        assert batch_chat_text(chat, ["a"], path, wait=False) is None  # submitted, polled once
        assert batch_chat_completed(chat, ["a"], path) is True  # the second poll ends it
        assert batch_chat_text(chat, ["a"], path) == ["echo: a"]
        assert fake.created == 1


def test_completed_without_a_state_file_builds_no_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_plan(self: Any) -> Any:
        raise AssertionError("the job was planned")

    monkeypatch.setattr(batch_job.BatchJob, "_plan", no_plan)
    for fake, srv in serve("openai"):
        chat = make_chat("openai", srv)
        assert batch_chat_completed(chat, ["a"] * 1000, tmp_path / "c.json") is False
        assert srv.requests == [] and fake.created == 0 and os.listdir(tmp_path) == []


def test_a_job_already_running_elsewhere_is_refused(tmp_path: Path) -> None:
    from ellmer_py._batch_state import JobLock

    path = tmp_path / "job.json"
    for fake, srv in serve("anthropic"):
        chat = make_chat("anthropic", srv)
        running = JobLock(path, "batch_chat")  # as another process running the job holds it
        for call in (batch_chat_text, batch_chat_completed):
            with pytest.raises(ConfigurationError) as info:
                call(chat, ["a", "b"], path)
            assert "another process is running the batch job kept at" in str(info.value)
        assert srv.requests == [] and fake.created == 0 and not path.exists()
        running.release()
        assert batch_chat_text(chat, ["a", "b"], path) == ["echo: a", "echo: b"]
        assert os.listdir(tmp_path) == ["job.json"]  # the lock went with the run


def test_polls_that_change_nothing_durable_do_not_rewrite_the_state_file(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saves: list[str] = []
    real_save = batch_job.save_state

    def counted(path: Path, state: Any) -> None:
        saves.append(state.chunks[0].stage)
        real_save(path, state)

    monkeypatch.setattr(batch_job, "save_state", counted)
    for _, srv in serve(api, polls=6):
        chat = make_chat(api, srv)
        assert batch_chat_text(chat, ["a", "b"], tmp_path / f"{api}.json") == [
            "echo: a",
            "echo: b",
        ]
        polls = [r for r in srv.requests if r.method == "GET" and "batch" in r.path.lower()]
        assert len(polls) >= 6
    # marked as being created, created, ended, downloaded: not once per poll
    assert saves == ["submitting", "waiting", "retrieving", "done"]


class SlowResults(AnthropicBatchFake):
    """Sends the results file in ten pieces, ``gap`` seconds apart."""

    gap = 0.0

    def results(self, request: RecordedRequest, match: Any, query: Any) -> Reply:
        whole = super().results(request, match, query).body
        step = -(-len(whole) // 10)
        pieces = [whole[i : i + step] for i in range(0, len(whole), step)]
        return Reply.sse(pieces, delay=self.gap, content_type="application/binary")


def test_a_results_file_slower_than_the_time_limit_arrives_while_it_keeps_coming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "2")
    prompts = [f"p{i}" for i in range(20)]
    path = tmp_path / "slow.json"
    fake = SlowResults(key=KEY)
    with FakeServer(default=fake) as srv:
        chat = make_chat("anthropic", srv)
        fake.gap = 0.4  # 3.6 s for the file: longer than the 2 s limit, no gap near it
        assert batch_chat_text(chat, prompts, path) == [f"echo: {p}" for p in prompts]
        stalled = tmp_path / "stalled.json"
        fake.gap = 5.0  # a gap longer than the limit: a timeout, the job kept
        with pytest.raises(RequestTimeoutError):
            batch_chat_text(chat, prompts[:3], stalled)
        assert json.loads(stalled.read_text())["chunks"][0]["stage"] == "retrieving"
        fake.gap = 0.0
        assert batch_chat_text(chat, prompts[:3], stalled) == [f"echo: {p}" for p in prompts[:3]]
        assert fake.created == 2
    assert not srv.errors, srv.errors


def test_a_results_url_on_another_host_gets_no_credentials(tmp_path: Path) -> None:
    class Elsewhere(AnthropicBatchFake):
        def __call__(self, request: RecordedRequest) -> Reply:
            reply = super().__call__(request)
            if request.method == "GET" and "/messages/batches/" in request.path:
                doc = json.loads(reply.body)
                if doc.get("results_url"):
                    doc["results_url"] = "http://attacker.invalid/results"
                    return Reply.json(doc)
            return reply

    fake = Elsewhere(key=KEY, polls=0)
    with FakeServer(default=fake) as srv, pytest.raises(BatchError, match="another host"):
        batch_chat_text(make_chat("anthropic", srv), ["a"], tmp_path / "x.json")


# -- the conformance check can fail ------------------------------------------------------


def _spec_with(api: Any) -> Any:
    from attrs import evolve as attrs_evolve

    from ellmer_py import ProviderSpec

    def chat_broken(**kwargs: Any) -> Chat:
        chat = chat_groq(**kwargs)
        return Chat(attrs_evolve(chat.get_provider(), batch=api), chat.get_system_prompt())

    return ProviderSpec(name="broken", chat_function=chat_broken, protocol="openai-chat", batch=api)


def _check_failure(api: Any) -> str:
    from ellmer_py.conformance import Context
    from ellmer_py.conformance.checks import CHECKS

    with pytest.raises(AssertionError) as info:
        CHECKS["batch"](Context(_spec_with(api)))
    return str(info.value)


def test_the_check_fails_for_answers_out_of_order() -> None:
    from ellmer_py.plugin import OpenAIBatch

    class Unordered(OpenAIBatch):  # type: ignore[misc]
        def retrieve(self, batch: Any) -> Any:
            results = yield from super().retrieve(batch)
            ids = sorted(k for k in results if k.startswith("chat-"))
            return {**results, **dict(zip(ids, [results[i] for i in reversed(ids)], strict=True))}

    assert "answers out of order" in _check_failure(Unordered(endpoint="/v1/chat/completions"))


def test_the_check_fails_when_an_item_error_is_lost() -> None:
    from ellmer_py.plugin import ItemResult, OpenAIBatch

    class Vague(OpenAIBatch):  # type: ignore[misc]
        def retrieve(self, batch: Any) -> Any:
            results = yield from super().retrieve(batch)
            return {
                k: v if v.doc is not None else ItemResult(error="failed")
                for k, v in results.items()
            }

    message = _check_failure(Vague(endpoint="/v1/chat/completions"))
    assert "does not give the API's reason: Groq: failed" in message


def test_an_item_error_pickles_with_its_attributes() -> None:
    import pickle

    error = pickle.loads(
        pickle.dumps(BatchItemError("Groq: boom", index=3, provider="Groq", status=400))
    )
    assert (str(error), error.index, error.provider, error.status) == ("Groq: boom", 3, "Groq", 400)
