"""Where a provider's credential comes from (R: ``as_credentials()``, ``key_get()``)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ._errors import ConfigurationError, DeprecatedArgumentError, MissingCredentialsError
from ._pickling import CopiedAsItself, require_by_reference

__all__ = [
    "CheckedCredentials",
    "CredentialValue",
    "Credentials",
    "EnvCredentials",
    "as_credentials",
    "auth_headers",
    "check_headers",
    "env_credentials",
    "header_problem",
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


#: An HTTP header name (RFC 9110 ``token``).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIX = (
    "A key must be one line of printable characters (a key read from a file with "
    "open(path).read() is stripped of its line ends, but not of what is inside it)."
)


def header_problem(value: str) -> str | None:
    """What makes ``value`` unusable in an HTTP header, in words that show none of it."""
    if value.isascii() and value.isprintable():
        return None  # the usual case
    for char in value:
        if char in "\r\n":
            return "a line break"
        if char != "\t" and (char < " " or char == "\x7f"):
            return "a control character"
        if ord(char) > 0xFF:
            return "a character outside Latin-1 (such as an emoji or a curly quote)"
    return None


def _checked_headers(value: Mapping[str, str], where: str) -> dict[str, str]:
    """Header names and values from ``where``, stripped and checked; an error shows none of them."""
    out: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name.strip()):
            raise ConfigurationError(
                f"{where} has a header name that is not a valid HTTP header name (letters, "
                "digits and -_.!#$%&'*+^`|~ only; the name is not shown in case it holds a key)."
            )
        if not isinstance(text, str):
            raise ConfigurationError(
                f"{where}: the value of header {name.strip()!r} must be a string, "
                f"not {type(text).__name__}."
            )
        problem = header_problem(text.strip())
        if problem is not None:
            raise ConfigurationError(
                f"{where}: the value of header {name.strip()!r} contains {problem}, so it "
                f"cannot be sent (the value is not shown). {_FIX}"
            )
        out[name.strip()] = text.strip()
    return out


def check_headers(headers: Mapping[str, str], provider: str | None = None) -> None:
    """Raise ConfigurationError for a header that cannot be sent; the error shows no value."""
    for name, value in headers.items():
        if (
            isinstance(name, str)
            and isinstance(value, str)
            and value.isascii()
            and value.isprintable()
            and _HEADER_NAME.fullmatch(name)
        ):
            continue
        try:
            _checked_headers({name: value}, "The request")
        except ConfigurationError as exc:
            if provider:
                exc.provider = provider
                exc.message = f"{provider}: {exc.message}"
                exc.args = (exc.message,)
            raise


def checked_key(key: str, where: str) -> str:
    """``key`` without surrounding white space; ConfigurationError if it can't be sent."""
    key = key.strip()
    if not key:
        raise ConfigurationError(
            f"{where} is empty; check where it is read from (an unset environment variable?)."
        )
    problem = header_problem(key)
    if problem is not None:
        raise ConfigurationError(
            f"{where} contains {problem}, so it cannot be sent (no part of it is shown). {_FIX}"
        )
    return key


def _check_value(function: str, value: object) -> CredentialValue:
    if isinstance(value, str):
        if not value.strip():
            raise ConfigurationError(
                f"{function}(credentials=...) returned an empty key; check where the "
                "function reads it from (an unset environment variable?)."
            )
        return checked_key(value, f"The key returned by {function}(credentials=...)")
    if isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return _checked_headers(value, f"The headers returned by {function}(credentials=...)")
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

    checked = CheckedCredentials(function, credentials)
    checked()
    return checked


#: What to do about credentials that cannot be pickled.
PICKLE_FIX = (
    "To pickle the chat, pass credentials= a function defined at module level that reads "
    "the key where the chat runs (from an environment variable or a file)."
)


