"""Tests of known model limitations: no system prompt for some models.

The Hugging Face plugin declares that the Gemma 2 family has no system role;
``Chat`` refuses before sending, and a server's chat-template error about the
system role raises the same ``ModelLimitationError``. The opt-in
``system_prompt_fallback="merge"`` folds the prompt into the first user turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ellmer_py import (
    AssistantTurn,
    BadRequestError,
    Chat,
    ModelLimitation,
    ModelLimitationError,
    NotFoundError,
    UserTurn,
    chat_huggingface,
    chat_openai_compatible,
    get_provider_spec,
)
from ellmer_py._provider import is_system_role_error
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply, sse_data

GEMMA = "google/gemma-2-2b-it"
TGI_TEMPLATE_ERROR = Reply.json(
    {
        "error": "Template error: unknown error: System role not supported (in <string>:1)",
        "error_type": "template_error",
    },
    status=422,
)
VLLM_TEMPLATE_ERROR = Reply.json(
    {
        "object": "error",
        "message": "System role not supported",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    },
    status=400,
)


def answer(text: str) -> Reply:
    """A minimal 200 chat-completions answer."""
    return Reply.json(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ]
        }
    )


def streamed(text: str) -> Reply:
    """A one-piece SSE answer."""
    return Reply.sse(
        [
            sse_data(
                {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]}
            ),
            sse_data("[DONE]"),
        ]
    )


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """One try, no echo from the environment."""
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    monkeypatch.delenv("ELLMER_ECHO", raising=False)


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def hf(srv: FakeServer, model: str = GEMMA, **kwargs: Any) -> Chat:
    """chat_huggingface against the fake server."""
    kwargs.setdefault("echo", "none")
    return chat_huggingface(
        model=model,
        credentials=lambda: "hf_k",
        base_url=srv.base_url,
        max_tries=1,
        timeout_s=5,
        **kwargs,
    )


def messages(request: RecordedRequest) -> list[dict[str, Any]]:
    """The ``messages`` of a recorded request."""
    return list(request.json["messages"])


# --- declared limitations: refused before any request ------------------------------------


def test_gemma_with_system_prompt_refused_before_any_request(srv: FakeServer) -> None:
    chat = hf(srv, system_prompt="x")
    with pytest.raises(ModelLimitationError) as info:
        chat.chat("hello")
    assert srv.requests == []
    exc = info.value
    assert exc.model == GEMMA
    assert exc.feature == "system_prompt"
    assert exc.provider == "HuggingFace"
    assert exc.status is None
    message = str(exc)
    assert GEMMA in message
    assert "does not support a system prompt" in message
    assert "choose another model" in message
    assert "system_prompt_fallback='merge'" in message
    assert chat.get_turns() == []


@pytest.mark.parametrize("how", ["echo", "stream"])
def test_gemma_refused_before_a_streamed_request(srv: FakeServer, how: str) -> None:
    chat = hf(srv, system_prompt="x")
    with pytest.raises(ModelLimitationError):
        if how == "echo":
            chat.chat("hello", echo="output")
        else:
            list(chat.stream("hello"))
    assert srv.requests == []
    assert chat.get_turns() == []


@pytest.mark.parametrize(
    "model", ["google/gemma-2-2b-it", "google/gemma-2-9b-it", "Google/Gemma-2-27B-IT"]
)
def test_the_whole_gemma_2_family_is_declared(srv: FakeServer, model: str) -> None:
    chat = hf(srv, model=model, system_prompt="x")
    with pytest.raises(ModelLimitationError):
        chat.chat("hello")
    assert srv.requests == []


@pytest.mark.parametrize(
    "model", ["google/gemma-3-27b-it", "meta-llama/Llama-3.1-8B-Instruct", "xgoogle/gemma-2-2b-it"]
)
def test_other_models_take_a_system_prompt(srv: FakeServer, model: str) -> None:
    srv.enqueue(answer("fine"))
    chat = hf(srv, model=model, system_prompt="x")
    assert chat.chat("hello") == "fine"
    assert messages(srv.requests[0])[0] == {"role": "system", "content": "x"}


def test_gemma_without_system_prompt_works(srv: FakeServer) -> None:
    srv.enqueue(answer("Hi!"), streamed("Again!"))
    chat = hf(srv)
    assert chat.chat("hello") == "Hi!"
    assert chat.chat("more", echo="output") == "Again!"
    assert messages(srv.requests[0]) == [{"role": "user", "content": "hello"}]
    assert [m["role"] for m in messages(srv.requests[1])] == ["user", "assistant", "user"]


def test_setting_a_system_prompt_later_is_refused_too(srv: FakeServer) -> None:
    srv.enqueue(answer("one"))
    chat = hf(srv)
    chat.chat("hello")
    chat.set_system_prompt("be brief")
    with pytest.raises(ModelLimitationError):
        chat.chat("again")
    assert len(srv.requests) == 1
    assert len(chat.get_turns()) == 2


# --- the merge fallback -------------------------------------------------------------------


def test_merge_folds_the_prompt_into_the_first_user_message(srv: FakeServer) -> None:
    srv.enqueue(answer("first"), answer("second"))
    chat = hf(srv, system_prompt="x", system_prompt_fallback="merge")
    assert chat.chat("hello") == "first"
    assert messages(srv.requests[0]) == [{"role": "user", "content": "x\n\nhello"}]
    # nothing extra is recorded: the turns are what the user said
    assert chat.get_turns() == [UserTurn("hello"), AssistantTurn("first", finish_reason="success")]
    assert chat.get_system_prompt() == "x"
    chat.chat("again")
    assert messages(srv.requests[1]) == [
        {"role": "user", "content": "x\n\nhello"},
        {"role": "assistant", "content": "first"},
        {"role": "user", "content": "again"},
    ]
    assert [t.text for t in chat.get_turns()] == ["hello", "first", "again", "second"]
    assert len(srv.requests) == 2


def test_merge_when_streaming(srv: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    srv.enqueue(streamed("streamed"))
    chat = hf(srv, system_prompt="x", system_prompt_fallback="merge", echo="output")
    assert chat.chat("hello") == "streamed"
    assert capsys.readouterr().out == "streamed\n"
    assert messages(srv.requests[0]) == [{"role": "user", "content": "x\n\nhello"}]
    assert [t.text for t in chat.get_turns()] == ["hello", "streamed"]


def test_merge_is_not_used_when_the_model_has_no_limitation(srv: FakeServer) -> None:
    srv.enqueue(answer("ok"))
    chat = hf(srv, model="org/capable", system_prompt="x", system_prompt_fallback="merge")
    chat.chat("hello")
    assert messages(srv.requests[0]) == [
        {"role": "system", "content": "x"},
        {"role": "user", "content": "hello"},
    ]


# --- a server that says "System role not supported" ---------------------------------------


@pytest.mark.parametrize(
    ("reply", "status", "said"),
    [
        (
            TGI_TEMPLATE_ERROR,
            422,
            "Template error: unknown error: System role not supported (in <string>:1)",
        ),
        (VLLM_TEMPLATE_ERROR, 400, "System role not supported"),
    ],
    ids=["tgi-422", "vllm-400"],
)
def test_template_error_from_the_server_is_a_model_limitation(
    srv: FakeServer, reply: Reply, status: int, said: str
) -> None:
    srv.enqueue(reply)
    chat = hf(srv, model="org/undeclared", system_prompt="x")
    with pytest.raises(ModelLimitationError) as info:
        chat.chat("hello")
    exc = info.value
    assert exc.model == "org/undeclared"
    assert exc.feature == "system_prompt"
    assert exc.status == status
    assert exc.server_message == said
    assert exc.provider == "HuggingFace"
    message = str(exc)
    assert "'org/undeclared' does not support a system prompt" in message
    assert said in message
    assert "system_prompt_fallback='merge'" in message
    assert len(srv.requests) == 1  # no silent retry without the opt-in
    assert chat.get_turns() == []


@pytest.mark.parametrize(
    "reply", [TGI_TEMPLATE_ERROR, VLLM_TEMPLATE_ERROR], ids=["tgi-422", "vllm-400"]
)
def test_template_error_when_streaming(srv: FakeServer, reply: Reply) -> None:
    srv.enqueue(reply)
    chat = hf(srv, model="org/undeclared", system_prompt="x")
    with pytest.raises(ModelLimitationError):
        chat.chat("hello", echo="output")
    assert len(srv.requests) == 1
    assert chat.get_turns() == []


@pytest.mark.parametrize(
    "reply", [TGI_TEMPLATE_ERROR, VLLM_TEMPLATE_ERROR], ids=["tgi-422", "vllm-400"]
)
def test_template_error_with_merge_retries_once_merged(srv: FakeServer, reply: Reply) -> None:
    srv.enqueue(reply, answer("merged answer"))
    chat = hf(srv, model="org/undeclared", system_prompt="x", system_prompt_fallback="merge")
    assert chat.chat("hello") == "merged answer"
    assert len(srv.requests) == 2
    assert messages(srv.requests[0]) == [
        {"role": "system", "content": "x"},
        {"role": "user", "content": "hello"},
    ]
    assert messages(srv.requests[1]) == [{"role": "user", "content": "x\n\nhello"}]
    assert [t.text for t in chat.get_turns()] == ["hello", "merged answer"]


def test_template_error_with_merge_when_streaming(
    srv: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.enqueue(TGI_TEMPLATE_ERROR, streamed("merged"))
    chat = hf(
        srv,
        model="org/undeclared",
        system_prompt="x",
        system_prompt_fallback="merge",
        echo="output",
    )
    assert chat.chat("hello") == "merged"
    assert capsys.readouterr().out == "merged\n"
    assert messages(srv.requests[1]) == [{"role": "user", "content": "x\n\nhello"}]
    assert [t.text for t in chat.get_turns()] == ["hello", "merged"]


def test_merge_retries_only_once(srv: FakeServer) -> None:
    srv.enqueue(TGI_TEMPLATE_ERROR, TGI_TEMPLATE_ERROR, answer("never"))
    chat = hf(srv, model="org/undeclared", system_prompt="x", system_prompt_fallback="merge")
    with pytest.raises(BadRequestError) as info:
        chat.chat("hello")
    # the merged request had no system message, so the server's words are passed on as they are
    assert not isinstance(info.value, ModelLimitationError)
    assert info.value.status == 422
    assert len(srv.requests) == 2
    assert messages(srv.requests[1]) == [{"role": "user", "content": "x\n\nhello"}]
    assert chat.get_turns() == []


def test_template_error_for_a_declared_model_keeps_the_plugin_advice(srv: FakeServer) -> None:
    srv.enqueue(answer("ok"))
    chat = hf(srv, model=GEMMA, system_prompt="x")
    with pytest.raises(ModelLimitationError) as info:
        chat.chat("hello")
    assert "Gemma 2 chat templates have no system role" in str(info.value)


def test_other_bad_requests_are_not_limitations(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json(
            {
                "error": {
                    "message": "The requested model 'nope' does not exist.",
                    "code": "model_not_found",
                }
            },
            status=400,
        ),
        Reply.json({"error": "Model not found"}, status=404),
    )
    chat = hf(srv, model="org/undeclared", system_prompt="x", system_prompt_fallback="merge")
    with pytest.raises(BadRequestError) as info:
        chat.chat("hello")
    assert not isinstance(info.value, ModelLimitationError)
    assert info.value.status == 400
    assert "The requested model 'nope' does not exist." in str(info.value)
    with pytest.raises(NotFoundError):
        chat.chat("hello")
    assert len(srv.requests) == 2  # no merged retry for errors that are not about the system role


def test_role_errors_without_a_system_prompt_are_not_blamed_on_it(srv: FakeServer) -> None:
    srv.enqueue(
        Reply.json(
            {"error": "Template error: Conversation roles must alternate user/assistant/..."},
            status=422,
        )
    )
    chat = hf(srv, model="org/undeclared")
    chat.set_turns([UserTurn("one"), UserTurn("two")])
    with pytest.raises(BadRequestError) as info:
        chat.chat("three")
    assert not isinstance(info.value, ModelLimitationError)
    assert info.value.status == 422
    assert "Conversation roles must alternate" in str(info.value)


def test_openai_compatible_maps_template_errors_too(srv: FakeServer) -> None:
    srv.enqueue(VLLM_TEMPLATE_ERROR)
    chat = chat_openai_compatible(
        srv.base_url,
        name="vLLM",
        model="local/gemma",
        system_prompt="x",
        credentials=lambda: "k",
        echo="none",
    )
    with pytest.raises(ModelLimitationError) as info:
        chat.chat("hello")
    assert info.value.provider == "vLLM"
    assert "'local/gemma'" in str(info.value)


# --- the pieces ---------------------------------------------------------------------------


def test_huggingface_spec_declares_the_gemma_2_limitation() -> None:
    limitations = get_provider_spec("huggingface").limitations
    assert [(x.pattern, x.feature) for x in limitations] == [
        (r"google/gemma-2-.*", "system_prompt")
    ]


def test_model_limitation_matches_whole_ids_case_insensitively() -> None:
    limitation = ModelLimitation(pattern=r"google/gemma-2-.*", feature="system_prompt")
    assert limitation.matches("google/gemma-2-2b-it")
    assert limitation.matches("GOOGLE/GEMMA-2-9B-IT")
    assert not limitation.matches("google/gemma-3-1b-it")
    assert not limitation.matches("my-google/gemma-2-2b-it")


@pytest.mark.parametrize(
    "message",
    [
        "System role not supported",
        "Template error: unknown error: System role not supported (in <string>:1)",
        "system_prompt is not supported by this model",
        "System messages are not supported",
        "Conversation roles must alternate user/assistant/user/assistant/...",
    ],
)
def test_system_role_messages_are_recognised(message: str) -> None:
    assert is_system_role_error(message)


@pytest.mark.parametrize(
    "message",
    [
        None,
        "",
        "Model not found",
        "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096",
    ],
)
def test_other_messages_are_not(message: str | None) -> None:
    assert not is_system_role_error(message)
