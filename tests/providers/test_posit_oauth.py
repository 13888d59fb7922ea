"""The Posit AI sign-in (R: ``default_posit_credentials()``, httr2's ``req_oauth_device()``).

A loopback :class:`FakeServer` plays login.posit.cloud: the device
authorization endpoint and the token endpoint (RFC 8628, RFC 6749 errors
as ``400 {"error": "<code>"}``). The login URLs are the module constants
the plugin reads (``monkeypatch.setattr``), the cache folder is a
temporary ``XDG_CACHE_HOME``, and the wait between polls is recorded
instead of slept.
"""

from __future__ import annotations

import json
import pickle
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from ellmer_py import MalformedResponseError, MissingCredentialsError, ServerError, _oauth_device
from ellmer_py._oauth_device import DeviceFlowCredentials, token_cache_dir
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply
from ellmer_py.providers import posit
from ellmer_py.providers.posit import posit_credentials, posit_oauth_reset

ACCESS = "posit-access-token-do-not-show-0123456789"
NEW_ACCESS = "posit-refreshed-access-token-do-not-show-987"
REFRESH = "posit-refresh-token-do-not-show-abcdef"
DEVICE = "posit-device-code-do-not-show-55aa"
USER_CODE = "WDJB-MJHT"
VERIFY = "https://login.posit.cloud/device"
SECRETS = (ACCESS, NEW_ACCESS, REFRESH, DEVICE)


def device(interval: int = 2, expires_in: int = 900, **extra: Any) -> Reply:
    """The device authorization answer (RFC 8628 3.2)."""
    return Reply.json(
        {
            "device_code": DEVICE,
            "user_code": USER_CODE,
            "verification_uri": VERIFY,
            "verification_uri_complete": f"{VERIFY}?user_code={USER_CODE}",
            "expires_in": expires_in,
            "interval": interval,
            **extra,
        }
    )


def oauth_error(code: str, status: int = 400) -> Reply:
    return Reply.json({"error": code, "error_description": f"about {code}"}, status=status)


def token(access: str = ACCESS, refresh: str | None = REFRESH, expires_in: int = 3600) -> Reply:
    doc: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "scope": "prism"}
    doc["expires_in"] = expires_in
    if refresh is not None:
        doc["refresh_token"] = refresh
    return Reply.json(doc)


