"""Are a provider's credentials available? (R: ``has_credentials()``).

R uses it to skip examples and tests that need a key; it knows three
providers by their environment variables. Here any registered provider
works, by name, and so does a chat or a provider object, by the credentials
it would send. The answer is a bool: the key is never returned, shown or
logged, and no request is sent to the provider.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

from ._credentials import CheckedCredentials
from ._errors import ConfigurationError

if TYPE_CHECKING:
    from ._provider import Provider
    from ._specs import ProviderSpec

__all__ = ["has_credentials"]

#: The model asked for when a provider's chat is made just to find its credentials
#: and the provider has no default model (no request is sent, so none is needed).
_PROBE_MODEL = "has-credentials-probe"


def has_credentials(provider: Any) -> bool:
    """Whether the credentials of ``provider`` can be found (R: ``has_credentials()``).

    ``provider`` is a registered provider's name (``"openai"``, ``"claude"``,
    ``"huggingface"``, see ``list_providers()``), a ``Chat`` or a
    ``Provider``. For a name: True when one of the provider's
    ``ProviderSpec.credential_env`` variables is set; otherwise the
    provider's own default credentials are looked for (for Hugging Face, the
    token file that ``huggingface-cli login`` writes; for Posit AI, a cached
    sign-in), and a provider that needs no key (``"ollama"``) has them. For
    a chat or provider: True when the credentials it sends can be found --
    a key from the environment or a token file, or a ``credentials=``
    function (checked when the chat was made; not called again here, since
    it may fetch a token).

    A credentials object may define ``available()`` to answer without
    fetching anything; otherwise a plugin's default credentials are looked
    up as the first request would (for AWS, its credential chain). An
    unknown name raises ConfigurationError, as in R.
    """
    from ._chat import Chat
    from ._provider import Provider

    if isinstance(provider, str):
        return _spec_has_credentials(provider)
    if isinstance(provider, Chat):
        return _provider_has_credentials(provider.get_provider())
    if isinstance(provider, Provider):
        return _provider_has_credentials(provider)
    raise ConfigurationError(
        "has_credentials() needs a provider name such as 'openai' (see list_providers()), "
        f"a Chat or a Provider, not {type(provider).__name__}."
    )


def _env_is_set(names: Any) -> bool:
    return any(os.environ.get(name, "").strip() for name in names)


def _spec_has_credentials(name: str) -> bool:
    from ._registry import get_provider_spec

    spec = get_provider_spec(name)
    if spec.retired is not None:
        return False
    if _env_is_set(spec.credential_env):
        return True
    if not spec.credential_env and not spec.credential_sources:
        return True  # it names no credential at all: known without making a chat
    chat = _default_chat(spec)
    if chat is None:  # can't be made here (it needs a base URL, say): keyless or not
        return not spec.credential_env
    return _provider_has_credentials(chat.get_provider())


def _default_chat(spec: ProviderSpec) -> Any:
    """The provider's chat with its default credentials, or None if it can't be made here.

    Making a chat sends nothing; it fails where the provider needs more than
    a model (a base URL, an endpoint, a region), which then can't be used as
    it is anyway.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return spec.chat_function(model=spec.default_model or _PROBE_MODEL)
    except Exception:
        return None


def _provider_has_credentials(provider: Provider) -> bool:
    source = provider.credentials
    if source is None:
        source = getattr(provider.auth, "credentials", None)
    if source is None:
        return True  # sends no credentials, so needs none
    available = getattr(source, "available", None)
    if callable(available):
        return bool(available())
    if isinstance(source, CheckedCredentials):
        return True  # the user's function, checked when the chat was made
    if callable(source):  # an EnvCredentials, or a plugin's own default
        try:
            source()  # the key (or headers) is dropped here, never kept or shown
        except Exception:
            return False
        return True
    return False
