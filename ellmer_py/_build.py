"""Building a provider's Chat: the generic steps every ``chat_<name>()`` takes.

R's provider constructors all end the same way: pick the model (or say
which default is used), settle the credentials, make the ``Provider`` and
wrap it in a ``Chat``. Those steps live here, once, and nothing here knows
any particular provider: a plugin passes its own name, defaults, protocol
and limitations. Provider packages reach these through ``ellmer_py.plugin``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from attrs import fields, frozen

from ._chat import Chat, SystemPromptFallback
from ._credentials import Credentials, CredentialValue, as_credentials
from ._echo import Echo
from ._errors import ConfigurationError
from ._models_list import list_models_of
from ._params import Params
from ._protocols import Auth, WireProtocol
from ._protocols.batch import BatchApi
from ._protocols.openai_chat import OpenAIChat
from ._provider import ModelLimitation, Provider
from ._tokens import PriceSource
from ._transport import Transport

__all__ = [
    "ChatArgs",
    "build_chat",
    "default_model",
    "env_setting",
    "require_model",
    "server_root",
    "with_defaults",
]


@frozen
class ChatArgs:
    """The constructor arguments every ``chat_<name>()`` shares, passed on as one bundle.

    ``ChatArgs.of(locals())`` at the top of a constructor picks them out of
    its own arguments, so a provider module is its constants, its quirks
    and one ``build_chat()`` call.
    """

    system_prompt: str | None = None
    params: Params | None = None
    api_args: Mapping[str, Any] | None = None
    api_headers: Mapping[str, str] | None = None
    echo: Echo | bool | None = None
    credentials: Credentials | None = None
    system_prompt_fallback: SystemPromptFallback = "error"
    max_tries: int | None = None
    timeout_s: float | None = None

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> ChatArgs:
        """The shared arguments found in ``values`` (a constructor's ``locals()``)."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


log = logging.getLogger("ellmer_py")


def default_model(model: str | None, default: str) -> str:
    """``model``, or ``default`` with a note saying it is used (R: ``set_default()``).

    The note is an INFO record on the ``ellmer_py`` logger, not a print.
    """
    if model is None:
        log.info("Using model = %r.", default)
        return default
    return model


def require_model(
    function: str,
    model: str | None,
    what: str,
    *,
    available: Callable[[], Sequence[str]] | None = None,
    models_url: str = "",
    unreachable: str = "",
    empty: str = "",
) -> str:
    """``model``, or a ConfigurationError for a provider with no default model.

    ``what`` says what to pass, e.g. ``"the name of a model you have pulled"``.
    With ``available`` (the ids at ``models_url``), a missing model costs one
    look at the server's list, and the error names them, as R's does;
    ``unreachable`` and ``empty`` add advice for a list that cannot be read
    or that is empty.
    """
    if model is None or (isinstance(model, str) and not model.strip()):
        start = f"{function}() needs model=, {what}: it has no default."
        if available is None:
            raise ConfigurationError(start)
        try:
            ids = list(available())
        except Exception as exc:  # only to say more in the error
            raise ConfigurationError(
                f"{start} Its model list (GET {models_url}) could not be read either "
                f"({type(exc).__name__}: {exc}).{unreachable}"
            ) from None
        if not ids:
            raise ConfigurationError(f"{start} {models_url} lists no models.{empty}")
        names = ", ".join(repr(i) for i in ids)
        raise ConfigurationError(
            f"{start} Available models: {names}; pass one, for example model={ids[0]!r}."
        )
    if not isinstance(model, str):
        raise ConfigurationError(
            f"{function}(model=) must be a string, {what}; not {type(model).__name__}."
        )
    return model


def server_root(base_url: str) -> str:
    """A server's own URL from ``base_url``: no trailing ``/`` nor OpenAI-style ``/v1``.

    For servers whose OpenAI-compatible API is at ``<server>/v1`` beside
    their own (Ollama, vLLM, LM Studio): ``server_root(url) + "/v1"`` is
    that API, whichever of the two the user gave.
    """
    return base_url.rstrip("/").removesuffix("/v1")


def env_setting(value: str | None, env: str) -> str | None:
    """``value``, else the environment variable ``env``, else None (R: ``Sys.getenv()``).

    An empty or blank variable counts as unset.
    """
    if value is not None:
        return value
    found = os.environ.get(env, "").strip()
    return found or None


def with_defaults(defaults: Mapping[str, str], headers: Mapping[str, str] | None) -> dict[str, str]:
    """A provider's default headers, each replaced by the user's header of the same name.

    Names compare case-insensitively; the user's headers come last.
    """
    if headers is None:
        return dict(defaults)
    if not isinstance(headers, Mapping):
        return headers  # not a dict: Provider rejects it with a clear message
    given = {str(k).lower() for k in headers}
    return {**{k: v for k, v in defaults.items() if k.lower() not in given}, **headers}


def _protocol(protocol: WireProtocol | str | None) -> WireProtocol:
    """The protocol object: given, or made from a registered protocol's name, or chat completions.

    A name is looked up in the registry (``ellmer_py_register_protocols``), so a
    provider can speak a protocol another plugin brings.
    """
    if protocol is None:
        return OpenAIChat()
    if isinstance(protocol, str):
        from ._registry import get_protocol_spec

        made: WireProtocol = get_protocol_spec(protocol).factory()
        return made
    return protocol


def _no_credentials() -> CredentialValue:
    return {}


def build_chat(
    function: str,
    args: ChatArgs | None = None,
    *,
    name: str,
    model: str,
    base_url: str,
    protocol: WireProtocol | str | None = None,
    credentials: Credentials | None = None,
    default_credentials: Credentials | None = None,
    params: Params | None = None,
    api_args: Mapping[str, Any] | None = None,
    api_headers: Mapping[str, str] | None = None,
    system_prompt: str | None = None,
    echo: Echo | bool | None = None,
    system_prompt_fallback: SystemPromptFallback = "error",
    max_tries: int | None = None,
    timeout_s: float | None = None,
    limitations: Sequence[ModelLimitation] = (),
    auth_header: str = "Authorization",
    auth_prefix: str = "Bearer ",
    url_params: Mapping[str, str] | None = None,
    user_agent: str | None = None,
    prices: PriceSource | None = None,
    auth: Auth | None = None,
    batch: BatchApi | None = None,
    error_message: Callable[[bytes], str | None] | None = None,
) -> Chat:
    """The ``Chat`` a ``chat_<name>()`` constructor returns (R: ``Chat$new(provider = ...)``).

    ``function`` is the constructor's name, used in error messages. The
    user's ``credentials`` function (if any) is checked now and called per
    request; without it ``default_credentials`` is used (usually
    ``env_credentials(...)``, read at request time); with neither, requests
    carry no authentication. A key goes in ``auth_header`` after
    ``auth_prefix``. ``protocol`` is a protocol object, or the name of a
    registered protocol (made with its defaults). ``name`` is the provider's
    display name (in errors and ``repr``); ``limitations`` are the models' known limitations,
    ``url_params`` query parameters on every request, ``prices`` where
    answers get their cost; ``auth`` replaces the key-in-a-header scheme
    (request signing); ``batch`` is the provider's batch API, for
    ``batch_chat()``; ``error_message`` reads an error answer's body the
    provider's own way (a str, or None for the usual reading). ``args``
    carries the shared arguments at once (see :class:`ChatArgs`); a keyword
    given here wins over it. Reject
    ``api_key=`` with ``reject_api_key()`` before calling this, so that a key
    in code is reported first.
    """
    if args is not None:
        system_prompt = system_prompt if system_prompt is not None else args.system_prompt
        params = params if params is not None else args.params
        api_args = api_args if api_args is not None else args.api_args
        api_headers = api_headers if api_headers is not None else args.api_headers
        echo = echo if echo is not None else args.echo
        credentials = credentials if credentials is not None else args.credentials
        if system_prompt_fallback == "error":
            system_prompt_fallback = args.system_prompt_fallback
        max_tries = max_tries if max_tries is not None else args.max_tries
        timeout_s = timeout_s if timeout_s is not None else args.timeout_s
    creds: Credentials | None = None
    if credentials is not None or default_credentials is not None:
        creds = as_credentials(function, default_credentials or _no_credentials, credentials)
    transport_options: dict[str, Any] = {"max_tries": max_tries, "timeout_s": timeout_s}
    if user_agent is not None:
        transport_options["user_agent"] = user_agent
    if error_message is not None:
        transport_options["error_message"] = error_message
    extra: dict[str, Any] = {"auth": auth} if auth is not None else {}
    provider = Provider(
        name=name,
        model=model,
        base_url=base_url,
        protocol=_protocol(protocol),
        params=params,
        api_args=api_args if api_args is not None else {},
        api_headers=api_headers if api_headers is not None else {},
        credentials=creds,
        auth_header=auth_header,
        auth_prefix=auth_prefix,
        limitations=limitations,
        url_params=url_params if url_params is not None else {},
        transport=Transport(name, **transport_options),
        prices=prices,
        model_lister=partial(list_models_of, function),
        batch=batch,
        **extra,
    )
    return Chat(provider, system_prompt, echo, system_prompt_fallback=system_prompt_fallback)
