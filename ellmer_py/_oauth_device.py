"""OAuth 2.0 device sign-in with a token cache on disk (R: httr2's ``req_oauth_device()``).

A credentials function for providers that sign users in with the device
flow (RFC 8628), cached on disk as httr2's ``cache_disk = TRUE`` does: the
first request shows a URL and a code and waits until the user approves
the sign-in; the tokens are cached in a private file; later requests reuse
the access token, refresh it when it has expired, and sign in again when the
refresh is refused. The provider gives its login endpoints, client id and
scope; the cache file's name is a hash of the token URL, client id and
scope, so tokens for one server are never sent to another.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ._errors import MalformedResponseError, MissingCredentialsError
from ._transport import Transport

__all__ = ["DeviceFlowCredentials", "token_cache_dir"]

#: An access token this close to its expiry counts as expired (httr2: ``expiry_margin``).
EXPIRY_MARGIN_S = 30.0
#: The wait between polls when the server names none, and what ``slow_down`` adds (RFC 8628).
DEFAULT_INTERVAL_S = 5.0
SLOW_DOWN_S = 5.0
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}

# Module level so that tests can replace them: the wait between polls and its clock.
_sleep = time.sleep
_clock = time.monotonic

_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    """One lock per cache file, shared by every chat: parallel requests run one sign-in."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path, threading.Lock())


