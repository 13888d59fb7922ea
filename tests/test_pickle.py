"""Pickling a chat: it goes to another process without its key, and works there.

Credentials pickle as where the key comes from and are read again where the
chat is unpickled; the connection pool is made again on first use. What
pickle would have to store by value (a lambda, a nested function) is refused
with a message naming it. Every chat talks to a real loopback server.
"""

from __future__ import annotations

import io
import multiprocessing
import pickle
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import cloudpickle
import pytest
from test_chat import answer
from test_tools import call, calls_answer, text_answer

from ellmer_py import (
    AwsCredentials,
    Chat,
    ConfigurationError,
    chat_aws_bedrock,
    chat_google_vertex,
    chat_huggingface,
    tool,
)
from ellmer_py.conformance.fake_server import FakeServer

KEY = "hf_pickle_key_0123456789"
ENV = "HUGGINGFACE_API_KEY"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in (ENV, "HF_TOKEN", "ELLMER_ECHO", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def hf(srv: FakeServer, **kwargs: Any) -> Chat:
    """A chat whose key comes from the environment (``HUGGINGFACE_API_KEY``)."""
    kwargs.setdefault("echo", "none")
    return chat_huggingface(
        model="org/model", base_url=srv.base_url, max_tries=1, timeout_s=5, **kwargs
    )


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def read_key() -> str:
    """A module-level credentials function: pickled by its name."""
    import os

    return os.environ[ENV]


def ask(chat: Chat, prompt: str) -> tuple[str, Chat]:
    """Run in a worker process: the chat arrived pickled, it goes back pickled."""
    return chat.chat(prompt), chat


def test_a_chat_goes_through_a_process_pool_without_its_key(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, KEY)  # the spawned worker inherits the environment
    chat = hf(srv, system_prompt="Be brief.")
    chat.register_tool(tool(add))
    srv.enqueue(answer("first answer"))
    chat.chat("first")  # the parent's pool is open and its transport knows the key
    assert KEY.encode() not in pickle.dumps(chat)

    srv.enqueue(calls_answer(call("c1", "add", '{"a": 2, "b": 3}')), text_answer("It is 5."))
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing inherited
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        text, back = pool.submit(ask, chat, "2 + 3?").result(timeout=120)
    assert text == "It is 5."
    _, tool_call, final = srv.requests
    assert tool_call.headers["authorization"] == f"Bearer {KEY}"  # read in the worker
    assert [m["content"] for m in tool_call.json["messages"]] == [
        "Be brief.",
        "first",
        "first answer",
        "2 + 3?",
    ]
    assert final.json["messages"][-1]["content"] == "5"  # the tool ran in the worker
    assert [t.text for t in back.get_turns()][-1] == "It is 5."
    assert len(chat.get_turns()) == 2  # the parent's chat is its own


def test_the_unpickled_chat_keeps_everything_but_the_echo_stream(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENV, KEY)
    stream = io.StringIO()
    chat = Chat(hf(srv).get_provider(), "Be brief.", echo="output", echo_stream=stream)
    chat.register_tool(tool(add))
    chat.on_tool_result(print)
    srv.enqueue(answer("one"), answer("two"))
    chat.chat("first")
    copy = pickle.loads(pickle.dumps(chat))
    assert copy.get_turns() == chat.get_turns()
    assert copy.get_system_prompt() == "Be brief." and copy.get_echo() == "output"
    assert [t.name for t in copy.get_tools()] == ["add"] and copy.get_tools()[0](2, 3) == 5
    assert copy.get_provider().transport is not chat.get_provider().transport
    assert copy.chat("second") == "two"
    assert stream.getvalue() == "one\n"  # a stream belongs to its process: not pickled
    assert capsys.readouterr().out == "two\n"  # the unpickled chat echoes to sys.stdout


def test_user_credentials_pickle_by_name(srv: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)
    chat = hf(srv, credentials=read_key)
    srv.enqueue(answer("hi"))
    chat.chat("hello")
    data = pickle.dumps(chat)
    assert KEY.encode() not in data
    srv.enqueue(answer("again"))
    assert pickle.loads(data).chat("hello") == "again"
    assert srv.requests[-1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_a_lambda_or_closure_is_refused_naming_it(srv: FakeServer, dumps: Any) -> None:
    def nested() -> str:
        return KEY

    cases = [
        (hf(srv, credentials=lambda: KEY), "chat_huggingface(credentials=...) is a lambda"),
        (hf(srv, credentials=nested), "chat_huggingface(credentials=...) is a nested function"),
        (
            hf(srv).register_tool(tool(lambda x: x, "Echo.", {"x": str}, name="echo_back")),
            "the tool 'echo_back'",
        ),
    ]
    with_callback = hf(srv)
    with_callback.on_tool_request(lambda request: None)
    cases.append((with_callback, "the on_tool_request() callback is a lambda"))
    for chat, fragment in cases:
        with pytest.raises(ConfigurationError) as info:
            dumps(chat)  # cloudpickle could store them, with the key a closure holds: refused too
        assert isinstance(info.value, pickle.PicklingError)
        assert fragment in str(info.value)
        assert "module level" in str(info.value)
        assert KEY not in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url_auth": "user:s3cret-password@"},
        {"api_headers": {"X-Api-Key": "s3cret-password"}},
    ],
    ids=["base_url user:password", "api_headers key"],
)
def test_a_key_held_in_the_settings_is_refused(srv: FakeServer, kwargs: dict[str, Any]) -> None:
    auth = kwargs.pop("base_url_auth", "")
    base_url = srv.base_url.replace("http://", f"http://{auth}")
    chat = chat_huggingface(model="m", base_url=base_url, echo="none", **kwargs)
    with pytest.raises(ConfigurationError, match="a pickled chat never carries a key") as info:
        pickle.dumps(chat)
    assert "s3cret" not in str(info.value)
    assert isinstance(info.value, pickle.PicklingError)


