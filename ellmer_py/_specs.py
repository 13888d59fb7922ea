"""What a plugin registers: ``ProviderSpec`` and ``ProtocolSpec``.

The hook specs (ellmer_py._hookspecs) and the registry (ellmer_py._registry)
both speak of these; they live here so that neither needs the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

if TYPE_CHECKING:
    from ._chat import Chat
    from ._protocols.batch import BatchApi
    from ._provider import ModelLimitation

__all__ = ["ProtocolSpec", "ProviderSpec"]


def _base_url_kwargs(base_url: str) -> Mapping[str, Any]:
    return {"base_url": base_url}


@frozen
class ProviderSpec:
    """What a provider plugin tells the registry about itself.

    ``chat_function`` is the ``chat_<name>()`` constructor; it must accept
    ``model=`` and the common keyword arguments. ``models_function`` is its
    ``models_<name>()``, so that ``Provider.list_models()`` (and
    ``Chat.list_models()``) work for the chats it builds.
    """

    name: str
    chat_function: Callable[..., Chat] = field(repr=lambda f: getattr(f, "__name__", repr(f)))
    protocol: str = "openai-chat"
    default_base_url: str | None = None
    default_model: str | None = None
    #: Human-readable places the key may come from, in the order they are tried.
    credential_sources: Sequence[str] = ()
    #: The environment variables among them (empty: the provider needs no key).
    credential_env: Sequence[str] = ()
    limitations: Sequence[ModelLimitation] = ()
    description: str = ""
    #: Keyword arguments that point ``chat_function`` at another server (a
    #: fake one in the conformance suite), given that server's API root.
    conformance_kwargs: Callable[[str], Mapping[str, Any]] = field(
        default=_base_url_kwargs, repr=False
    )
    #: Set when the service is gone: ``chat_function`` raises an error saying so.
    retired: str | None = None
    #: The provider's ``models_<name>()`` (R: its ``models_list()`` method), or
    #: None where it has no model list. ``Provider.list_models()`` calls it
    #: with the keywords ``base_url`` (the chat's), ``credentials`` (the
    #: chat's: a key function, or the request signer's), ``api_headers``,
    #: ``max_tries`` and ``timeout_s``, so it must take those.
    models_function: Callable[..., Sequence[Any]] | None = field(
        default=None, repr=lambda f: getattr(f, "__name__", repr(f))
    )
    #: The provider's batch API (a ``BatchApi``, as its ``chat_<name>()`` passes
    #: to ``build_chat(batch=)``), or None: it names the providers
    #: ``batch_chat()`` works with and runs the conformance ``batch`` check.
    batch: BatchApi | None = field(default=None, repr=lambda b: str(getattr(b, "name", None)))


@frozen
class ProtocolSpec:
    """What a protocol plugin tells the registry about a wire protocol.

    ``factory`` makes the protocol object (its keywords are the protocol's
    options); ``fake`` is ``"module:attribute"`` of its conformance
    ``ProtocolFake``, so ``python -m ellmer_py.conformance`` can test every
    provider that speaks it.
    """

    name: str
    factory: Callable[..., Any] = field(repr=lambda f: getattr(f, "__name__", repr(f)))
    fake: str | None = None
    description: str = ""
