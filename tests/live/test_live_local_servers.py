"""``chat_vllm()`` and ``chat_lmstudio()`` against a real llama-server.

Both speak the OpenAI chat API that llama-server serves, and list models
from its ``/v1/models``; with greedy decoding they must give the answer
``chat_openai_compatible()`` gives, and name the server's model when
``model=`` is missing (R's error).
"""

from __future__ import annotations

from typing import Any

import pytest
from _llama_server import LlamaServer

from ellmer_py import (
    ConfigurationError,
    chat_lmstudio,
    chat_openai_compatible,
    chat_vllm,
    models_lmstudio,
    models_vllm,
    params,
)

pytestmark = [
    pytest.mark.live,
    pytest.mark.filterwarnings("ignore:.*the answer was cut off:UserWarning"),
]

PROMPT = "Hello there"


def _options(server: LlamaServer) -> dict[str, Any]:
    return {
        "params": params(temperature=0, seed=42, max_tokens=16),
        "echo": "none",
        "credentials": lambda: server.api_key,
    }


def _root(server: LlamaServer) -> str:
    return server.v1.removesuffix("/v1")


def test_vllm_and_lmstudio_answer_as_the_openai_compatible_chat(
    llama_server: LlamaServer,
) -> None:
    options = _options(llama_server)
    expected = chat_openai_compatible(
        base_url=llama_server.v1, model=llama_server.model, **options
    ).chat(PROMPT)
    for make in (
        lambda: chat_vllm(_root(llama_server), model=llama_server.model, **options),
        lambda: chat_lmstudio(base_url=llama_server.v1, model=llama_server.model, **options),
    ):
        assert make().chat(PROMPT) == expected
        assert "".join(make().stream(PROMPT)) == expected


def test_the_model_lists_and_the_missing_model_error_name_the_servers_model(
    llama_server: LlamaServer,
) -> None:
    key = lambda: llama_server.api_key  # noqa: E731
    assert llama_server.model in [m.id for m in models_vllm(_root(llama_server), credentials=key)]
    assert llama_server.model in [m.id for m in models_lmstudio(llama_server.v1, key)]
    for make in (
        lambda: chat_vllm(_root(llama_server), credentials=key),
        lambda: chat_lmstudio(base_url=_root(llama_server), credentials=key),
    ):
        with pytest.raises(ConfigurationError) as info:
            make()
        assert f"Available models: {llama_server.model!r}" in str(info.value)
