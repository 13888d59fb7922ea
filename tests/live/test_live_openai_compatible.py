"""``chat_openai_compatible()`` against a real llama-server (``/v1/chat/completions``).

The model has random weights: its answers are gibberish, but greedy
decoding makes them the same every time, so the tests compare answers
with each other rather than with expected text.
"""

from __future__ import annotations

from typing import Any

import pytest
from _llama_server import LlamaServer

from ellmer_py import (
    AssistantTurn,
    AuthenticationError,
    Chat,
    ModelLimitationError,
    SystemTurn,
    UserTurn,
    chat_openai_compatible,
    params,
)

# Every answer runs into max_tokens (the model never emits its end token);
# test_chat checks the warning that says so, the others ignore it.
pytestmark = [
    pytest.mark.live,
    pytest.mark.filterwarnings("ignore:.*the answer was cut off:UserWarning"),
]

MAX_TOKENS = 16
PROMPT = "Hello there"
SYSTEM = "You are a pirate."


def make_chat(server: LlamaServer, key: str | None = None, **kwargs: Any) -> Chat:
    """A greedy, 16-token chat with ``server``'s model (``kwargs`` override)."""
    options: dict[str, Any] = {
        "params": params(temperature=0, seed=42, max_tokens=MAX_TOKENS),
        "echo": "none",
        **kwargs,
    }
    secret = server.api_key if key is None else key
    return chat_openai_compatible(
        base_url=server.v1, model=server.model, credentials=lambda: secret, **options
    )


def _input_tokens(chat: Chat) -> int:
    """The prompt tokens of the chat's last answer, as the server counted them."""
    last = chat.get_turns()[-1]
    assert isinstance(last, AssistantTurn) and last.tokens is not None
    return int(last.tokens.input)


def test_chat(llama_server: LlamaServer) -> None:
    """One chat: a user and an assistant turn, token counts, the same answer twice."""
    chat = make_chat(llama_server)
    with pytest.warns(UserWarning, match="OpenAI-compatible: the answer was cut off"):
        answer = chat.chat(PROMPT)
    assert answer and answer.isascii() and answer.isprintable()
    user, assistant = chat.get_turns()
    assert isinstance(user, UserTurn) and user.text == PROMPT
    assert isinstance(assistant, AssistantTurn) and assistant.text == answer
    assert assistant.tokens is not None
    assert assistant.tokens.output == MAX_TOKENS
    assert assistant.tokens.input > 0
    assert assistant.finish_reason == "max_tokens"
    assert make_chat(llama_server).chat(PROMPT) == answer


def test_stream(llama_server: LlamaServer) -> None:
    """A stream arrives in pieces that add up to the non-streamed answer."""
    chat = make_chat(llama_server)
    pieces = list(chat.stream(PROMPT))
    assert len(pieces) > 1
    streamed = "".join(pieces)
    assert streamed == make_chat(llama_server).chat(PROMPT)
    user, assistant = chat.get_turns()
    assert user.text == PROMPT
    assert isinstance(assistant, AssistantTurn) and assistant.text == streamed
    assert assistant.tokens is not None and assistant.tokens.output == MAX_TOKENS


def test_multi_turn(llama_server: LlamaServer) -> None:
    """The second request carries the history: four turns, a longer prompt."""
    chat = make_chat(llama_server)
    first = chat.chat(PROMPT)
    second = chat.chat("Tell me more")
    turns = chat.get_turns()
    assert [t.role for t in turns] == ["user", "assistant", "user", "assistant"]
    assert [t.text for t in turns] == [PROMPT, first, "Tell me more", second]
    # the history was in the prompt: more input tokens than the question alone
    alone = make_chat(llama_server)
    alone.chat("Tell me more")
    assert _input_tokens(chat) > _input_tokens(alone)


def test_system_prompt(llama_server: LlamaServer) -> None:
    """The system prompt reaches the model (a longer prompt) and is kept; determinism."""
    chat = make_chat(llama_server, system_prompt=SYSTEM)
    answer = chat.chat(PROMPT)
    assert chat.get_system_prompt() == SYSTEM
    system, user, assistant = chat.get_turns(include_system_prompt=True)
    assert isinstance(system, SystemTurn) and system.text == SYSTEM
    assert user.text == PROMPT and assistant.text == answer
    plain = make_chat(llama_server)
    plain.chat(PROMPT)
    assert _input_tokens(chat) > _input_tokens(plain)
    assert make_chat(llama_server, system_prompt=SYSTEM).chat(PROMPT) == answer


def test_stop_sequence(llama_server: LlamaServer) -> None:
    """With a stop sequence taken from the middle, the answer ends just before it."""
    full = make_chat(llama_server).chat(PROMPT)
    middle = len(full) // 2
    # the first place the stop string occurs must be past the start
    stop = next(
        full[i : i + 2] for i in range(middle, len(full) - 1) if full.index(full[i : i + 2]) > 0
    )
    stopped = make_chat(
        llama_server,
        params=params(temperature=0, seed=42, max_tokens=MAX_TOKENS, stop_sequences=[stop]),
    )
    answer = stopped.chat(PROMPT)
    assert answer == full[: full.index(stop)]
    last = stopped.get_turns()[-1]
    assert isinstance(last, AssistantTurn) and last.finish_reason == "success"


def test_wrong_key(llama_server: LlamaServer) -> None:
    """A wrong key is an AuthenticationError with status 401, and the key is not shown."""
    chat = make_chat(llama_server, key="sk-wrong-key-000")
    with pytest.raises(AuthenticationError) as info:
        chat.chat(PROMPT)
    assert info.value.status == 401
    assert "sk-wrong-key-000" not in str(info.value)
    assert chat.get_turns() == []


def test_no_system_role(no_system_server: LlamaServer) -> None:
    """A template without a system role: ModelLimitationError, or merge when asked."""
    chat = make_chat(no_system_server, system_prompt="Be terse.")
    with pytest.raises(ModelLimitationError) as info:
        chat.chat(PROMPT)
    assert info.value.status == 400
    merged = make_chat(no_system_server, system_prompt="Be terse.", system_prompt_fallback="merge")
    assert merged.chat(PROMPT)
