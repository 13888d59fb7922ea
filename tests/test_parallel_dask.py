"""parallel_chat*(..., executor=client) on a real Dask LocalCluster of worker processes.

The cluster (three worker processes, one thread each, loopback only, no
dashboard) and the loopback server both run on this machine; the workers
inherit the key from the environment, set before the cluster starts.
Skipped only when dask.distributed is not installed (it is in the dev extra).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

distributed = pytest.importorskip("dask.distributed")

from test_parallel import BAD, completion, prompt_of  # noqa: E402
from test_parallel_executor import Gate, describe, run_and_warn  # noqa: E402

from ellmer_py import (  # noqa: E402
    BadRequestError,
    Chat,
    ConfigurationError,
    parallel_chat,
    parallel_chat_structured,
    parallel_chat_text,
    type_object,
    type_string,
)
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply  # noqa: E402
from ellmer_py.providers.openai_compatible import chat_openai_compatible  # noqa: E402

KEY = "sk-dask-test-0123456789"
WORKERS = 3
FAST = 60_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAI_API_KEY", KEY)  # before the workers start: they inherit it
        for name in ("ELLMER_ECHO", "ELLMER_MAX_TRIES", "ELLMER_TIMEOUT_S"):
            mp.delenv(name, raising=False)
        with distributed.LocalCluster(
            n_workers=WORKERS,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as local_cluster:
            yield local_cluster


@pytest.fixture(scope="module")
def client(cluster: Any) -> Iterator[Any]:
    with distributed.Client(cluster) as dask_client:
        dask_client.wait_for_workers(WORKERS, timeout=120)
        yield dask_client


def answer(request: RecordedRequest) -> Reply:
    prompt = prompt_of(request)
    if prompt.startswith("bad"):
        return BAD
    if prompt.startswith("{"):
        return Reply.json(completion(prompt))
    return Reply.json(completion(f"answer to {prompt}"))


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer(default=answer) as server:
        yield server
    assert not server.errors, server.errors


def make_chat(srv: FakeServer) -> Chat:
    return chat_openai_compatible(srv.base_url, model="m", echo="none", max_tries=1, timeout_s=30)


def test_a_thousand_prompts_give_what_a_local_run_gives(srv: FakeServer, client: Any) -> None:
    chat = make_chat(srv)
    prompts = [f"question {i}" for i in range(1000)]
    local = parallel_chat_text(chat, prompts, rpm=FAST)
    assert local == [f"answer to question {i}" for i in range(1000)]
    remote = parallel_chat_text(chat, prompts, rpm=FAST, executor=client)
    assert remote == local
    asked = [prompt_of(r) for r in srv.requests[1000:]]
    assert sorted(asked) == sorted(prompts)  # each prompt sent once, by the workers
    assert {r.headers["authorization"] for r in srv.requests} == {f"Bearer {KEY}"}


def test_failures_per_prompt_as_locally(srv: FakeServer, client: Any) -> None:
    chat = make_chat(srv)
    prompts = [f"bad {i}" if i in (5, 77) else f"q{i}" for i in range(120)]
    local, local_warnings = run_and_warn(
        parallel_chat, chat, prompts, rpm=FAST, on_error="continue"
    )
    remote, remote_warnings = run_and_warn(
        parallel_chat, chat, prompts, rpm=FAST, on_error="continue", executor=client, chunk_size=9
    )
    assert describe(remote) == describe(local)
    assert isinstance(remote[5], BadRequestError) and isinstance(remote[77], BadRequestError)
    assert remote_warnings == local_warnings
    assert "prompts[77]: BadRequestError" in remote_warnings[0]


def test_structured_through_dask(srv: FakeServer, client: Any) -> None:
    prompts = [f'{{"name": "n{i}"}}' for i in range(30)]
    rows = parallel_chat_structured(
        make_chat(srv), prompts, type_object(name=type_string()), executor=client
    )
    assert rows == [{"name": f"n{i}"} for i in range(30)]


def test_max_active_holds_per_dask_worker(client: Any) -> None:
    # Three workers, max_active=3, chunks of 6: nine requests in flight, never more.
    n = 36
    gate = Gate(target=9, total=n)
    with FakeServer(default=gate) as server:
        prompts = [f"p{i}" for i in range(n)]
        texts = parallel_chat_text(
            make_chat(server), prompts, max_active=3, rpm=FAST, executor=client, chunk_size=6
        )
    assert texts == [f"answer to {p}" for p in prompts]
    assert not gate.stuck, "fewer than 9 requests were ever in flight at once"
    assert not gate.over, "more than 9 requests were in flight at once"
    assert gate.peak == 9


def test_the_cluster_itself_is_refused_with_a_hint(srv: FakeServer, cluster: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"pass Client\(cluster\), not the cluster"):
        parallel_chat_text(make_chat(srv), ["q"], executor=cluster)
    assert srv.requests == []
