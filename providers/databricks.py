"""Models served by a Databricks workspace (R: ``chat_databricks()``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ellmer_py.plugin import (
    Chat,
    ChatArgs,
    ConfigurationError,
    CredentialValue,
    Echo,
    OpenAIChat,
    Params,
    ProviderSpec,
    SystemPromptFallback,
    build_chat,
    default_model,
    env_credentials,
    hookimpl,
    reject_api_key,
)

__all__ = ["chat_databricks", "databricks_workspace"]

DEFAULT_MODEL = "databricks-claude-sonnet-4-6"
HOST_ENV = "DATABRICKS_HOST"
ENV = ("DATABRICKS_TOKEN",)
#: R's path: the OpenAI-compatible chat endpoint below the workspace.
SERVING_PATH = "/serving-endpoints"

#: R's ``chat_params`` for Databricks, which sends camelCase names.
DATABRICKS_PARAM_NAMES = {
    "temperature": "temperature",
    "topP": "top_p",
    "topK": "top_k",
    "maxTokens": "max_tokens",
    "stopSequences": "stop_sequences",
}


def _config_host(path: Path, profile: str) -> str | None:
    """The ``host`` of a profile in a Databricks config file (``~/.databrickscfg``)."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as f:
            parser.read_file(f)
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None
    if profile != parser.default_section and not parser.has_section(profile):
        return None
    host = parser[profile].get("host", "").strip()
    return host or None


def _bearer(token: str) -> Callable[[], CredentialValue]:
    """Credentials for a fixed token (R: ``token=``)."""

    def credentials() -> CredentialValue:
        return {"Authorization": f"Bearer {token}"}

    return credentials


def _with_scheme(host: str) -> str:
    host = host.strip().rstrip("/")
    return host if host.startswith(("https://", "http://")) else "https://" + host


def databricks_workspace() -> str:
    """The workspace URL from the environment (R: ``databricks_workspace()``).

    ``DATABRICKS_HOST`` first, then the ``host`` of the profile
    ``DATABRICKS_CONFIG_PROFILE`` (default ``DEFAULT``) in the config file
    ``DATABRICKS_CONFIG_FILE`` (default ``~/.databrickscfg``).
    """
    host = os.environ.get(HOST_ENV, "").strip()
    if host:
        return _with_scheme(host)
    config = Path(os.environ.get("DATABRICKS_CONFIG_FILE") or "~/.databrickscfg").expanduser()
    profile = os.environ.get("DATABRICKS_CONFIG_PROFILE") or "DEFAULT"
    host = _config_host(config, profile) or ""
    if host:
        return _with_scheme(host)
    raise ConfigurationError(
        f"chat_databricks() needs a workspace: set the {HOST_ENV} environment variable "
        f"(such as https://example.cloud.databricks.com), give a host in the [{profile}] "
        f"profile of {config}, or pass workspace=."
    )


def chat_databricks(
    workspace: str | None = None,
    system_prompt: str | None = None,
    model: str | None = None,
    token: str | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    echo: Echo | bool | None = None,
    api_headers: Mapping[str, str] | None = None,
    *,
    api_key: str | None = None,
    credentials: Callable[[], CredentialValue] | None = None,
    base_url: str | None = None,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
) -> Chat:
    """Chat with a model served by a Databricks workspace (R: ``chat_databricks()``).

    ``workspace`` is the workspace URL, by default ``DATABRICKS_HOST`` or the
    host in ``~/.databrickscfg``; requests go to its
    ``/serving-endpoints/chat/completions`` (``base_url`` replaces
    ``<workspace>/serving-endpoints``). The token is ``token``, else
    ``credentials``, else ``DATABRICKS_TOKEN`` read at request time.

    R also finds OAuth (service principal and user), Databricks CLI,
    Posit Workbench and Posit Connect credentials; ellmer-py does not yet:
    pass ``credentials`` returning ``{"Authorization": "Bearer <token>"}``
    for those. As in R, parameters go under Databricks' names (``topP``,
    ``topK``, ``maxTokens``, ``stopSequences``) and streamed requests send
    no ``stream_options``.
    """
    reject_api_key("chat_databricks", api_key, env=ENV)
    if token is not None:
        if credentials is not None:
            raise ConfigurationError("chat_databricks() takes token= or credentials=, not both.")
        if not isinstance(token, str) or not token.strip():
            raise ConfigurationError(
                "chat_databricks(token=) must be a non-empty string; leave it out to use "
                "DATABRICKS_TOKEN."
            )
        credentials = _bearer(token.strip())
    if base_url is None:
        if workspace is not None and (not isinstance(workspace, str) or not workspace.strip()):
            raise ConfigurationError(
                "chat_databricks(workspace=) must be a URL such as "
                "'https://example.cloud.databricks.com'."
            )
        base_url = _with_scheme(workspace or databricks_workspace()) + SERVING_PATH
    spark = os.environ.get("SPARK_CONNECT_USER_AGENT", "").strip()
    return build_chat(
        "chat_databricks",
        ChatArgs.of(locals()),
        name="Databricks",
        model=default_model(model, DEFAULT_MODEL),
        base_url=base_url,
        protocol=OpenAIChat(DATABRICKS_PARAM_NAMES, stream_usage=False),
        credentials=credentials,  # explicit: token= may have replaced the argument
        default_credentials=env_credentials(
            "Databricks",
            ENV,
            hint=" Create a personal access token in your workspace's user settings.",
        ),
        user_agent=f"{spark} ellmer-py" if spark else None,
    )


SPEC = ProviderSpec(
    name="databricks",
    chat_function=chat_databricks,
    protocol="openai-chat",
    default_base_url="{DATABRICKS_HOST}" + SERVING_PATH,
    default_model=DEFAULT_MODEL,
    credential_sources=ENV,
    credential_env=ENV,
    conformance_kwargs=lambda base_url: {"workspace": base_url},
    description="A Databricks workspace (DATABRICKS_HOST, DATABRICKS_TOKEN), OpenAI-compatible.",
)


@hookimpl
def ellmer_py_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    """Register chat_databricks."""
    register(SPEC)
