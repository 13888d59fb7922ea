"""Where AWS credentials and the region come from (R: ``paws.common::locate_credentials()``).

Nothing is read when a chain is made; :meth:`AwsCredentialChain.credentials`
resolves on first use and again once ``expiry - refresh_margin`` has passed:

1. ``AWS_ACCESS_KEY_ID`` + ``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``,
   ``AWS_CREDENTIAL_EXPIRATION``) from the environment; half a pair is an error.
2. The profile (argument, else ``AWS_PROFILE``, else ``AWS_DEFAULT_PROFILE``, else
   ``default``) in ``AWS_SHARED_CREDENTIALS_FILE`` (``~/.aws/credentials``, ``[name]``)
   and ``AWS_CONFIG_FILE`` (``~/.aws/config``, ``[profile name]``, ``[default]``), in
   botocore's order: credentials-file keys, ``credential_process`` (no shell, as in
   the AWS CLI), config-file keys. A profile with ``role_arn``, SSO or web identity
   is left to step 3, where botocore assumes the role before reading any key.
3. botocore's chain (SSO, assume-role, container, instance metadata) if the
   ``[aws]`` extra is installed; imported here only; it reads ``os.environ``.

As in the AWS CLI (R's paws.common lets environment keys win even over an explicit
profile), environment keys win over ``AWS_PROFILE`` but a ``profile`` argument wins
over them: code that names a profile means it. No key, secret or token is ever put
in a message, repr or log; a failing ``credential_process`` shows the first line of
its stderr, never its stdout.
"""

from __future__ import annotations

import configparser
import importlib
import json
import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from attrs import evolve

from ._errors import ConfigurationError, MissingCredentialsError
from ._sigv4 import AwsCredentials

__all__ = ["PIP_AWS", "AwsCredentialChain", "resolve_region"]

PIP_AWS = "pip install 'ellmer-py[aws]'"
#: Profile settings that only botocore can turn into credentials.
_BOTOCORE_ONLY = ("role_arn", "sso_session", "sso_start_url", "web_identity_token_file")
_ENV_PAIR = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
_FILE_PAIR = ("aws_access_key_id", "aws_secret_access_key")
_TOKEN = "aws_session_token"
Section = Mapping[str, str]
Ini = configparser.RawConfigParser


_utcnow: Callable[[], datetime] = partial(datetime.now, timezone.utc)


def _env(environ: Mapping[str, str] | None, name: str) -> str | None:
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None


def _profile_name(profile: str | None, environ: Mapping[str, str] | None) -> tuple[str, str]:
    """The profile to use and where its name came from."""
    if profile:
        return profile, "the profile argument"
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        if name := _env(environ, var):
            return name, var
    return "default", "the default"