def token_cache_dir() -> Path:
    """Where OAuth tokens are cached: ``$XDG_CACHE_HOME`` (or ``~/.cache``)/ellmer-py/oauth."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "ellmer-py" / "oauth"


class DeviceFlowCredentials:
    """A credentials function: ``{"Authorization": "Bearer <access token>"}`` from a device sign-in.

    (R: httr2's ``req_oauth_device(cache_disk = TRUE)``.) Tokens are cached
    in a file of their own (mode 0600, replaced atomically); ``repr``,
    errors and logs never show a token. Pickles as its settings only: the
    unpickled copy reads the cache file again where it runs.
    """

    def __init__(
        self,
        *,
        auth_url: str,
        token_url: str,
        client_id: str,
        scope: str,
        name: str,
        provider: str,
        service: str,
    ) -> None:
        """``name`` is the cache folder's (R: the client's name); ``provider`` tags
        errors and ``service`` names the sign-in in what the user is shown."""
        self.auth_url = auth_url
        self.token_url = token_url
        self.client_id = client_id
        self.scope = scope
        self.name = name
        self.provider = provider
        self.service = service
        self._fresh()

    def _fresh(self) -> None:
        self._token: dict[str, Any] | None = None
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file _token came from

    def __repr__(self) -> str:
        return f"DeviceFlowCredentials(client_id={self.client_id!r}, token_url={self.token_url!r})"

    def __getstate__(self) -> dict[str, Any]:
        """The settings, without any token."""
        return {k: v for k, v in vars(self).items() if k not in ("_token", "_seen")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fresh()

    @property
    def path(self) -> Path:
        """The cache file of these tokens (worked out at each use: the environment may change)."""
        key = "\n".join((self.token_url, self.client_id, self.scope)).encode()
        digest = hashlib.sha256(key).hexdigest()[:20]
        return token_cache_dir() / self.name / f"{digest}-token.json"

    # -- the credentials function ----------------------------------------------------

    def __call__(self) -> dict[str, str]:
        """The ``Authorization`` header of a valid access token, signing in if need be."""
        path = self.path
        token = self._cached(path)
        if token is None or _expired(token):
            with _lock_for(path):
                token = self._cached(path)  # another thread may have signed in meanwhile
                if token is None or _expired(token):
                    token = self._renew(path, token)
        return {"Authorization": f"Bearer {token['access_token']}"}

    def available(self) -> bool:
        """Whether a request can authenticate without a sign-in (for ``has_credentials()``)."""
        token = self._cached(self.path)
        return token is not None and (not _expired(token) or bool(token.get("refresh_token")))

    def clear(self) -> None:
        """Forget the cached tokens, so that the next request signs in again."""
        self._fresh()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    # -- the cache file ----------------------------------------------------------------

    def _cached(self, path: Path) -> dict[str, Any] | None:
        """The cached token: kept in memory while the file is unchanged; None when there is none."""
        try:
            stat = path.stat()
        except OSError:
            # no file: none cached, unless it could not be written (then memory is all there is)
            return self._token if self._seen is None else None
        seen = (stat.st_mtime_ns, stat.st_size)
        if self._token is not None and seen == self._seen:
            return self._token
        try:
            if stat.st_mode & 0o077:
                path.chmod(0o600)  # a copied or restored cache file: keep it private
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None  # unreadable or corrupt: sign in again (it is overwritten then)
        if not isinstance(doc, dict) or not isinstance(doc.get("access_token"), str):
            return None
        self._token, self._seen = doc, seen
        return doc

    def _save(self, path: Path, token: dict[str, Any]) -> bool:
        """Write the token file atomically with mode 0600; in memory only if that fails."""
        self._token, self._seen = token, None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".token-", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(token, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o600)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            stat = path.stat()
        except OSError as exc:
            print(
                f"{self.service}: could not cache the sign-in in {path} ({type(exc).__name__}); "
                "it is kept for this session only.",
                file=sys.stderr,
            )
            return False
        self._seen = (stat.st_mtime_ns, stat.st_size)
        return True

    # -- getting a token -----------------------------------------------------------------

    def _renew(self, path: Path, expired: dict[str, Any] | None) -> dict[str, Any]:
        """A new token: refreshed when there is a refresh token and that works, else a sign-in."""
        transport = Transport(f"{self.service} login")
        try:
            refresh = expired.get("refresh_token") if expired is not None else None
            token = None
            if isinstance(refresh, str) and refresh:
                token = self._refresh(transport, refresh)
                if token is None:
                    self.clear()  # R clears the cache before trying again from scratch
            signed_in = token is None
            if token is None:
                token = self._device_flow(transport)
        finally:
            transport.close()
        if self._save(path, token) and signed_in:
            print(f"{self.service}: the sign-in is cached in {path}.", file=sys.stderr)
        return token

    def _post(self, transport: Transport, url: str, form: Mapping[str, str]) -> dict[str, Any]:
        """POST a form; the JSON answer, or the error raised as it came (see ``_oauth_error``)."""
        body = urlencode({**form, "client_id": self.client_id}).encode("ascii")
        data, _ = transport.request_bytes("POST", url, headers=_FORM, body=body)
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            doc = None
        if not isinstance(doc, dict):
            # not shown: a token endpoint's answer may hold a token
            raise MalformedResponseError(
                f"{self.service} login: the answer from {url} is not a JSON object (not shown, "
                "as it may hold a token).",
                provider=self.provider,
            )
        return doc

    def _refresh(self, transport: Transport, refresh_token: str) -> dict[str, Any] | None:
        """The refreshed token, or None when the login server refuses the refresh token."""
        transport.secrets.add([refresh_token])
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "scope": self.scope}
        try:
            doc = self._post(transport, self.token_url, form)
        except Exception as exc:
            if _oauth_error(exc) is None:
                raise  # the network or the server failed: not a reason to sign in again
            return None
        token = self._token_from(doc, "refresh")
        token.setdefault("refresh_token", refresh_token)  # R keeps the old one
        return token

    def _device_flow(self, transport: Transport) -> dict[str, Any]:
        """Sign in with the device flow (RFC 8628): show the URL and code, then poll."""
        try:
            start = self._post(transport, self.auth_url, {"scope": self.scope})
        except Exception as exc:
            code = _oauth_error(exc)
            if code is None:
                raise
            raise MissingCredentialsError(
                f"{self.service} refused to start a sign-in ({code}). Check that ellmer-py is "
                "up to date, or pass credentials=.",
                provider=self.provider,
            ) from None
        device_code, user_code = start.get("device_code"), start.get("user_code")
        url = (
            start.get("verification_uri_complete")
            or start.get("verification_uri")
            or start.get("verification_url")
        )
        if not all(isinstance(v, str) and v for v in (device_code, user_code, url)):
            raise MalformedResponseError(
                f"{self.service} login: the sign-in answer has no device_code, user_code or "
                "verification_uri; it cannot be used.",
                provider=self.provider,
            )
        assert isinstance(device_code, str) and isinstance(url, str)
        transport.secrets.add([device_code])
        _show(self.service, url, str(user_code))
        return self._poll(transport, device_code, url, start)

    def _poll(
        self, transport: Transport, device_code: str, url: str, start: Mapping[str, Any]
    ) -> dict[str, Any]:
        delay = _seconds(start.get("interval"), DEFAULT_INTERVAL_S)
        deadline = _clock() + _seconds(start.get("expires_in"), 900.0)
        form = {"grant_type": _DEVICE_GRANT, "device_code": device_code, "scope": self.scope}
        again = "Send the request again for a new code"
        while _clock() < deadline:
            _sleep(delay)
            try:
                return self._token_from(self._post(transport, self.token_url, form), "sign-in")
            except Exception as exc:
                code = _oauth_error(exc)
                if code == "authorization_pending":
                    continue
                if code == "slow_down":
                    delay += SLOW_DOWN_S
                    continue
                if code == "access_denied":
                    raise MissingCredentialsError(
                        f"The {self.service} sign-in was declined at {url}. {again}, and approve "
                        f"the sign-in with the account you use for {self.service} (or pass "
                        "credentials=).",
                        provider=self.provider,
                    ) from None
                if code == "expired_token":
                    break
                if code is not None:
                    raise MissingCredentialsError(
                        f"{self.service} refused the sign-in ({code}). {again}, or pass "
                        "credentials=.",
                        provider=self.provider,
                    ) from None
                raise
        raise MissingCredentialsError(
            f"The {self.service} sign-in code expired before it was approved. {again}, and "
            f"approve it at {url} before it expires.",
            provider=self.provider,
        )

    def _token_from(self, doc: Mapping[str, Any], what: str) -> dict[str, Any]:
        """The token to cache: access and refresh tokens, and when it expires (unix time)."""
        access = doc.get("access_token")
        if not isinstance(access, str) or not access.strip():
            raise MalformedResponseError(
                f"{self.service} login: the {what} answer has no access_token.",
                provider=self.provider,
            )
        token: dict[str, Any] = {"access_token": access.strip(), "token_type": "bearer"}
        expires_in = doc.get("expires_in")
        if isinstance(expires_in, str) and expires_in.strip().isdigit():
            expires_in = int(expires_in)  # httr2 reads it as a number either way
        if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
            token["expires_at"] = time.time() + float(expires_in)
        refresh = doc.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            token["refresh_token"] = refresh
        return token


def _expired(token: Mapping[str, Any]) -> bool:
    """Whether a token has expired, or will within :data:`EXPIRY_MARGIN_S` (httr2's rule)."""
    expires_at = token.get("expires_at")
    if not isinstance(expires_at, (int, float)):
        return False  # the server gave no lifetime: used until it is refused
    return time.time() + EXPIRY_MARGIN_S > expires_at


def _seconds(value: Any, default: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return default


def _oauth_error(exc: BaseException) -> str | None:
    """The OAuth error code (RFC 6749 5.2) of a 4xx answer: ``{"error": "<code>"}``; else None.

    ellmer-py's HTTP errors carry the status and the server's own message,
    which for an OAuth error body is its ``error`` string. Any other failure
    (no code, a 5xx, the network) is None: it is raised as it is, as httr2 does.
    """
    status, said = getattr(exc, "status", None), getattr(exc, "server_message", None)
    if not isinstance(status, int) or not 400 <= status < 500 or not isinstance(said, str):
        return None
    code = said.strip()
    return code if 0 < len(code) <= 64 and code.replace("_", "").isalnum() else None


def _interactive_terminal() -> bool:
    """An interactive interpreter at a terminal (R: ``is_interactive()``: R opens a browser)."""
    if not (hasattr(sys, "ps1") or sys.flags.interactive):
        return False
    return all(s is not None and s.isatty() for s in (sys.stdin, sys.stderr))


def _open_browser(url: str) -> bool:
    """Open ``url`` in a graphical browser; never a text-mode one that would take the terminal."""
    import webbrowser

    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    if type(browser) is webbrowser.GenericBrowser and not os.environ.get("BROWSER"):
        return False  # lynx, w3m, ... (found when there is no display)
    try:
        return bool(browser.open(url))
    except Exception:
        return False


def _show(service: str, url: str, user_code: str) -> None:
    """Say where to approve the sign-in, on stderr (R: a message); maybe open a browser."""
    if _interactive_terminal():
        print(f"Copy {user_code} and paste it when the browser asks for it.", file=sys.stderr)
        with contextlib.suppress(EOFError):
            input("Press <Enter> to open the browser: ")
        if _open_browser(url):
            print(f"Waiting for the {service} sign-in to be approved...", file=sys.stderr)
            return
    print(
        f"To sign in to {service}, visit <{url}> and enter the code {user_code}",
        file=sys.stderr,
        flush=True,
    )
