"""Fixtures for the live tests: a real llama-server on 127.0.0.1.

The binary is built once per machine (see ``_llama_server.py``); the tiny
models are written per session. Only ``-m live`` runs these tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from _gguf_models import CHATML_TEMPLATE, GEMMA_LIKE_TEMPLATE, NO_SYSTEM_TEMPLATE, write_model
from _llama_server import LlamaServer, ensure_llama_server, run_llama_server

API_KEY = "sk-live-test-0123456789"


@pytest.fixture(scope="session")
def llama_server_binary() -> Path:
    """The llama-server binary, built on first use."""
    return ensure_llama_server()


@pytest.fixture(scope="session")
def live_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session directory for the models and the server logs."""
    return tmp_path_factory.mktemp("llama")


@contextmanager
def _serve(binary: Path, directory: Path, name: str, template: str) -> Iterator[LlamaServer]:
    """Write the model ``name`` with ``template`` and serve it."""
    model = write_model(directory / f"{name}.gguf", chat_template=template)
    with run_llama_server(
        binary, model, directory / f"{name}.log", api_key=API_KEY, alias=name
    ) as server:
        yield server


@pytest.fixture(scope="session")
def llama_server(llama_server_binary: Path, live_dir: Path) -> Iterator[LlamaServer]:
    """llama-server with a ChatML model (system, user and assistant roles)."""
    with _serve(llama_server_binary, live_dir, "tiny-chatml", CHATML_TEMPLATE) as server:
        yield server


@pytest.fixture(scope="session")
def no_system_server(llama_server_binary: Path, live_dir: Path) -> Iterator[LlamaServer]:
    """llama-server answering 400 "System role not supported" to a system message."""
    with _serve(llama_server_binary, live_dir, "tiny-nosystem", NO_SYSTEM_TEMPLATE) as server:
        yield server


@pytest.fixture(scope="session")
def merging_server(llama_server_binary: Path, live_dir: Path) -> Iterator[LlamaServer]:
    """llama-server with a Gemma-like template: it merges the system prompt itself."""
    with _serve(llama_server_binary, live_dir, "tiny-gemmalike", GEMMA_LIKE_TEMPLATE) as server:
        yield server