def _paths(environ: Mapping[str, str] | None) -> tuple[Path, Path]:
    """The shared credentials file and the config file."""
    credentials = _env(environ, "AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    config = _env(environ, "AWS_CONFIG_FILE") or "~/.aws/config"
    return Path(credentials).expanduser(), Path(config).expanduser()


def _read_ini(path: Path) -> Ini | None:
    """The parsed file, or None if there is none; errors name the file and line, no value."""
    # Indented lines (AWS's nested sub-sections) are read as continuation lines.
    parser = configparser.RawConfigParser(
        interpolation=None, strict=False, default_section="\x00ellmer-no-default"
    )
    problem = None
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        problem = "it is not UTF-8 text"
    except OSError as exc:
        problem = f"it cannot be read ({exc.strerror or type(exc).__name__})"
    except configparser.Error as exc:
        lines = [getattr(exc, "lineno", None)] + [e[0] for e in getattr(exc, "errors", ())]
        found = sorted({n for n in lines if isinstance(n, int)})
        where = "line " + ", ".join(map(str, found)) if found else "an unknown line"
        problem = f"it is not a valid INI file at {where} ({type(exc).__name__})"
    if problem is not None:  # raised here, so that no value travels in __context__
        raise ConfigurationError(f"Cannot use the AWS file {path}: {problem}.")
    return parser


def _section(parser: Ini | None, name: str, config: bool = False) -> Section | None:
    """The profile's section: ``[name]``, or in the config file ``[profile name]``/``[default]``."""
    names = [f"profile {name}"] + (["default"] if name == "default" else []) if config else [name]
    found = [n for n in names if parser is not None and parser.has_section(n)]
    return dict(parser.items(found[0])) if parser is not None and found else None


def _state(parser: Ini | None, section: Section | None) -> str:
    return "no such file" if parser is None else "no such profile" if section is None else "no keys"


def _parse_time(value: object) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (a naive one is taken as UTC)."""
    if value is None or value == "":
        return None
    text = value.strip() if isinstance(value, str) else "not a string"
    return _as_utc(
        datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    )


def _as_utc(moment: datetime) -> datetime:
    naive = moment.tzinfo is None or moment.utcoffset() is None
    return moment.replace(tzinfo=timezone.utc) if naive else moment.astimezone(timezone.utc)


def _keys(
    key: str | None, secret: str | None, token: str | None, names: tuple[str, str], where: str
) -> AwsCredentials | None:
    """Credentials if both halves of the key are there; one without the other is an error."""
    if bool(key) != bool(secret):
        missing, present = names if not key else names[::-1]
        raise MissingCredentialsError(f"{present} is set {where} but {missing} is not.")
    return AwsCredentials(key, secret, token or None) if key and secret else None


def _from_env(environ: Mapping[str, str] | None) -> AwsCredentials | None:
    key, secret, token = (_env(environ, n) for n in (*_ENV_PAIR, "AWS_SESSION_TOKEN"))
    if (found := _keys(key, secret, token, _ENV_PAIR, "in the environment")) is None:
        return None
    try:
        expiry = _parse_time(_env(environ, "AWS_CREDENTIAL_EXPIRATION"))
    except ValueError:
        raise ConfigurationError("AWS_CREDENTIAL_EXPIRATION is not an ISO 8601 time.") from None
    return evolve(found, expiry=expiry)


def _static(section: Section | None, where: str) -> AwsCredentials | None:
    key, secret, token = ((section or {}).get(n, "").strip() for n in (*_FILE_PAIR, _TOKEN))
    return _keys(key, secret, token, _FILE_PAIR, where)


def _first_line(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line[:300]


def _run_process(command: str, profile: str, timeout: float) -> AwsCredentials:
    """Run ``credential_process``; its stdout (which holds secrets) is never shown."""
    what = f"The credential_process of AWS profile {profile!r}"
    try:  # Windows' CreateProcess splits a command line itself
        argv: str | list[str] = command if os.name == "nt" else shlex.split(command)
    except ValueError as exc:
        raise ConfigurationError(f"{what} cannot be split into words ({exc}).") from None
    if not argv:
        raise ConfigurationError(f"{what} is empty.")
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        problem = f"did not finish within {timeout:g} s"
    except OSError as exc:
        program = f" {exc.filename!r}" if isinstance(exc.filename, str) else ""
        problem = f"could not start{program} ({exc.strerror or type(exc).__name__})"
    else:
        problem, found = _parse_process(done)
        if found is not None:
            return found
    raise MissingCredentialsError(f"{what} failed: {problem}.")


def _parse_process(done: subprocess.CompletedProcess[bytes]) -> tuple[str, AwsCredentials | None]:
    if done.returncode != 0:
        line = _first_line(done.stderr)
        return f"exit status {done.returncode}" + (f": {line}" if line else ""), None
    try:
        data = json.loads(done.stdout)
    except ValueError:
        return "it did not print JSON", None
    if not isinstance(data, dict):
        return "it did not print a JSON object", None
    if data.get("Version") != 1:
        return "its JSON does not have Version 1", None
    fields = ("AccessKeyId", "SecretAccessKey")
    missing = [f for f in fields if not isinstance(data.get(f), str) or not data[f]]
    token = data.get("SessionToken") or None
    if not isinstance(token, (str, type(None))):
        missing.append("SessionToken (a string)")
    if missing:
        return "its JSON lacks " + ", ".join(missing), None
    try:
        expiry = _parse_time(data.get("Expiration"))
    except ValueError:
        return "its Expiration is not an ISO 8601 time", None
    return "", AwsCredentials(data["AccessKeyId"], data["SecretAccessKey"], token, expiry)


def _import_botocore() -> ModuleType | None:
    """botocore.session if the ``[aws]`` extra is installed (tests replace this)."""
    try:
        return importlib.import_module("botocore.session")
    except ImportError:
        return None


def _from_botocore(
    session_module: ModuleType, profile: str | None, paths: tuple[Path, Path]
) -> AwsCredentials | None:
    errors = importlib.import_module("botocore.exceptions")
    session = session_module.Session(profile=profile)
    session.set_config_variable("credentials_file", str(paths[0]))
    session.set_config_variable("config_file", str(paths[1]))
    problem = None
    try:
        found: Any = session.get_credentials()
        frozen = None if found is None else found.get_frozen_credentials()
    except errors.ProfileNotFound:
        return None
    except errors.BotoCoreError as exc:  # its message may hold a process's whole stderr
        problem = f"{type(exc).__name__}: {_first_line(str(exc))}"
    if problem is not None:
        raise MissingCredentialsError(f"botocore could not get AWS credentials ({problem}).")
    if frozen is None or not frozen.access_key or not frozen.secret_key:
        return None
    expiry = getattr(found, "_expiry_time", None)  # set on refreshable credentials only
    expiry = _as_utc(expiry) if isinstance(expiry, datetime) else None
    return AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token or None, expiry)


def resolve_region(
    profile: str | None = None, *, environ: Mapping[str, str] | None = None
) -> str | None:
    """``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else the profile's ``region``; else None."""
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if value := _env(environ, var):
            return value
    name, _ = _profile_name(profile, environ)
    section = _section(_read_ini(_paths(environ)[1]), name, config=True)
    return (section or {}).get("region", "").strip() or None


class AwsCredentialChain:
    """AWS credentials, resolved on first use in the module's order and cached until expiry.

    ``environ`` (default: ``os.environ``, read at each resolution) is where
    the ``AWS_*`` variables come from; ``clock`` returns an aware UTC now.
    """

    def __init__(
        self,
        profile: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        refresh_margin: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = _utcnow,
        process_timeout: float = 60.0,
    ) -> None:
        self.profile = profile
        self._environ = environ
        self._margin = refresh_margin
        self._clock = clock
        self._timeout = process_timeout
        self._lock = threading.Lock()
        self._cached: AwsCredentials | None = None

    def __repr__(self) -> str:
        return f"AwsCredentialChain(profile={self.profile!r})"

    def __getstate__(self) -> dict[str, Any]:
        """Where credentials come from, never the cached ones: they are resolved again."""
        from ._pickling import UnpicklableError, require_by_reference

        if self._environ is not None:  # it may hold AWS_SECRET_ACCESS_KEY
            raise UnpicklableError(
                "Cannot pickle an AwsCredentialChain made with environ=, which may hold keys; "
                "leave environ= out so that it reads the environment where it runs."
            )
        require_by_reference(
            self._clock, "the clock of an AwsCredentialChain", "Define it at module level."
        )
        return {k: v for k, v in vars(self).items() if k not in ("_lock", "_cached")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock(), _cached=None)

    def __deepcopy__(self, memo: dict[int, Any]) -> AwsCredentialChain:
        """A chain with its own lock, sharing the (immutable) cached credentials."""
        new = object.__new__(type(self))
        new.__dict__.update(vars(self), _lock=threading.Lock())
        return new

    def credentials(self) -> AwsCredentials:
        """The cached credentials, or new ones once they are due to expire."""
        with self._lock:
            cached = self._cached
            if cached is None or (
                cached.expiry is not None and self._clock() >= cached.expiry - self._margin
            ):
                self._cached = cached = self._resolve()
            return cached

    def _resolve(self) -> AwsCredentials:
        environ, looked = self._environ, list[str]()
        env_vars = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN)"
        if self.profile:
            looked.append(f"environment variables {env_vars}: skipped, a profile was passed")
        elif found := _from_env(environ):
            return found
        else:
            looked.append(f"environment variables {env_vars}: not set")
        name, origin = _profile_name(self.profile, environ)
        paths = _paths(environ)
        files = _read_ini(paths[0]), _read_ini(paths[1])
        in_credentials, in_config = _section(files[0], name), _section(files[1], name, True)
        merged = {**(in_config or {}), **(in_credentials or {})}
        deferred = [key for key in _BOTOCORE_ONLY if merged.get(key)]
        process = merged.get("credential_process", "").strip()
        if not deferred:
            found = (
                _static(in_credentials, f"in profile {name!r} of {paths[0]}")
                or (_run_process(process, name, self._timeout) if process else None)
                or _static(in_config, f"in profile {name!r} of {paths[1]}")
            )
            if found is not None:
                return found
        looked.append(
            f"profile {name!r} ({origin}) in the shared credentials file {paths[0]} "
            f"({_state(files[0], in_credentials)}) and the config file {paths[1]} "
            f"({_state(files[1], in_config)})"
        )
        if deferred:
            looked.append(f"the profile uses {', '.join(deferred)}, which only botocore handles")
        else:
            looked.append("credential_process: not set in the profile")
        session_module = _import_botocore()
        if session_module is None:
            looked.append(f"for SSO, assume-role, instance or container credentials: {PIP_AWS}")
        else:
            botocore_profile = None if origin == "the default" else name
            if found := _from_botocore(session_module, botocore_profile, paths):
                return found
            looked.append("botocore's chain found nothing")
        steps = "\n".join(f"  {i}. {line}" for i, line in enumerate(looked, 1))
        raise MissingCredentialsError(f"No AWS credentials found. Looked for, in order:\n{steps}")