class CheckedCredentials(CopiedAsItself):
    """A user's credentials function; what it returns is checked before every request.

    Pickles as the name of the user's function (``credentials=`` must be
    defined at module level): a lambda or nested function, which may hold
    the key in its variables, is refused with a message saying so.
    """

    def __init__(self, function: str, credentials: Credentials) -> None:
        self.function = function
        self.credentials = credentials

    def __repr__(self) -> str:
        return f"CheckedCredentials(function={self.function!r})"

    def __call__(self) -> CredentialValue:
        return _check_value(self.function, self.credentials())

    def __getstate__(self) -> dict[str, object]:
        require_by_reference(self.credentials, f"{self.function}(credentials=...)", PICKLE_FIX)
        return dict(vars(self))


def env_credentials(
    provider: str,
    names: Sequence[str],
    *,
    token_files: Callable[[], Sequence[Path]] | Sequence[Path] = (),
    hint: str = "",
    optional: bool = False,
) -> Credentials:
    """A credentials function reading the first set env var, then token files.

    ``token_files`` may be a function, so that paths depending on the
    environment (``$HF_HOME``) are worked out at request time too. With
    ``optional`` (a local server that wants a key only behind a proxy),
    finding none means sending no authentication rather than an error.
    """
    return EnvCredentials(provider, tuple(names), token_files, hint, optional)


class EnvCredentials(CopiedAsItself):
    """A key from the first set environment variable, else the first token file with one.

    (R: ``key_get()``.) Read at every request; it holds only where the key
    comes from, so it pickles (a ``token_files`` function by its name) and
    reads the key again where it is unpickled.
    """

    optional = False  # (also for one pickled before there was this setting)

    def __init__(
        self,
        provider: str,
        names: Sequence[str],
        token_files: Callable[[], Sequence[Path]] | Sequence[Path] = (),
        hint: str = "",
        optional: bool = False,
    ) -> None:
        self.provider = provider
        self.names = tuple(names)
        self.token_files = token_files if callable(token_files) else tuple(token_files)
        self.hint = hint
        self.optional = optional

    def __repr__(self) -> str:
        return f"EnvCredentials(provider={self.provider!r}, names={self.names!r})"

    def __getstate__(self) -> dict[str, object]:
        fix = "Define it at module level."
        require_by_reference(self.token_files, f"The token_files of {self.provider}", fix)
        return dict(vars(self))

    def __call__(self) -> CredentialValue:
        provider, names = self.provider, self.names
        files = self.token_files() if callable(self.token_files) else self.token_files
        for name in names:
            value = os.environ.get(name, "").strip()
            if value:
                return checked_key(value, f"{provider}: the key in the {name} environment variable")
        for path in files:
            try:
                value = path.expanduser().read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                continue
            if value:
                return checked_key(value, f"{provider}: the key in the token file {path}")
        if self.optional:
            return {}  # no key: no authentication
        places = [f"the {n} environment variable" for n in names]
        places += [f"the token file {p}" for p in files]
        where = ", ".join(places[:-1]) + (" or " if len(places) > 1 else "") + places[-1]
        raise MissingCredentialsError(
            f"No {provider} credentials found: set {where}, or pass credentials=.{self.hint}",
            provider=provider,
        )


def auth_headers(
    value: CredentialValue, header: str = "Authorization", prefix: str = "Bearer "
) -> dict[str, str]:
    """Headers for a credential: a key goes in ``header``; a dict is used as it is.

    Surrounding white space is stripped; a key or header that cannot be sent
    (a line break, a control character, a character outside Latin-1) is a
    ConfigurationError that shows no part of it.
    """
    if isinstance(value, str):
        return {header: f"{prefix}{checked_key(value, f'The key for the {header} header')}"}
    if isinstance(value, Mapping):
        return _checked_headers(value, "The headers from credentials=")
    raise ConfigurationError(
        "credentials= must return a key (a string) or a dict of header names to values, "
        f"not {type(value).__name__}."
    )