def test_cloudpickle_as_dask_and_ray_use_it(
    srv: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, KEY)
    chat = hf(srv)
    srv.enqueue(answer("one"), answer("two"))
    chat.chat("first")
    data = cloudpickle.dumps(chat)
    assert KEY.encode() not in data
    assert pickle.loads(data).chat("second") == "two"


def test_aws_credentials_resolved_again_after_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDPICKLETEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    chat = chat_aws_bedrock(echo="none")
    headers = chat.get_provider().auth_only_headers()  # resolves and caches the credentials
    assert "AKIDPICKLETEST" in headers["Authorization"]
    data = pickle.dumps(chat)
    assert secret.encode() not in data and b"AKIDPICKLETEST" not in data
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDOTHERPROCESS")
    again = pickle.loads(data).get_provider().auth_only_headers()
    assert "AKIDOTHERPROCESS" in again["Authorization"]  # read where it was unpickled


def test_aws_credentials_function_pickles_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    chat = chat_aws_bedrock(echo="none", credentials=lambda: AwsCredentials("AKID", "SECRET"))
    with pytest.raises(
        ConfigurationError, match=r"chat_aws_bedrock\(credentials=...\) is a lambda"
    ):
        pickle.dumps(chat)


def test_google_credentials_found_again_after_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    from google.oauth2.credentials import Credentials

    token = "ya29.pickle-test-token-0123456789"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "project")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-central1")
    chat = chat_google_vertex(echo="none")
    auth = chat.get_provider().credentials
    auth._credentials = Credentials(token)  # as google.auth.default() would have cached them
    assert chat.get_provider().auth_only_headers()["Authorization"] == f"Bearer {token}"
    data = pickle.dumps(chat)
    assert token.encode() not in data
    assert pickle.loads(data).get_provider().credentials._credentials is None
