"""Where a provider's credential comes from (R: ``as_credentials()``, ``key_get()``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ._errors import ConfigurationError, DeprecatedArgumentError, MissingCredentialsError

__all__ = [
    "CredentialValue",
    "Credentials",
    "as_credentials",
    "auth_headers",
    "env_credentials",
    "reject_api_key",
]

#: What a credentials function returns: a key, or headers to send.
CredentialValue = str | Mapping[str, str]
Credentials = Callable[[], CredentialValue]


def reject_api_key(function: str, api_key: object, *, env: Sequence[str] = ()) -> None:
    """Raise DeprecatedArgumentError if ``api_key`` was given; never echo it.

    R's ellmer deprecated ``api_key`` with a warning; ellmer-py refuses it
    outright so that keys stop living in source code.
    """
    if api_key is None:
        return
    names = " or ".join(env)
    instead = f"Set the {names} environment variable, or pass " if env else "Pass "
    raise DeprecatedArgumentError(
        f"{function}(api_key=...) is deprecated and not accepted by ellmer-py, so that keys "
        f"stay out of code. {instead}"
        "credentials=, a function that returns the key "
        "(for example credentials=lambda: os.environ['MY_KEY'])."
    )


def _check_value(function: str, value: object) -> CredentialValue:
    if isinstance(value, str):
        if not value:
            raise ConfigurationError(
                f"{function}(credentials=...) returned an empty key; check where the "
                "function reads it from (an unset environment variable?)."
            )
        return value
    if isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return value
    raise ConfigurationError(
        f"{function}(credentials=...) must return a key (a string) or a dict of header "
        f"names to values, not {type(value).__name__}."
    )


def as_credentials(
    function: str,
    default: Credentials,
    credentials: Credentials | None = None,
    api_key: object = None,
    *,
    env: Sequence[str] = (),
) -> Credentials:
    """Pick and check the credentials a constructor will use (R: ``as_credentials()``).

    A user's ``credentials`` function is called once here, so a mistake shows
    at construction, and again before every request, so rotating tokens work.
    The ``default`` (usually environment variables) is only read at request time.
    """
    reject_api_key(function, api_key, env=env)
    if credentials is None:
        return default
    if not callable(credentials):
        raise ConfigurationError(
            f"{function}(credentials=...) must be a function with no arguments that returns "
            "a key or a dict of headers; to use a fixed key, pass credentials=lambda: key."
        )

    def checked() -> CredentialValue:
        return _check_value(function, credentials())

    checked()
    return checked


def env_credentials(
    provider: str,
    names: Sequence[str],
    *,
    token_files: Callable[[], Sequence[Path]] | Sequence[Path] = (),
    hint: str = "",
) -> Credentials:
    """A credentials function reading the first set env var, then token files.

    ``token_files`` may be a function, so that paths depending on the
    environment (``$HF_HOME``) are worked out at request time too.
    """

    def read() -> str:
        files = token_files() if callable(token_files) else token_files
        for name in names:
            value = os.environ.get(name, "").strip()
            if value:
                return value
        for path in files:
            try:
                value = path.expanduser().read_text(encoding="utf-8").strip()
            except OSError:
                continue
            if value:
                return value
        places = [f"the {n} environment variable" for n in names]
        places += [f"the token file {p}" for p in files]
        where = ", ".join(places[:-1]) + (" or " if len(places) > 1 else "") + places[-1]
        raise MissingCredentialsError(
            f"No {provider} credentials found: set {where}, or pass credentials=.{hint}",
            provider=provider,
        )

    return read


def auth_headers(
    value: CredentialValue, header: str = "Authorization", prefix: str = "Bearer "
) -> dict[str, str]:
    """Headers for a credential: a key goes in ``header``; a dict is used as it is."""
    if isinstance(value, str):
        return {header: f"{prefix}{value}"}
    return dict(value)