def form(request: RecordedRequest) -> dict[str, str]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return {k: v[0] for k, v in parse_qs(request.text, strict_parsing=True).items()}


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "5")


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    with FakeServer() as server:
        monkeypatch.setattr(posit, "AUTH_URL", f"{server.url}/oauth/device/authorize")
        monkeypatch.setattr(posit, "TOKEN_URL", f"{server.url}/oauth/token")
        yield server
    assert not server.errors, server.errors


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between polls; a fake clock moves by each of them."""
    waited: list[float] = []
    now = [1000.0]
    monkeypatch.setattr(
        _oauth_device, "_sleep", lambda s: (waited.append(s), now.__setitem__(0, now[0] + s))
    )
    monkeypatch.setattr(_oauth_device, "_clock", lambda: now[0])
    return waited


def cache_file() -> Path:
    return posit_credentials().path


def write_cache(**fields: Any) -> Path:
    path = cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"access_token": ACCESS, "token_type": "bearer", **fields}))
    path.chmod(0o600)
    return path


def no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# -- the device flow ---------------------------------------------------------------------


def test_the_device_flow_waits_through_pending_and_slow_down(
    login: FakeServer, sleeps: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    login.enqueue(
        device(interval=2),
        oauth_error("authorization_pending"),
        oauth_error("authorization_pending"),
        oauth_error("slow_down"),
        token(),
    )
    assert posit_credentials()() == {"Authorization": f"Bearer {ACCESS}"}
    # the interval before each poll; slow_down adds 5 seconds from then on (RFC 8628 3.5)
    assert sleeps == [2, 2, 2, 7]
    start, *polls = login.requests
    assert (start.method, start.path) == ("POST", "/oauth/device/authorize")
    assert form(start) == {"client_id": "rstudio-ide", "scope": "prism"}
    assert start.headers["accept"] == "application/json"
    assert [p.path for p in polls] == ["/oauth/token"] * 4
    for poll in polls:
        assert form(poll) == {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": DEVICE,
            "client_id": "rstudio-ide",
            "scope": "prism",  # posit.cloud needs it on the token request too
        }
    err = capsys.readouterr().err
    assert f"<{VERIFY}?user_code={USER_CODE}>" in err and USER_CODE in err
    no_secret_in(err)


def test_without_an_interval_polls_every_five_seconds(
    login: FakeServer, sleeps: list[float]
) -> None:
    start = device()
    body = json.loads(start.body)
    del body["interval"], body["verification_uri_complete"]
    login.enqueue(Reply.json(body), oauth_error("authorization_pending"), token())
    posit_credentials()()
    assert sleeps == [5, 5]


def test_access_denied_says_what_to_do(login: FakeServer, sleeps: list[float]) -> None:
    login.enqueue(device(), oauth_error("authorization_pending"), oauth_error("access_denied"))
    with pytest.raises(MissingCredentialsError) as info:
        posit_credentials()()
    message = str(info.value)
    assert "declined" in message and "again" in message and "credentials=" in message
    no_secret_in(message)
    assert not cache_file().exists()
    assert len(login.requests) == 3


def test_expired_token_says_to_start_again(login: FakeServer, sleeps: list[float]) -> None:
    login.enqueue(device(), oauth_error("expired_token"))
    with pytest.raises(MissingCredentialsError, match="expired before it was approved") as info:
        posit_credentials()()
    assert "again" in str(info.value)
    no_secret_in(str(info.value))
    assert not cache_file().exists()


def test_the_code_expires_when_its_time_is_up(login: FakeServer, sleeps: list[float]) -> None:
    login.enqueue(device(interval=2, expires_in=5))
    login.default = oauth_error("authorization_pending")
    with pytest.raises(MissingCredentialsError, match="expired before it was approved"):
        posit_credentials()()
    assert sleeps == [2, 2, 2]  # polls at 2 and 4 s, and the wait that passes 5 s
    assert len(login.requests) == 1 + 3


def test_another_oauth_error_is_named(login: FakeServer, sleeps: list[float]) -> None:
    login.enqueue(device(), oauth_error("invalid_client", status=401))
    with pytest.raises(MissingCredentialsError, match=r"refused the sign-in \(invalid_client\)"):
        posit_credentials()()


def test_an_answer_that_is_not_json_is_never_shown(login: FakeServer, sleeps: list[float]) -> None:
    login.enqueue(device(), Reply(status=200, chunks=(f"access_token={ACCESS}".encode(),)))
    with pytest.raises(MalformedResponseError) as info:
        posit_credentials()()
    no_secret_in(str(info.value))


def test_an_interactive_terminal_opens_the_browser(
    login: FakeServer, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(_oauth_device, "_interactive_terminal", lambda: True)
    monkeypatch.setattr(_oauth_device, "_open_browser", lambda url: opened.append(url) or True)
    monkeypatch.setattr("builtins.input", lambda prompt="": "")
    login.enqueue(device(), token())
    posit_credentials()()
    assert opened == [f"{VERIFY}?user_code={USER_CODE}"]


def test_parallel_requests_sign_in_once(login: FakeServer, sleeps: list[float]) -> None:
    login.enqueue(device(), Reply.json(json.loads(token().body), delay=0.3))
    results: list[dict[str, str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(posit_credentials()())) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [{"Authorization": f"Bearer {ACCESS}"}] * 4
    assert len(login.requests) == 2


# -- the cache on disk ---------------------------------------------------------------------


def test_the_cache_file_is_private_and_reused(login: FakeServer, sleeps: list[float]) -> None:
    login.enqueue(device(), token())
    posit_credentials()()
    path = cache_file()
    assert path.is_relative_to(token_cache_dir()) and "ellmer-py" in path.parts
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not [p for p in path.parent.iterdir() if p != path]  # no temporary file left
    saved = json.loads(path.read_text())
    assert saved["access_token"] == ACCESS and saved["refresh_token"] == REFRESH
    assert saved["expires_at"] == pytest.approx(time.time() + 3600, abs=60)
    # another chat, another process: the cached token, no sign-in
    assert posit_credentials()() == {"Authorization": f"Bearer {ACCESS}"}
    assert pickle.loads(pickle.dumps(posit_credentials()))() == {
        "Authorization": f"Bearer {ACCESS}"
    }
    assert len(login.requests) == 2


def test_the_cache_folder_is_xdg_cache_home_or_dot_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert token_cache_dir() == tmp_path / "cache" / "ellmer-py" / "oauth"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert token_cache_dir() == tmp_path / "home" / ".cache" / "ellmer-py" / "oauth"


def test_a_cache_for_another_login_server_is_not_used(login: FakeServer) -> None:
    here = posit_credentials().path
    real = DeviceFlowCredentials(
        auth_url="https://login.posit.cloud/oauth/device/authorize",
        token_url="https://login.posit.cloud/oauth/token",
        client_id="rstudio-ide",
        scope="prism",
        name="ellmer-posit",
        provider="Posit",
        service="Posit AI",
    ).path
    assert here != real and here.parent == real.parent


def test_an_expired_token_is_refreshed(login: FakeServer, sleeps: list[float]) -> None:
    write_cache(expires_at=time.time() + 10, refresh_token=REFRESH)  # within the 30 s margin
    login.enqueue(token(NEW_ACCESS, refresh=None))
    assert posit_credentials()() == {"Authorization": f"Bearer {NEW_ACCESS}"}
    (request,) = login.requests
    assert request.path == "/oauth/token"
    assert form(request) == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": "rstudio-ide",
        "scope": "prism",
    }
    saved = json.loads(cache_file().read_text())
    assert saved["access_token"] == NEW_ACCESS
    assert saved["refresh_token"] == REFRESH  # kept when the server sends no new one
    assert stat.S_IMODE(cache_file().stat().st_mode) == 0o600
    assert sleeps == []


def test_a_failed_refresh_falls_back_to_the_device_flow(
    login: FakeServer, sleeps: list[float]
) -> None:
    write_cache(expires_at=time.time() - 5, refresh_token=REFRESH)
    login.enqueue(oauth_error("invalid_grant"), device(), token(NEW_ACCESS))
    assert posit_credentials()() == {"Authorization": f"Bearer {NEW_ACCESS}"}
    assert [r.path for r in login.requests] == [
        "/oauth/token",
        "/oauth/device/authorize",
        "/oauth/token",
    ]
    assert json.loads(cache_file().read_text())["access_token"] == NEW_ACCESS


def test_an_expired_token_without_a_refresh_token_signs_in(
    login: FakeServer, sleeps: list[float]
) -> None:
    write_cache(expires_at=time.time() - 5)
    login.enqueue(device(), token(NEW_ACCESS))
    assert posit_credentials()() == {"Authorization": f"Bearer {NEW_ACCESS}"}
    assert login.requests[0].path == "/oauth/device/authorize"


def test_a_login_server_failure_is_raised_and_never_shows_the_refresh_token(
    login: FakeServer, sleeps: list[float]
) -> None:
    write_cache(expires_at=time.time() - 5, refresh_token=REFRESH)
    login.enqueue(Reply.json({"error": {"message": f"bad refresh_token {REFRESH}"}}, status=503))
    with pytest.raises(ServerError) as info:
        posit_credentials()()
    no_secret_in(str(info.value))
    assert len(login.requests) == 1  # no sign-in because the server failed
    assert cache_file().exists()


def test_a_corrupt_cache_file_means_a_new_sign_in(login: FakeServer, sleeps: list[float]) -> None:
    path = write_cache()
    path.write_text("{not json")
    login.enqueue(device(), token())
    assert posit_credentials()() == {"Authorization": f"Bearer {ACCESS}"}
    assert json.loads(path.read_text())["access_token"] == ACCESS


def test_reset_forgets_the_sign_in(login: FakeServer, sleeps: list[float]) -> None:
    creds = posit_credentials()
    write_cache()
    assert creds() == {"Authorization": f"Bearer {ACCESS}"}
    posit_oauth_reset()
    assert not cache_file().exists()
    posit_oauth_reset()  # nothing to forget: no error
    login.enqueue(device(), token(NEW_ACCESS))
    assert creds() == {"Authorization": f"Bearer {NEW_ACCESS}"}


def test_available_never_signs_in(login: FakeServer) -> None:
    creds = posit_credentials()
    assert creds.available() is False
    write_cache(expires_at=time.time() + 3600)
    assert creds.available() is True
    write_cache(expires_at=time.time() - 5, refresh_token=REFRESH)
    assert creds.available() is True
    write_cache(expires_at=time.time() - 5)
    assert creds.available() is False
    assert login.requests == []


def test_has_credentials_by_name_is_the_cached_sign_in(login: FakeServer) -> None:
    from ellmer_py import has_credentials

    assert has_credentials("posit") is False  # no key variable, but no sign-in either
    write_cache(expires_at=time.time() + 3600)
    assert has_credentials("posit") is True
    assert has_credentials("ollama") is True and has_credentials("lmstudio") is True  # keyless
    assert login.requests == []


def test_no_token_in_repr_or_pickle(login: FakeServer, sleeps: list[float]) -> None:
    login.enqueue(device(), token())
    creds = posit_credentials()
    creds()
    no_secret_in(repr(creds))
    dumped = pickle.dumps(creds)
    for secret in SECRETS:
        assert secret.encode() not in dumped
